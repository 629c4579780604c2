"""Letters in several languages: which text a reader is shown, what a signer read, and adding a
translation.

A translation belongs to one version of the letter. When the text changes (a new version), the
translations of the older version stay as they were, shown to organisers as out of date, and
readers get the original until a translation of the new version is added.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from .models import (
    AuditEvent,
    Letter,
    LetterTranslation,
    LetterVersion,
    Signature,
    render_markdown,
    text_hash,
)


class TranslationError(Exception):
    """Refused, with a message for the organiser."""


@dataclass(frozen=True)
class Text:
    """A version's text in one language, as a reader is shown it and as the log commits to it."""

    language: str
    title: str
    addressee: str
    body: str
    hash: str
    is_original: bool

    @property
    def html(self) -> str:
        return render_markdown(self.body)

    @property
    def name(self) -> str:
        return language_name(self.language)


def language_name(code: str) -> str:
    return dict(settings.LANGUAGES).get(code, code)


def latest_version(letter: Letter) -> LetterVersion | None:
    return letter.versions.order_by("-number").first()


def _newest_by_language(rows) -> dict[str, LetterTranslation]:
    newest: dict[str, LetterTranslation] = {}
    for row in rows:  # newest first: the first row of a language is its current text
        newest.setdefault(row.language, row)
    return newest


def current_translations(letter: Letter, version: LetterVersion | None) -> dict:
    """The newest translation of `version` into each language but the original (one query)."""
    if version is None:
        return {}
    rows = LetterTranslation.objects.filter(version=version).order_by("-id")
    newest = _newest_by_language(rows)
    newest.pop(letter.original_language, None)
    return newest


def original_text(letter: Letter, version: LetterVersion | None) -> Text:
    title, body = (version.title, version.body) if version else (letter.title, letter.body)
    return Text(
        language=letter.original_language,
        title=title,
        addressee=letter.addressee,
        body=body,
        hash=text_hash(title, body),
        is_original=True,
    )


def translated_text(row: LetterTranslation) -> Text:
    return Text(
        language=row.language,
        title=row.title,
        addressee=row.addressee,
        body=row.body,
        hash=row.text_hash,
        is_original=False,
    )


def texts(letter: Letter, version: LetterVersion | None = None) -> dict[str, Text]:
    """Every language the letter's latest version (or `version`) can be read in, original
    first, then the current translations in the order of settings.LANGUAGES."""
    version = version if version is not None else latest_version(letter)
    found = {letter.original_language: original_text(letter, version)}
    rows = current_translations(letter, version)
    for code, _name in settings.LANGUAGES:
        if code in rows:
            found[code] = translated_text(rows[code])
    return found


def signed_text(letter: Letter, version: LetterVersion | None, language: str) -> Text:
    """The text a signer who read the letter in `language` signed: its translation of
    `version`, or the original when there is none (the form offers no other language)."""
    if language and language != letter.original_language and version is not None:
        row = (
            LetterTranslation.objects.filter(version=version, language=language)
            .order_by("-id")
            .first()
        )
        if row is not None:
            return translated_text(row)
    return original_text(letter, version)


def offered_languages(letter: Letter) -> list[tuple[str, str]]:
    """The languages other than the original that the letter has ever been offered in (a
    translation of any version: its signers keep the language they read), as (code, name) in
    the order of settings.LANGUAGES. One query."""
    found = set(
        LetterTranslation.objects.filter(version__letter=letter)
        .values_list("language", flat=True)
        .distinct()
    )
    return [
        (code, name)
        for code, name in settings.LANGUAGES
        if code in found and code != letter.original_language
    ]


def counts_by_text(letter: Letter, version_ids: list[int]) -> dict[int, list[dict]]:
    """For each of these versions, how many counted signatures were given on each text of it:
    the language read and the text's hash, as the signatures' log entries commit to it (blank
    for signatures made before the log recorded the text). One grouped query; nothing about
    any one signer. Each version's rows: the original first, then as settings.LANGUAGES."""
    rows = (
        Signature.objects.counted()
        .filter(letter=letter, version_id__in=version_ids)
        .values_list("version_id", "language", "text_hash")
        .annotate(count=Count("id"))
        .order_by()
    )
    order = {code: n for n, (code, _name) in enumerate(settings.LANGUAGES)}
    found: dict[int, list[dict]] = {}
    for version_id, language, hashed, count in rows:
        found.setdefault(version_id, []).append(
            {
                "language": language,
                "name": language_name(language),
                "is_original": language == letter.original_language,
                "hash": hashed,
                "count": count,
            }
        )
    for texts_of_version in found.values():
        texts_of_version.sort(
            key=lambda r: (
                not r["is_original"],
                order.get(r["language"], len(order)),
                not r["hash"],  # texts not recorded last
                r["hash"],
            )
        )
    return found


def translation_read(signature: Signature) -> LetterTranslation | None:
    """The translation a signer read, found by the hash their signature holds; None when they
    read the original (no query then)."""
    letter = signature.letter
    if not signature.text_hash or signature.language == letter.original_language:
        return None
    return (
        LetterTranslation.objects.filter(
            version_id=signature.version_id,
            language=signature.language,
            text_hash=signature.text_hash,
        )
        .order_by("-id")
        .first()
    )


def workspace_rows(letter: Letter) -> list[dict]:
    """For the organiser: every other language, its newest translation (of whichever
    version) and whether it is out of date (not of the latest version)."""
    latest = latest_version(letter)
    rows = (
        LetterTranslation.objects.filter(version__letter=letter)
        .select_related("version")
        .order_by("-id")
    )
    newest = _newest_by_language(rows)
    return [
        {
            "code": code,
            "name": name,
            "translation": newest.get(code),
            "out_of_date": code in newest
            and (latest is None or newest[code].version_id != latest.pk),
        }
        for code, name in settings.LANGUAGES
        if code != letter.original_language
    ]


@transaction.atomic
def add_translation(
    *, letter_id: int, actor, language: str, title: str, addressee: str, body: str
) -> LetterTranslation:
    """Add (or correct: a new row) the translation of the letter's latest version."""
    letter = Letter.objects.select_for_update().get(pk=letter_id)
    if language not in dict(settings.LANGUAGES):
        raise TranslationError(gettext("Choose one of the languages offered."))
    if language == letter.original_language:
        raise TranslationError(gettext("This is the letter's original language."))
    version = latest_version(letter)
    if version is None:
        raise TranslationError(gettext("Publish the letter first: a translation is of a version."))
    row = LetterTranslation.objects.create(
        version=version,
        language=language,
        title=title,
        addressee=addressee,
        body=body,
        text_hash=text_hash(title, body),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    letter.translations_changed_at = timezone.now()
    letter.save(update_fields=["translations_changed_at"])
    AuditEvent.objects.create(
        letter=letter,
        actor=row.created_by,
        action=AuditEvent.Action.TRANSLATE,
        target=f"{language}, version {version.number}",
    )
    return row


@transaction.atomic
def set_original_language(*, letter_id: int, actor, language: str) -> bool:
    """Say which language the letter is written in. True if it changed."""
    if language not in dict(settings.LANGUAGES):
        raise TranslationError(gettext("Choose one of the languages offered."))
    letter = Letter.objects.select_for_update().get(pk=letter_id)
    if language == letter.original_language:
        return False
    letter.original_language = language
    letter.translations_changed_at = timezone.now()
    letter.save(update_fields=["original_language", "translations_changed_at"])
    return True
