"""The reading pages under load: the letter page, the versions page at its worst, the tally page
and the live counts it polls.

The app's modules are imported inside the functions that use them: Django is set up only once
the run's environment is known (run.py), and a model cannot be imported before.
"""

import time
import urllib.request

from django.urls import reverse

from benchmarks.constants import SLUG
from benchmarks.harness.bench import Bench
from benchmarks.registry import phase


@phase(
    targets={"letter_page_per_s": (">=", 1200), "letter_page_p99_ms_at_300": ("<=", 30)},
    floors={
        "letter_page_per_s": "floor_constant_per_s",
        "letter_page_p99_ms_at_300": "floor_constant_p99_ms_at_300",
    },
    doc={
        "letter_page_per_s": "GETs/s of the letter page (1M signatures), wrk saturated",
        "letter_page_p99_ms_at_300": "p99 of the letter page at a steady 300/s",
    },
)
def letter_page(b: Bench) -> dict:
    path = f"/letters/{SLUG}/"
    sat = b.wrk(path, script="get.lua")
    _, steady = b.steady(b.get_request(path), rate=300)
    b.details["letter_page"] = {"saturated": sat, "steady_300": steady}
    return {"letter_page_per_s": sat["per_s"], "letter_page_p99_ms_at_300": steady["p99_ms"]}


def hostile_versions(b: Bench) -> str:
    """A letter of five versions, each the largest text the form allows and the worst for the
    versions page: lines all alike (the diff), shifted by one between versions, and as many
    square brackets as allowed (Markdown's link matching). Returns its slug."""
    from petition import services
    from petition.forms.organiser import MAX_LETTER_BRACKETS, MAX_LETTER_LENGTH
    from petition.models import Letter

    def text(shift: str) -> str:
        brackets = "[a " * MAX_LETTER_BRACKETS
        return (brackets + (shift + "a\n\n") * MAX_LETTER_LENGTH)[:MAX_LETTER_LENGTH]

    letter = Letter.objects.create(
        slug="versions-worst",
        title="Versions",
        addressee="A",
        body=text(""),
        created_by_id=b.organiser_id,
    )
    services.publish(letter_id=letter.pk)
    for n in range(1, 5):
        services.edit_letter(
            letter_id=letter.pk, actor=None, title="Versions", addressee="A", body=text("\n" * n)
        )
    return letter.slug


@phase(
    targets={"versions_page_cold_ms": ("<=", 2000)},
    doc={
        "versions_page_cold_ms": "the versions page, 5 worst-case 20,000-character versions, "
        "first request (3 shown: each rendered and diffed, then cached)",
        "versions_page_per_s": "GETs/s of that page once its diffs are cached, wrk saturated",
    },
)
def versions_page(b: Bench) -> dict:
    path = f"/letters/{hostile_versions(b)}/versions/"
    started = time.monotonic()
    with urllib.request.urlopen(b.base + path, timeout=120) as response:  # noqa: S310
        response.read()
    cold_ms = (time.monotonic() - started) * 1000
    sat = b.wrk(path, script="get.lua", seconds=5)
    b.details["versions_page"] = {"cold_ms": cold_ms, "saturated": sat}
    return {"versions_page_cold_ms": round(cold_ms, 1), "versions_page_per_s": sat["per_s"]}


@phase(
    targets={"tally_per_s": (">=", 1200), "tally_p99_ms_at_300": ("<=", 30)},
    floors={
        "tally_per_s": "floor_constant_per_s",
        "tally_p99_ms_at_300": "floor_constant_p99_ms_at_300",
        "tally_counts_per_s": "floor_constant_per_s",
    },
    doc={
        "tally_per_s": "GETs/s of the tally page (1M signatures), wrk saturated",
        "tally_p99_ms_at_300": "p99 of the tally page at a steady 300/s",
        "tally_counts_per_s": "GETs/s of the live counts endpoint, wrk saturated",
    },
)
def tally(b: Bench) -> dict:
    page = reverse("tally", kwargs={"slug": SLUG})
    # The cheap read API endpoint the page's live script polls.
    counts = reverse("api_counts", kwargs={"slug": SLUG})
    sat = b.wrk(page, script="get.lua")
    _, steady = b.steady(b.get_request(page), rate=300)
    b.details["tally"] = {"path": page, "saturated": sat, "steady_300": steady}
    counts_sat = b.wrk(counts, script="get.lua")
    b.details["tally_counts"] = {"path": counts, "saturated": counts_sat}
    return {
        "tally_per_s": sat["per_s"],
        "tally_p99_ms_at_300": steady["p99_ms"],
        "tally_counts_per_s": counts_sat["per_s"],
    }
