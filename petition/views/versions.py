"""The history of a letter's text: each version, how many signed it (and on which text: the
language read and the hash the log commits to), its translations, and what changed from the one
before, as a word diff of the rendered text or a line diff of the Markdown.

Versions never change, so a version's HTML and the diff of a pair are computed once and cached
for good."""

import time

from django.core.cache import cache
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.translation import gettext

from lib import params
from lib.linediff import changes as _compute_diff

from .. import translations
from ..models import LetterTranslation, LetterVersion, Tally, render_markdown
from ..worddiff import MARK
from ..worddiff import changes as _compute_word_diff
from .common import public_letter

# Rendering the largest, worst text allowed costs about 0.4 s of CPU (Markdown); a page renders
# at most this many once, and every later reader gets them from the cache.
VERSIONS_PER_PAGE = 3
# The counts per text are counted from the signatures (one grouped query), so they are kept in
# the cache with the log's size, and counted again when the log has grown: at once, unless the
# count is slow (a letter with very many signatures), when it is counted again at most once a
# minute however many read the page while signatures keep coming.
SLOW_COUNT_SECONDS = 0.1
COUNTS_STALE_SECONDS = 60


def _diff(before: LetterVersion, after: LetterVersion) -> list[tuple[str, str]]:
    """What changed from one version to the next, computed once per pair: versions never change,
    so the pair's ids are the key for good (the cache fails soft: down, it is a miss)."""
    key = f"versions-diff:{before.pk}:{after.pk}"
    found = cache.get(key)
    if found is None:
        old = [f"# {before.title}", "", *before.body.splitlines()]
        new = [f"# {after.title}", "", *after.body.splitlines()]
        found = _compute_diff(old, new)
        cache.set(key, found, timeout=None)
    return found


def _word_diff(before: LetterVersion, after: LetterVersion) -> str:
    """The newer version's text with the words added and removed since the older marked,
    computed once per pair like _diff; the screen-reader words are added per request, in the
    reader's language."""
    key = f"versions-worddiff:{before.pk}:{after.pk}"
    found = cache.get(key)
    if found is None:
        old, new = _titled_html(before), _titled_html(after)
        found = "" if old == new else _compute_word_diff(old, new)
        cache.set(key, found, timeout=None)
    for tag, words in (("ins", gettext("added: ")), ("del", gettext("removed: "))):
        spoken = format_html(
            '<{} class="{}"><span class="visually-hidden">{}</span>', tag, MARK, words
        )
        found = found.replace(f'<{tag} class="{MARK}">', spoken)
    return found


def _titled_html(version: LetterVersion) -> str:
    return format_html("<h3>{}</h3>", version.title) + _version_html(version)


def _version_html(version: LetterVersion) -> str:
    """A version's text as HTML, rendered once for all processes: versions never change."""
    key = f"versions-html:{version.pk}"
    html = cache.get(key)
    if html is None:
        html = render_markdown(version.body)
        cache.set(key, html, timeout=None)
    return html


def _counts_by_text(letter, versions: list[LetterVersion]) -> dict[int, list[dict]]:
    """translations.counts_by_text for these versions, from the cache when the log has not
    grown since (every change to a count appends an entry), or when counting is slow and was
    done a moment ago."""
    ids = [version.pk for version in versions]
    key = f"versions-counts:{letter.pk}:{','.join(map(str, ids))}"
    size = Tally.objects.filter(letter=letter).values_list("log_size", flat=True).first() or 0
    start = time.monotonic()
    found = cache.get(key)
    if found is not None and (
        found["size"] == size
        or (found["took"] > SLOW_COUNT_SECONDS and time.time() - found["at"] < COUNTS_STALE_SECONDS)
    ):
        return found["counts"]
    counts = translations.counts_by_text(letter, ids)
    took = time.monotonic() - start
    entry = {"size": size, "at": time.time(), "took": took, "counts": counts}
    cache.set(key, entry, timeout=24 * 3600)
    return counts


def letter_versions(request, slug: str):
    """The history of a letter's text, newest first, a few versions a page: each version, how
    many signed it, and what changed from the one before."""
    letter = public_letter(slug)
    newest = letter.versions.order_by("-number")
    total = newest.count()
    pages = max(1, -(-total // VERSIONS_PER_PAGE))
    number = params.page(request.GET.get("page"), last=pages)
    start = (number - 1) * VERSIONS_PER_PAGE
    # One more than shown: the oldest shown needs the version before it for its diff.
    versions = list(newest[start : start + VERSIONS_PER_PAGE + 1])
    # The word diff of the rendered text by default; the line diff of the Markdown on request.
    view = "lines" if request.GET.get("view") == "lines" else "words"
    compare = _diff if view == "lines" else _word_diff
    # Each language's history: every translation of each version shown, newest first.
    translated: dict[int, list] = {}
    for row in LetterTranslation.objects.filter(version__in=versions).order_by("-id"):
        row.language_name = translations.language_name(row.language)
        translated.setdefault(row.version_id, []).append(row)
    shown = versions[:VERSIONS_PER_PAGE]
    counts = _counts_by_text(letter, shown)
    history = [
        {
            "version": version,
            "counts": counts.get(version.pk, []),
            "html": _version_html(version),
            "changes": compare(versions[n + 1], version) if n + 1 < len(versions) else None,
            "translations": translated.get(version.pk, []),
        }
        for n, version in enumerate(shown)
    ]
    return render(
        request,
        "petition/versions.html",
        {
            "letter": letter,
            "history": history,
            "page": number,
            "pages": pages,
            "current": total,
            "original_language_name": translations.language_name(letter.original_language),
            "view": view,
        },
    )
