"""A letter's tally page (the count, progress, chart, breakdown and latest signers) and the
widget organisers embed in other sites. Both read the tally rows only: a fixed number of queries
whatever the number of signatures."""

from django.conf import settings
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override

from lib import charts

from .. import pagecache
from ..models import Letter, Organiser
from . import public_reads
from .common import tally_of

LATEST_SIGNERS = 10
LATEST_COSIGNERS = 20
# The widget is made to be framed by any site; every other page stays unframeable.
WIDGET_CSP = {**settings.SECURE_CSP, "frame-ancestors": ["*"]}


def _listed_letter_with_tally(slug: str) -> Letter:
    return get_object_or_404(Letter.objects.listed().select_related("tally"), slug=slug)


def tally(request, slug: str):
    """The count, progress, chart, breakdown and latest signers. A fixed number of queries
    whatever the number of signatures: everything is read from the tally rows."""
    letter = pagecache.listed_letter(slug)
    # The chart runs to today while the letter is open: a new day is a new page.
    end = timezone.now().date() if letter.is_open else (letter.closed_at or timezone.now()).date()
    if pagecache.servable(request):
        return pagecache.serve(
            request,
            f"tally:{letter.pk}:{end}:{letter.page_state}",
            lambda csrf_token: _render_tally(request, letter, end, csrf_token=csrf_token),
        )
    return pagecache.private(_render_tally(request, letter, end))


def _render_tally(request, letter: Letter, end, **extra):
    counts = public_reads.counts(letter)
    days = list(letter.daily_tallies.values_list("day", "change"))
    is_organiser = (
        request.user.is_authenticated
        and Organiser.objects.filter(letter=letter, user=request.user).exists()
    )
    context = {
        "letter": letter,
        "counts": counts,
        "tally": counts["counts"],
        "percent": _percent(counts["counts"]["verified"], letter.goal),
        "chart": charts.signatures_svg(days, end=end),
        "days": _day_rows(days),
        "latest": [
            public_reads.signature_entry(s)
            for s in public_reads.listed_signatures(letter)[:LATEST_SIGNERS]
        ],
        "cosigners": list(
            public_reads.listed_cosignatures(letter).values_list("display_name", flat=True)[
                :LATEST_COSIGNERS
            ]
        ),
        "is_organiser": is_organiser,
        "embed_code": format_html(
            '<iframe src="{}" title="{}" width="320" height="180" loading="lazy"></iframe>',
            settings.SITE_URL + reverse("widget", kwargs={"slug": letter.slug}),
            f"Signatures: {letter.title}",
        ),
        "counts_url": reverse("api_counts", kwargs={"slug": letter.slug}),
        "share_url": settings.SITE_URL + reverse("tally", kwargs={"slug": letter.slug}),
        **extra,
    }
    return render(request, "petition/tally.html", context)


def _day_rows(days: list) -> list[dict]:
    """The chart's numbers as a table, newest day first."""
    changes = dict(days)
    rows = [
        {"day": day, "change": changes[day], "total": total}
        for day, total in charts.cumulative(days)
    ]
    return rows[::-1]


def _percent(verified: int, goal: int | None) -> int | None:
    return verified * 100 // goal if goal else None


@xframe_options_exempt
@csp_override(WIDGET_CSP)
def widget(request, slug: str):
    """The count and the goal, for organisers to embed in other sites with an iframe."""
    letter = _listed_letter_with_tally(slug)
    verified = tally_of(letter).verified
    context = {
        "letter": letter,
        "verified": verified,
        "percent": _percent(verified, letter.goal),
        "letter_url": settings.SITE_URL + letter.get_absolute_url(),
        "counts_url": reverse("api_counts", kwargs={"slug": letter.slug}),
    }
    return render(request, "petition/widget.html", context)
