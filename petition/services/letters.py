"""A letter's life in the organisers' workspace: created as a draft, edited (a published one
keeps each text it was signed under as a version), its settings, published, closed (by hand or
at its deadline) and reopened."""

import secrets

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from petition.models import SETTINGS_FIELDS, AuditEvent, Letter, Organiser

from .audit import audit
from .counting import ensure_tally


class WorkspaceError(Exception):
    """An organiser action that cannot be done; the message is meant for the organiser."""


# Words the workspace's URLs use after /manage/: no letter may be called that.
RESERVED_SLUGS = {"new", "invites"}


@transaction.atomic
def create_letter(*, user, title: str, addressee: str, body: str) -> Letter:
    """A new draft; its creator becomes its owner."""
    base = slugify(title)[:70].strip("-") or "letter"
    if base in RESERVED_SLUGS:
        base += "-letter"
    slug = base
    for attempt in range(2, 100):
        try:
            with transaction.atomic():
                letter = Letter.objects.create(
                    slug=slug, title=title, addressee=addressee, body=body, created_by=user
                )
            break
        except IntegrityError:
            slug = f"{base}-{attempt}" if attempt < 10 else f"{base}-{secrets.token_hex(3)}"
    else:  # pragma: no cover - a hundred clashes in a row
        raise WorkspaceError("Could not find a free address for this letter; change the title.")
    ensure_tally(letter.pk)
    Organiser.objects.create(letter=letter, user=user, role=Organiser.Role.OWNER)
    audit(letter.pk, user, AuditEvent.Action.CREATE)
    return letter


@transaction.atomic
def edit_letter(*, letter_id: int, actor, title: str, addressee: str, body: str) -> bool:
    """Change a letter's text. Once published, a changed title or body becomes a new version,
    and what earlier signers signed stays as it was. True if a new version was made."""
    letter = Letter.objects.select_for_update().get(pk=letter_id)
    text_changed = (title, body) != (letter.title, letter.body)
    if not text_changed and addressee == letter.addressee:
        return False
    letter.title, letter.addressee, letter.body = title, addressee, body
    letter.save(update_fields=["title", "addressee", "body"])
    last = letter.versions.aggregate(last=Max("number"))["last"]
    if last is None or not text_changed:
        audit(letter.pk, actor, AuditEvent.Action.EDIT)
        return False
    letter.versions.create(number=last + 1, title=title, body=body)
    audit(letter.pk, actor, AuditEvent.Action.NEW_VERSION, target=f"version {last + 1}")
    return True


@transaction.atomic
def change_settings(*, letter_id: int, actor, **fields) -> list[str]:
    """Change a letter's settings; returns the names of the fields that changed."""
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"not a letter setting: {', '.join(sorted(unknown))}")
    letter = Letter.objects.select_for_update().get(pk=letter_id)
    changed = [name for name, value in fields.items() if getattr(letter, name) != value]
    if changed:
        for name in changed:
            setattr(letter, name, fields[name])
        letter.save(update_fields=changed)
        audit(letter.pk, actor, AuditEvent.Action.SETTINGS, target=", ".join(changed))
    return changed


@transaction.atomic
def publish(*, letter_id: int, actor=None) -> Letter:
    """Open a draft (or reopen a closed letter); the first publication freezes version 1."""
    letter = Letter.objects.select_for_update().get(pk=letter_id)
    previous = letter.status
    ensure_tally(letter.pk)
    Organiser.objects.get_or_create(
        letter=letter, user_id=letter.created_by_id, defaults={"role": Organiser.Role.OWNER}
    )
    if not letter.versions.exists():
        letter.versions.create(number=1, title=letter.title, body=letter.body)
    letter.status = Letter.Status.OPEN
    letter.published_at = letter.published_at or timezone.now()
    letter.closed_at = None
    letter.save(update_fields=["status", "published_at", "closed_at"])
    if previous != Letter.Status.OPEN:
        reopened = previous == Letter.Status.CLOSED
        action = AuditEvent.Action.REOPEN if reopened else AuditEvent.Action.PUBLISH
        audit(letter.pk, actor, action)
    return letter


@transaction.atomic
def close(*, letter_id: int, actor=None, reason: str = "") -> bool:
    """Close an open letter. False if it was not open."""
    closed = Letter.objects.filter(pk=letter_id, status=Letter.Status.OPEN).update(
        status=Letter.Status.CLOSED, closed_at=timezone.now()
    )
    if closed:
        audit(letter_id, actor, AuditEvent.Action.CLOSE, reason=reason)
    return bool(closed)


def reopen(*, letter_id: int, actor=None) -> Letter:
    """Open a closed letter again (publish does it); refused while its deadline has passed."""
    letter = Letter.objects.get(pk=letter_id)
    if letter.status != Letter.Status.CLOSED:
        raise WorkspaceError("Only a closed letter can be reopened.")
    if letter.deadline is not None and letter.deadline <= timezone.now():
        raise WorkspaceError("The deadline has passed: move or clear it in the settings first.")
    return publish(letter_id=letter_id, actor=actor)


def close_letters_past_deadline() -> int:
    """Close every open letter whose deadline has passed; returns how many were closed."""
    due = Letter.objects.open().filter(deadline__lte=timezone.now()).values_list("pk", flat=True)
    return sum(close(letter_id=pk, reason="deadline reached") for pk in list(due))
