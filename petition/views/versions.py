"""The history of a letter's text: each version, how many signed it, its translations, and what
changed from the one before, as a word diff of the rendered text or a line diff of the Markdown.

Versions never change, so a version's HTML and the diff of a pair are computed once and cached
for good."""

from django.core.cache import cache
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.translation import gettext

from lib import params
from lib.linediff import changes as _compute_diff

from .. import translations
from ..models import LetterTranslation, LetterVersion, render_markdown
from ..worddiff import MARK
from ..worddiff import changes as _compute_word_diff
from .common import public_letter

# Rendering the largest, worst text allowed costs about 0.4 s of CPU (Markdown); a page renders
# at most this many once, and every later reader gets them from the cache.
VERSIONS_PER_PAGE = 3


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
    history = [
        {
            "version": version,
            "html": _version_html(version),
            "changes": compare(versions[n + 1], version) if n + 1 < len(versions) else None,
            "translations": translated.get(version.pk, []),
        }
        for n, version in enumerate(versions[:VERSIONS_PER_PAGE])
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
