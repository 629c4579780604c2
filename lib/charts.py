"""Signatures over time, drawn on the server as SVG: readable without JavaScript, and allowed by
a CSP that forbids inline styles (only presentation attributes, never `style=`)."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import ngettext

WIDTH, HEIGHT = 640, 240
FONT = 15
# Room for the axis labels: right, top, bottom (the left margin fits the highest count).
RIGHT, TOP, BOTTOM = 16, 16, 34


def cumulative(days: list[tuple[date, int]]) -> list[tuple[date, int]]:
    """Running totals at the end of each day, from the net change per day (DailyTally)."""
    total = 0
    points = []
    for day, change in sorted(days):
        total += change
        points.append((day, total))
    return points


def _fmt(number: int) -> str:
    return f"{number:,}"


def _fmt_day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def signatures_svg(
    days: list[tuple[date, int]], *, end: date | None = None, id_prefix: str = "chart"
) -> SafeString:
    """A cumulative line of verified signatures, one point per day with a change.

    `days` is (day, net change) as DailyTally keeps it; `end` extends the line flat to that day
    (today, for an open letter). The line starts at zero the day before the first signature.
    """
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    points = cumulative(days)
    title = "Verified signatures over time"
    if not points:
        return _svg(
            title_id,
            desc_id,
            title,
            "No verified signatures yet.",
            f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" fill="#5a5a66" '
            'font-size="16">No signatures yet</text>',
        )
    first = points[0][0]
    points = _from_zero(points, end)
    scale = _Scale.fit(points)
    description = _description(points, first, scale.peak)
    return _svg(title_id, desc_id, title, description, _drawing(points, scale))


def _from_zero(points: list[tuple[date, int]], end: date | None) -> list[tuple[date, int]]:
    """The running totals, from zero the day before the first and extended flat to `end` when
    that is later than the last."""
    if end is not None and end > points[-1][0]:
        points = [*points, (end, points[-1][1])]
    return [(points[0][0] - timedelta(days=1), 0), *points]


@dataclass(frozen=True)
class _Scale:
    """Where a day (x) and a count (y) fall in the SVG: the days from `start` over `span`, the
    counts from zero to `peak`, right of a margin of `left` that fits the highest count."""

    start: date
    span: int
    peak: int
    left: int

    @classmethod
    def fit(cls, points: list[tuple[date, int]]) -> "_Scale":
        start, last = points[0][0], points[-1][0]
        peak = max(max(value for _, value in points), 1)
        left = 16 + FONT * 6 // 10 * len(_fmt(peak))  # digits are about 0.6em wide
        return cls(start=start, span=max((last - start).days, 1), peak=peak, left=left)

    def x(self, day: date) -> float:
        plot_w = WIDTH - self.left - RIGHT
        return round(self.left + plot_w * (day - self.start).days / self.span, 1)

    def y(self, value: int) -> float:
        plot_h = HEIGHT - TOP - BOTTOM
        return round(TOP + plot_h * (1 - max(value, 0) / self.peak), 1)


def _description(points: list[tuple[date, int]], first: date, peak: int) -> str:
    """The chart in one sentence, for those who do not see it."""
    last, now = points[-1]
    return ngettext(
        "%(count)s verified signature on %(last)s, from the first on %(first)s; the highest "
        "count was %(peak)s.",
        "%(count)s verified signatures on %(last)s, from the first on %(first)s; the highest "
        "count was %(peak)s.",
        now,
    ) % {"count": _fmt(now), "last": _fmt_day(last), "first": _fmt_day(first), "peak": _fmt(peak)}


def _drawing(points: list[tuple[date, int]], scale: _Scale) -> str:
    """The axes, their labels, and the line of the count with the area under it."""
    x, y, left, peak = scale.x, scale.y, scale.left, scale.peak
    start, (last, now) = scale.start, points[-1]
    line = " ".join(f"{x(day)},{y(value)}" for day, value in points)
    area = f"{x(start)},{y(0)} {line} {x(last)},{y(0)}"
    body = [
        # Grid and axes.
        f'<line x1="{left}" y1="{y(0)}" x2="{WIDTH - RIGHT}" y2="{y(0)}" stroke="#5a5a66"/>',
        f'<line x1="{left}" y1="{y(peak)}" x2="{WIDTH - RIGHT}" y2="{y(peak)}" '
        'stroke="#dddbd3" stroke-dasharray="4 4"/>',
        f'<text x="{left - 8}" y="{y(0) + 5}" text-anchor="end" font-size="{FONT}" '
        'fill="#5a5a66">0</text>',
        f'<text x="{left - 8}" y="{y(peak) + 5}" text-anchor="end" font-size="{FONT}" '
        f'fill="#5a5a66">{_fmt(peak)}</text>',
        f'<text x="{left}" y="{HEIGHT - 8}" font-size="{FONT}" fill="#5a5a66">'
        f"{escape(_fmt_day(start))}</text>",
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 8}" text-anchor="end" font-size="{FONT}" '
        f'fill="#5a5a66">{escape(_fmt_day(last))}</text>',
        # The count itself.
        f'<polygon points="{area}" fill="#0b5cad" fill-opacity="0.12"/>',
        f'<polyline points="{line}" fill="none" stroke="#0b5cad" stroke-width="2.5" '
        'stroke-linejoin="round"/>',
        f'<circle cx="{x(last)}" cy="{y(now)}" r="4" fill="#0b5cad"/>',
    ]
    return "".join(body)


def _svg(title_id: str, desc_id: str, title: str, description: str, body: str) -> SafeString:
    # Every piece of text in `body` is escaped or made of numbers by the callers above.
    return mark_safe(  # noqa: S308
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}">'
        f'<title id="{escape(title_id)}">{escape(title)}</title>'
        f'<desc id="{escape(desc_id)}">{escape(description)}</desc>'
        f"{body}</svg>"
    )
