"""Writes with side effects. Each runs in one transaction; mails are queued on commit."""

import calendar
import functools
import logging
import uuid
from datetime import timedelta
from types import EllipsisType

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Membership, Organisation
from lib.addresses import email_hash, email_hashes, legacy_email_hash, normalise_email

from . import emails, pagecache, tasks, tlog, tokens, translations
from .models import (
    LEVEL_ORDER,
    SETTINGS_FIELDS,
    CoSignature,
    DailyTally,
    DomainTally,
    Letter,
    LetterVersion,
    Level,
    Mail,
    Organiser,
    PendingIdentity,
    Signature,
    Tally,
    reading_key,
)

logger = logging.getLogger(__name__)


class SigningClosed(Exception):
    """The letter is a draft or closed."""


def _active_signature(letter: Letter, email: str) -> Signature | None:
    return (
        Signature.objects.active()
        .filter(letter=letter, email_hash__in=email_hashes(email))
        .select_related("letter")
        .first()
    )


def ensure_tally(letter_id: int) -> None:
    Tally.objects.get_or_create(letter_id=letter_id)


def _count_and_log(
    signature: Signature, delta: int, kind: str, *, supersede_from: str | None = None, **extra
) -> int:
    """Move the counts by delta for a signature entering (+1) or leaving (-1) the count, and
    append the change to the letter's public log; returns the entry's index. `supersede_from`:
    log it as the old entries' withdrawal and a new signature instead (see _supersede).

    The letter's tally, today's count and the text version's count are rows every change to the
    letter locks until COMMIT: they move in one statement with the log's index (tlog.allocate),
    and the milestone check usually reads nothing, so few round trips hold them."""
    letter_id = signature.letter_id
    counts = {"verified": delta, signature.visibility: delta}
    if signature.is_verified_employee:
        counts["employees"] = delta
    also = [_add_statement(DailyTally, (letter_id, timezone.now().date(), delta))]
    if signature.version_id:
        also.append(
            (
                f"UPDATE {LetterVersion._meta.db_table} "  # noqa: S608 - fixed names
                "SET signature_count = signature_count + %s WHERE id = %s",
                [delta, signature.version_id],
            )
        )
    if signature.is_verified_employee:
        also.append(_add_statement(DomainTally, (letter_id, signature.employer_domain, delta)))
    index, verified = tlog.allocate(letter_id, counts=counts, also=also)
    if delta > 0:
        _note_milestones(signature.letter, verified)  # issue 5: organisers hear of milestones
    if supersede_from is not None:
        return _supersede(signature, old_level=supersede_from, index=index)
    return _log(signature, kind, index=index, **extra)


def _add_statement(model, row: tuple) -> tuple[str, list]:
    """INSERT ... ON CONFLICT DO UPDATE adding to a (letter, key) counter (DailyTally's day,
    DomainTally's domain), creating the row if need be. PostgreSQL and SQLite both speak it."""
    table = model._meta.db_table
    key = "day" if model is DailyTally else "domain"
    value = "change" if model is DailyTally else "count"
    return (
        f"INSERT INTO {table} (letter_id, {key}, {value}) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT (letter_id, {key}) DO UPDATE SET {value} = {table}.{value} + %s",
        [*row, row[-1]],
    )


def _queue_verification(signature: Signature) -> None:
    """Queue a verification mail unless one went out in the last few minutes (race-safe)."""
    now = timezone.now()
    recent = now - timedelta(seconds=settings.MAIL_RESEND_INTERVAL)
    claimed = Signature.objects.filter(
        Q(mail_requested_at__isnull=True) | Q(mail_requested_at__lt=recent),
        pk=signature.pk,
        status=Signature.Status.PENDING,
    ).update(mail_requested_at=now)
    if claimed:
        emails.verification(signature)


def sign(
    *,
    letter: Letter,
    name: str,
    email: str,
    visibility: str,
    affiliation: str = "",
    job_title: str = "",
    team: str = "",
    city: str = "",
    show_affiliation: bool = False,
    show_job_title: bool = False,
    show_team: bool = False,
    show_city: bool = False,
    wants_updates: bool = False,
    language: str = "",
    user=None,
) -> None:
    """Record a pending signature and mail its verification link. `language` is the language
    the signer read the letter in (the original when blank or not offered).

    Returns nothing on purpose: the caller must answer the same whether the address is new,
    pending or already verified. A repeated address gets a mail, never a second signature.

    The signature and its mail commit together (one transaction, no savepoint: a repeated
    address rolls it back whole and is answered in a transaction of its own).
    """
    if not letter.takes_signatures:
        raise SigningClosed
    email = normalise_email(email)
    hashed = email_hash(email)
    # A row made before canonical_email carries the old hash, which the constraint cannot see.
    legacy = legacy_email_hash(email)
    if (
        legacy != hashed
        and Signature.objects.active().filter(letter=letter, email_hash=legacy).exists()
    ):
        _answer_repeat(letter, email)
        return
    version = letter.versions.order_by("-number").first()
    text = translations.signed_text(letter, version, language)
    private = visibility == Level.PRIVATE
    try:
        _record_signature(
            letter=letter,
            version=version,
            language=text.language,
            text_hash=text.hash,
            # A pending private signer's name and address are kept apart, in PendingIdentity.
            pending_identity=(name.strip(), email) if private else None,
            name="" if private else name.strip(),
            email="" if private else email,
            email_hash=hashed,
            affiliation=affiliation.strip(),
            job_title=job_title.strip(),
            team=team.strip(),
            city=city.strip(),
            show_affiliation=show_affiliation,
            show_job_title=show_job_title,
            show_team=show_team,
            show_city=show_city,
            visibility=visibility,
            wants_updates=wants_updates,
            # A signed-in signer's account; never a private one's (see sign_as_user).
            user=None if visibility == Level.PRIVATE else user,
        )
    except IntegrityError:
        _answer_repeat(letter, email)


@transaction.atomic
def _record_signature(
    *, letter: Letter, pending_identity: tuple[str, str] | None, **fields
) -> None:
    signature = Signature.objects.create(
        letter=letter,
        # Its verification mail is queued below, in this transaction.
        mail_requested_at=timezone.now(),
        **fields,
    )
    if pending_identity is not None:
        name, email = pending_identity
        PendingIdentity.objects.create(signature=signature, name=name, email=email)
    signature.letter = letter
    emails.verification(signature)


@transaction.atomic
def _answer_repeat(letter: Letter, email: str) -> None:
    """An address that has an active signature submitted again: its link again (pending), or a
    mail saying it signed (verified), to the address as typed now, never on the page."""
    existing = _active_signature(letter, email)
    if existing is None:  # withdrawn in between: nothing to tell
        return
    if existing.status == Signature.Status.PENDING:
        _queue_verification(existing)
    else:
        emails.already_signed(existing, to=email)


@transaction.atomic
def resend(*, letter: Letter, email: str) -> None:
    """Mail the verification link again to a pending signer; silent for any other address."""
    signature = _active_signature(letter, email)
    if signature is not None and signature.status == Signature.Status.PENDING:
        _queue_verification(signature)


# No savepoint when called inside another transaction (verify_by_link, sign_as_user): nobody
# catches its errors there, and a savepoint is two more round trips.
@transaction.atomic(savepoint=False)
def verify(
    *, signature_id: int, confirmed_by: int | None | EllipsisType = ...
) -> tuple[Signature, dict | None]:
    """Confirm a pending signature. A second call changes nothing and returns no receipt.

    A private signature's name, email and account link are erased in this same transaction;
    the confirmation mail is handed the address before it goes. `confirmed_by` (a user id, or
    None for nobody signed in) is who followed the mailed link: the signature keeps the account
    it was started from only if that is the same account.
    """
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .get(pk=signature_id)
    )
    if signature.status != Signature.Status.PENDING:
        return signature, None
    if confirmed_by is not ... and signature.user_id not in (None, confirmed_by):
        signature.user = None
    letter = signature.letter
    address = signature.identity()[1]
    signature.status = Signature.Status.VERIFIED
    signature.verified_at = timezone.now()
    signature.employer_domain = letter.employer_domain_for(address)
    signature.is_verified_employee = bool(signature.employer_domain)
    if signature.is_verified_employee:
        signature.employee_verified_at = signature.verified_at
    _new_ref(signature)
    salt = bytes.fromhex(signature.log_salts[-1]["salt"])
    if signature.visibility == Level.PRIVATE:
        PendingIdentity.objects.filter(signature_id=signature.pk).delete()
        _erase_identity(signature)
    signature.save()
    # Everything that can be done before the letter's hot rows (its tally and log head, which
    # every verification of the letter locks until commit) is done first: the mail, and the
    # latest checkpoint the receipt carries (the new entry is in the next one anyway).
    mail = emails.confirmation(signature, to=address)
    checkpoint = tlog.signed_checkpoint(letter)

    def receipt_for(index: int) -> dict:
        return tlog.receipt(
            letter,
            index=index,
            salt=salt,
            ref=signature.log_ref,
            identifier=str(signature.public_id),
            checkpoint=checkpoint,
        )

    if checkpoint is None:
        # The letter's first entry: its receipt carries the checkpoint signed for it now.
        index = _count_and_log(signature, +1, "sign")
        receipt = receipt_for(index)
        with connection.cursor() as cursor:
            cursor.execute(*emails.receipt_statement(mail, receipt))
        return signature, receipt
    receipts = []

    def with_receipt(index: int) -> list:
        receipts.append(receipt_for(index))
        return [emails.receipt_statement(mail, receipts[0])]

    _count_and_log(signature, +1, "sign", also=with_receipt)
    return signature, receipts[0]


def _new_ref(signature: Signature) -> None:
    """Give the signature a fresh salt and ref for its next entries, remembering the salt."""
    salt, signature.log_ref = tlog.new_ref(signature.public_id.bytes)
    fresh = {"salt": salt.hex(), "level": signature.visibility}
    signature.log_salts = [*signature.log_salts, fresh]


def _logged_level(signature: Signature) -> str:
    """The level its current ref's entries show (it moves only with a new ref)."""
    return signature.log_salts[-1]["level"] if signature.log_salts else signature.visibility


def _supersede(signature: Signature, *, old_level: str, index: int) -> int:
    """Log a level change as two entries that share nothing: the current ref's withdrawal at
    the level it already showed (at `index`, taken with the counts' move), then a plain `sign`
    under a fresh ref. Nothing in the log ties the new ref to the old one; only the signer's
    receipt, holding both salts, does. They are adjacent in the log (one transaction): see
    docs/public-log.md for what that still tells an observer."""
    _log(signature, "withdraw", index=index, level=old_level)
    _new_ref(signature)
    signature.save(update_fields=["log_ref", "log_salts"])
    return _log(signature, "sign")


def _log(
    signature: Signature,
    kind: str,
    *,
    index: int | None = None,
    also=None,
    level: str | None = None,
    **extra,
) -> int:
    """Append the signature's change to its letter's public log (same transaction). `also`
    makes, from the entry's index, statements to run with the entry's INSERT."""
    if index is None:
        index, _ = tlog.allocate(signature.letter_id)
    return tlog.append(
        letter=signature.letter,
        kind=kind,
        level=level or _logged_level(signature),
        employee=signature.is_verified_employee,
        version=signature.version.number if signature.version_id else None,
        language=signature.language if signature.text_hash else None,
        text=signature.text_hash or None,
        ref=signature.log_ref,
        index=index,
        also=also(index) if also else (),
        **extra,
    )


def _erase_identity(signature: Signature) -> None:
    signature.name = ""
    signature.email = ""
    signature.user = None


def _set_aside_identity(signature: Signature, *, name: str, email: str) -> None:
    """Make a signature private before it is saved: a pending one's name and address move to
    PendingIdentity (the link must still reach the address), a verified one's are erased."""
    if signature.status == Signature.Status.PENDING:
        PendingIdentity.objects.update_or_create(
            signature=signature, defaults={"name": name, "email": email}
        )
    _erase_identity(signature)


@transaction.atomic
def withdraw(*, signature_id: int) -> bool:
    """Withdraw a pending or verified signature. False if it was already withdrawn."""
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .get(pk=signature_id)
    )
    if signature.status == Signature.Status.WITHDRAWN:
        return False
    was_counted = signature.is_counted
    if signature.visibility == Level.PRIVATE:
        PendingIdentity.objects.filter(signature_id=signature.pk).delete()
    signature.status = Signature.Status.WITHDRAWN
    signature.withdrawn_at = timezone.now()
    _erase_on_withdrawal(signature)
    signature.save(update_fields=["status", "withdrawn_at", *WITHDRAWAL_ERASES, "link_generation"])
    if was_counted:
        # The level, employee mark, domain and version stay: they undo the counts and the log.
        _count_and_log(signature, -1, "withdraw")
        _purge_pages(signature.letter_id)
    return True


# What a withdrawn signature no longer needs: who signed, how to reach them, what they told us.
# The level, employee mark, domain, version and log ref stay for the counts and the public log.
WITHDRAWAL_ERASES = (
    "name",
    "email",
    "email_hash",
    "user",
    "affiliation",
    "job_title",
    "team",
    "city",
    "show_affiliation",
    "show_job_title",
    "show_team",
    "show_city",
    "wants_updates",
    "mail_requested_at",
)


def _erase_on_withdrawal(signature: Signature) -> None:
    """Blank every field in WITHDRAWAL_ERASES. The email hash goes too: a withdrawn signer may
    sign again (the one-signature constraint ignores withdrawn rows), and a kept hash would let
    whoever holds the key learn that an address once signed. Every manage link dies with it."""
    for field in WITHDRAWAL_ERASES:
        default = Signature._meta.get_field(field).get_default()
        setattr(signature, field, default)
    signature.link_generation += 1


@transaction.atomic
def change_level(*, signature_id: int, visibility: str) -> bool:
    """Move a signature to a more private level (never back). False if nothing changed."""
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .get(pk=signature_id)
    )
    # A pending signature keeps the level its address was mailed about: nobody changes it
    # before the address's owner confirms (the confirm page shows what they confirm).
    if signature.status != Signature.Status.VERIFIED:
        return False
    if LEVEL_ORDER.index(visibility) <= LEVEL_ORDER.index(signature.visibility):
        return False
    _set_level(signature, visibility)
    return True


def _set_level(signature: Signature, visibility: str) -> None:
    """Move a (locked) signature to another level, keeping counts and the log exact. A hidden
    one's log moves when it is restored (restore_signature)."""
    previous, logged = signature.visibility, _logged_level(signature)
    signature.visibility = visibility
    if visibility == Level.PRIVATE:
        _set_aside_identity(signature, name=signature.name, email=signature.email)
    signature.link_generation += 1  # the manage link that asked for it is spent
    signature.save()
    if signature.is_counted:
        index, _ = tlog.allocate(signature.letter_id, counts={previous: -1, visibility: +1})
        _supersede(signature, old_level=logged, index=index)
        _purge_pages(signature.letter_id)


def _purge_pages(letter_id: int) -> None:
    """Once the change commits, delete the letter's cached pages: those it supersedes would keep
    what the signer took off (or a moderator hid) in the cache, in clear, until they expired."""
    transaction.on_commit(functools.partial(pagecache.purge, letter_id), robust=True)


@transaction.atomic
def request_manage_link(*, letter: Letter, email: str) -> None:
    """Mail a manage link to an address that has an active signature; silent otherwise.

    Works for private signers too: the typed address is checked against the stored hash and the
    link goes to that address only.
    """
    email = normalise_email(email)
    signature = _active_signature(letter, email)
    if signature is not None:
        emails.manage_link(signature, to=email)


@transaction.atomic
def disown_pending(*, signature_id: int) -> bool:
    """The "this wasn't me" button: the owner of an address deletes a pending signature made
    with it, and any verification mail to it not yet handed to the mail server. False (and
    nothing done) if it is no longer pending."""
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .filter(pk=signature_id, status=Signature.Status.PENDING)
        .first()
    )
    if signature is None:
        return False
    # Every verification link of this signature shares this prefix (tokens.stem).
    stem = tokens.stem(
        signature_id=signature.pk,
        letter_id=signature.letter_id,
        email_hash=signature.email_hash,
    )
    now = timezone.now()
    # A mail not yet rendered holds its link in its context; a rendered one, in its text.
    link = f"/confirm/{stem}:"
    Mail.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        Q(text__contains=link) | Q(context__url__icontains=link),
        kind="verification",
    ).delete()
    signature.delete()
    return True


def purge_pending_signatures(*, days: int | None = None) -> int:
    """Delete signatures never confirmed within `days` (PENDING_SIGNATURE_DAYS by default)."""
    days = settings.PENDING_SIGNATURE_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Signature.objects.filter(
        status=Signature.Status.PENDING, created_at__lt=cutoff
    ).delete()
    return deleted


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
        _audit(letter.pk, actor, action)
    return letter


@transaction.atomic
def close(*, letter_id: int, actor=None, reason: str = "") -> bool:
    """Close an open letter. False if it was not open."""
    closed = Letter.objects.filter(pk=letter_id, status=Letter.Status.OPEN).update(
        status=Letter.Status.CLOSED, closed_at=timezone.now()
    )
    if closed:
        _audit(letter_id, actor, AuditEvent.Action.CLOSE, reason=reason)
    return bool(closed)


# --- Employer verification lapses: a work address is proven for a period, then again ---------


def months_before(moment, months: int):
    """The same day and time `months` calendar months earlier (the month's last day if short)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def expire_employee_verifications(*, now=None) -> int:
    """Take the verified-employee mark off every signature whose work address was proven longer
    ago than its letter's employee_verification_months; each one still counts, as any signer.
    Returns how many; a second run finds none."""
    now = now or timezone.now()
    expired = 0
    letters = Letter.objects.filter(
        pk__in=Signature.objects.filter(
            status=Signature.Status.VERIFIED, is_verified_employee=True
        ).values("letter_id")
    ).only("pk", "employee_verification_months")
    for letter in letters:
        cutoff = months_before(now, letter.employee_verification_months)
        due = Signature.objects.filter(
            letter=letter,
            status=Signature.Status.VERIFIED,
            is_verified_employee=True,
            employee_verified_at__lt=cutoff,
        ).values_list("pk", flat=True)
        for signature_id in list(due):
            expired += _lapse_employee(signature_id=signature_id, cutoff=cutoff)
    return expired


@transaction.atomic
def _lapse_employee(*, signature_id: int, cutoff) -> bool:
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .filter(
            pk=signature_id,
            status=Signature.Status.VERIFIED,
            is_verified_employee=True,
            employee_verified_at__lt=cutoff,
        )
        .first()
    )
    if signature is None:  # withdrawn or re-verified meanwhile
        return False
    _set_employee(signature, employee=False)
    return True


def _set_employee(signature: Signature, *, employee: bool) -> None:
    """Put the verified-employee mark on a (locked) signature or take it off; a counted one moves
    the employee and domain counts and appends an "employment" entry to the public log, so the
    log replays to the tally. A hidden one moves nothing: its restore entry carries the mark."""
    signature.is_verified_employee = employee
    if employee:
        signature.employee_verified_at = timezone.now()
    signature.save(update_fields=["is_verified_employee", "employee_verified_at"])
    if not signature.is_counted:
        return
    delta = 1 if employee else -1
    domain = _add_statement(DomainTally, (signature.letter_id, signature.employer_domain, delta))
    index, _ = tlog.allocate(signature.letter_id, counts={"employees": delta}, also=[domain])
    _log(signature, "employment", index=index)


@transaction.atomic
def request_reverification(*, signature_id: int, email: str) -> None:
    """Mail a link proving the work address again, if `email` is the address the signature was
    made with (by its hash: a private signer's address is erased) and on one of the letter's
    employer domains, and the mark has lapsed. Silent otherwise: the caller says the same."""
    signature = (
        Signature.objects.select_related("letter")
        .filter(pk=signature_id, status=Signature.Status.VERIFIED, is_verified_employee=False)
        .first()
    )
    if signature is None or signature.email_hash not in email_hashes(email):
        return
    domain = signature.letter.employer_domain_for(email)
    if not domain:
        return
    Signature.objects.filter(pk=signature.pk).update(employer_domain=domain)
    emails.reverification(signature, to=normalise_email(email))


@transaction.atomic
def reverify_employee(*, signature_id: int) -> bool:
    """Confirm the work address again through the mailed link. False if nothing changed (a
    second click, a withdrawn signature, or a domain the letter no longer lists)."""
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .filter(pk=signature_id, status=Signature.Status.VERIFIED, is_verified_employee=False)
        .first()
    )
    if signature is None or signature.employer_domain not in signature.letter.domains:
        return False
    _set_employee(signature, employee=True)
    return True


# --- Organiser workspace (issue 5): letters, versions, moderation, team, updates, milestones ---

import secrets  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils.text import slugify  # noqa: E402

from .models import (  # noqa: E402
    AuditEvent,
    ExportRecord,
    Milestone,
    OrganiserInvite,
    Update,
    UpdateDelivery,
)


class WorkspaceError(Exception):
    """An organiser action that cannot be done; the message is meant for the organiser."""


class InviteRevoked(WorkspaceError):
    """An owner took the invitation back."""


# Words the workspace's URLs use after /manage/: no letter may be called that.
RESERVED_SLUGS = {"new", "invites"}

# Mails queued per update task: small enough that a batch commits in well under a second.
UPDATE_BATCH_SIZE = 200


def _audit(letter_id: int, actor, action: str, *, target: str = "", reason: str = "") -> None:
    AuditEvent.objects.create(
        letter_id=letter_id,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target=target[:200],
        reason=reason[:500],
    )


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
    _audit(letter.pk, user, AuditEvent.Action.CREATE)
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
        _audit(letter.pk, actor, AuditEvent.Action.EDIT)
        return False
    letter.versions.create(number=last + 1, title=title, body=body)
    _audit(letter.pk, actor, AuditEvent.Action.NEW_VERSION, target=f"version {last + 1}")
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
        _audit(letter.pk, actor, AuditEvent.Action.SETTINGS, target=", ".join(changed))
    return changed


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


def _signature_for_moderation(letter_id: int, signature_id: int) -> Signature:
    return (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .get(pk=signature_id, letter_id=letter_id)
    )


@transaction.atomic
def hide_signature(
    *, letter_id: int, signature_id: int, actor, reason: str, note: str = ""
) -> bool:
    """Hide a verified signature from the list and the count. False if it was already hidden
    or is not verified (pending ones neither count nor show, withdrawn ones are gone)."""
    signature = _signature_for_moderation(letter_id, signature_id)
    if signature.is_hidden or signature.status != Signature.Status.VERIFIED:
        return False
    signature.is_hidden = True
    signature.hidden_reason = reason[:200]
    signature.save(update_fields=["is_hidden", "hidden_reason"])
    _count_and_log(signature, -1, "hide", reason=reason if reason in tlog.HIDE_REASONS else "other")
    _purge_pages(letter_id)
    explanation = f"{reason}: {note}" if note else reason
    _audit(letter_id, actor, AuditEvent.Action.HIDE, target=_target(signature), reason=explanation)
    return True


@transaction.atomic
def restore_signature(*, letter_id: int, signature_id: int, actor, note: str = "") -> bool:
    """Undo a hide. False if the signature was not hidden."""
    signature = _signature_for_moderation(letter_id, signature_id)
    if not signature.is_hidden:
        return False
    signature.is_hidden = False
    signature.hidden_reason = ""
    signature.save(update_fields=["is_hidden", "hidden_reason"])
    if signature.is_counted:
        logged = _logged_level(signature)
        if logged == signature.visibility:
            _count_and_log(signature, +1, "restore")
        else:  # its level changed while hidden: restoring its old ref would tie the two
            _count_and_log(signature, +1, "restore", supersede_from=logged)
    _audit(letter_id, actor, AuditEvent.Action.RESTORE, target=_target(signature), reason=note)
    return True


def _target(signature: Signature) -> str:
    # Never a name or an address: the audit log is shown to viewers too.
    return f"signature {str(signature.public_id)[:8]}"


@transaction.atomic
def invite_organiser(*, letter_id: int, actor, email: str, role: str) -> OrganiserInvite:
    """Invite an address to organise the letter; inviting it again re-sends the invitation."""
    email = normalise_email(email)
    letter = Letter.objects.get(pk=letter_id)
    if Organiser.objects.filter(letter=letter, user__email__iexact=email).exists():
        raise WorkspaceError("That address already organises this letter.")
    invite = (
        OrganiserInvite.objects.select_for_update()
        .filter(
            letter=letter, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .first()
    )
    if invite is None:
        invite = OrganiserInvite.objects.create(
            letter=letter, email=email, role=role, invited_by=actor
        )
    else:
        invite.role, invite.invited_by, invite.created_at = role, actor, timezone.now()
        invite.save(update_fields=["role", "invited_by", "created_at"])
    emails.organiser_invite(invite)
    _audit(letter.pk, actor, AuditEvent.Action.INVITE, target=f"{email} as {role}")
    return invite


@transaction.atomic
def accept_invite(*, invite_id: int, user) -> Organiser:
    """Join a letter's organisers through an invitation sent to this account's address."""
    invite = OrganiserInvite.objects.select_for_update().select_related("letter").get(pk=invite_id)
    if invite.revoked_at is not None:
        raise InviteRevoked(gettext("This invitation was withdrawn by the letter's owners."))
    existing = Organiser.objects.filter(letter_id=invite.letter_id, user=user).first()
    if existing is not None:
        return existing
    if invite.accepted_at is not None:
        raise WorkspaceError("This invitation has already been used.")
    if normalise_email(user.email) != normalise_email(invite.email):
        raise WorkspaceError(
            "This invitation was sent to another address: sign in with the account for that "
            "address to accept it."
        )
    organiser = Organiser.objects.create(letter_id=invite.letter_id, user=user, role=invite.role)
    invite.accepted_at = timezone.now()
    invite.save(update_fields=["accepted_at"])
    _audit(invite.letter_id, user, AuditEvent.Action.JOIN, target=f"{user.email} as {invite.role}")
    return organiser


@transaction.atomic
def revoke_organiser_invite(*, letter_id: int, invite_id: int, actor) -> bool:
    """An owner takes back an invitation nobody has accepted: its link stops working. False if
    it was accepted or revoked already (callers check the actor is an owner)."""
    revoked = OrganiserInvite.objects.filter(
        pk=invite_id, letter_id=letter_id, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), revoked_by=actor)
    if revoked:
        email = OrganiserInvite.objects.values_list("email", flat=True).get(pk=invite_id)
        _audit(letter_id, actor, AuditEvent.Action.REVOKE_INVITE, target=email)
    return bool(revoked)


def _lock_organisers(letter_id: int) -> list[Organiser]:
    # Every change to the team locks the whole team, in one order, so two owners demoting each
    # other at once cannot leave a letter without an owner.
    return list(
        Organiser.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(letter_id=letter_id)
        .order_by("pk")
    )


@transaction.atomic
def set_organiser_role(*, letter_id: int, organiser_id: int, actor, role: str) -> None:
    team = _lock_organisers(letter_id)
    member = next((o for o in team if o.pk == organiser_id), None)
    if member is None:
        raise WorkspaceError("That person does not organise this letter.")
    if member.role == role:
        return
    owners = [o for o in team if o.role == Organiser.Role.OWNER]
    if member.role == Organiser.Role.OWNER and len(owners) == 1:
        raise WorkspaceError("A letter needs an owner: make someone else owner first.")
    member.role = role
    member.save(update_fields=["role"])
    _audit(letter_id, actor, AuditEvent.Action.ROLE, target=f"{member.user.email} to {role}")


@transaction.atomic
def remove_organiser(*, letter_id: int, organiser_id: int, actor) -> None:
    team = _lock_organisers(letter_id)
    member = next((o for o in team if o.pk == organiser_id), None)
    if member is None:
        return
    owners = [o for o in team if o.role == Organiser.Role.OWNER]
    if member.role == Organiser.Role.OWNER and len(owners) == 1:
        raise WorkspaceError("A letter needs an owner: make someone else owner first.")
    member.delete()
    _audit(letter_id, actor, AuditEvent.Action.REMOVE, target=member.user.email)


def record_export(
    *, letter: Letter, user, what: str, format: str, filters: dict, rows: int
) -> ExportRecord:
    return ExportRecord.objects.create(
        letter=letter,
        user=user if user is not None and user.is_authenticated else None,
        what=what,
        format=format,
        filters=filters,
        rows=rows,
    )


# Updates to signers ------------------------------------------------------------------------


def update_recipients(letter_id: int):
    """Signers an update goes to: verified, counted, still asking for updates, and with an
    address (a private signer's address is erased once verified, so they get none)."""
    return (
        Signature.objects.counted()
        .filter(letter_id=letter_id, wants_updates=True)
        .exclude(email="")
    )


@transaction.atomic
def send_update(
    *, letter_id: int, actor, subject: str, body: str, key: uuid.UUID | None = None
) -> tuple[Update, bool]:
    """Write an update and start sending it, in batches, once this transaction commits.

    `key` is the form's idempotency key: a form submitted again (a double click, a browser
    retry, the back button), even at the same instant, finds the update it made instead of
    making a second one. Returns the update and whether it is new."""
    if key is not None:
        existing = Update.objects.filter(letter_id=letter_id, key=key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            update = Update.objects.create(
                letter_id=letter_id,
                key=key,
                subject=subject,
                body=body,
                created_by=actor,
                total=update_recipients(letter_id).count(),
            )
    except IntegrityError:
        # The same form, submitted at the same instant, committed first.
        return Update.objects.get(letter_id=letter_id, key=key), False
    _audit(letter_id, actor, AuditEvent.Action.UPDATE, target=f"update {update.pk}: {subject}")
    transaction.on_commit(lambda: tasks.enqueue_update(update.pk), robust=True)
    return update, True


def deliver_update_batch(*, update_id: int, batch_size: int | None = None) -> int:
    """Queue the update's mail for the next batch of recipients; returns how many (0: done or
    paused).

    Exactly once, whatever crashes: the batch's outbox rows, its UpdateDelivery rows (unique per
    update and signature) and the moved cursor commit together or not at all, under the
    update's row lock, so a re-run after a crash starts where the last committed batch ended.
    """
    batch_size = batch_size or UPDATE_BATCH_SIZE
    with transaction.atomic():
        update = Update.objects.select_for_update().select_related("letter").get(pk=update_id)
        if update.status == Update.Status.SENT or update.paused_at is not None:
            return 0
        batch = list(
            update_recipients(update.letter_id)
            # Signers who confirmed after the update was written read it on the letter's page.
            .filter(pk__gt=update.cursor, verified_at__lte=update.created_at)
            .select_related("letter")
            .order_by("pk")[:batch_size]
        )
        now = timezone.now()
        if not batch:
            update.status = Update.Status.SENT
            update.finished_at = now
            # The final figure is the real one: some may have unsubscribed or withdrawn meanwhile.
            update.total = update.queued
            update.save(update_fields=["status", "finished_at", "total", "touched_at"])
            return 0
        for signature in batch:
            emails.update_to_signer(update, signature)
        UpdateDelivery.objects.bulk_create(
            [UpdateDelivery(update=update, signature=s, sent_at=now) for s in batch]
        )
        update.cursor = batch[-1].pk
        update.queued = F("queued") + len(batch)
        update.touched_at = now
        update.save(update_fields=["cursor", "queued", "touched_at"])
        return len(batch)


@transaction.atomic
def pause_update(*, update_id: int, actor) -> bool:
    """Hold an update back: no more batches, and its queued mail stays in the outbox. False if
    it was paused already or has nothing left to send."""
    update = Update.objects.select_for_update().get(pk=update_id)
    if update.paused_at is not None or not update.left:
        return False
    update.paused_at = timezone.now()
    update.save(update_fields=["paused_at"])
    _audit(update.letter_id, actor, AuditEvent.Action.UPDATE, target=f"update {update.pk} paused")
    return True


@transaction.atomic
def resume_update(*, update_id: int, actor) -> bool:
    """Carry on sending a paused update where it stopped. False if it was not paused."""
    resumed = Update.objects.filter(pk=update_id, paused_at__isnull=False).update(
        paused_at=None, touched_at=timezone.now()
    )
    if not resumed:
        return False
    letter_id = Update.objects.values_list("letter_id", flat=True).get(pk=update_id)
    _audit(letter_id, actor, AuditEvent.Action.UPDATE, target=f"update {update_id} resumed")
    transaction.on_commit(lambda: tasks.enqueue_update(update_id), robust=True)
    # The mail it had queued before the pause is held in the outbox: the relay may take it now.
    transaction.on_commit(tasks.kick_relay, robust=True)
    return True


def resume_stalled_updates(*, idle_seconds: int = 300) -> int:
    """Queue again every update still sending whose last batch is older than `idle_seconds`."""
    cutoff = timezone.now() - timedelta(seconds=idle_seconds)
    ids = list(
        Update.objects.filter(
            status=Update.Status.SENDING, touched_at__lt=cutoff, paused_at__isnull=True
        ).values_list("pk", flat=True)
    )
    for update_id in ids:
        tasks.enqueue_update(update_id)
    return len(ids)


@transaction.atomic
def unsubscribe(*, signature_id: int) -> bool:
    """Stop updates to a signature. False if they were already off."""
    return bool(
        Signature.objects.filter(pk=signature_id, wants_updates=True).update(wants_updates=False)
    )


# Milestones ----------------------------------------------------------------------------------


def milestone_thresholds(count: int, goal: int | None) -> list[int]:
    """The milestones a count has passed: the goal, and 100, 1,000, 10,000..."""
    found = set()
    threshold = 100
    while threshold <= count:
        found.add(threshold)
        threshold *= 10
    if goal and goal <= count:
        found.add(goal)
    return sorted(found)


# Milestones this process has seen recorded, by letter: they are never deleted, so a count whose
# thresholds are all in here needs no query (the usual case, inside the tally's lock).
_recorded_milestones: dict[int, set[int]] = {}


def _note_milestones(letter: Letter, verified: int) -> None:
    """After the count rose to `verified`: record and announce any milestone newly passed."""
    thresholds = milestone_thresholds(verified, letter.goal)
    seen = _recorded_milestones.get(letter.pk, set())
    if not thresholds or seen.issuperset(thresholds):
        return
    check_milestones(letter_id=letter.pk)

    def remember(letter_id=letter.pk, thresholds=thresholds):
        _recorded_milestones.setdefault(letter_id, set()).update(thresholds)

    # Only once committed: a rolled-back transaction recorded nothing.
    transaction.on_commit(remember)


def check_milestones(*, letter_id: int) -> list[int]:
    """Record the milestones the letter's count has newly passed and mail its organisers, once
    per milestone (the unique constraint decides, even between concurrent verifications).
    Runs in the caller's transaction, after the tally moved."""
    row = Tally.objects.filter(letter_id=letter_id).values_list("verified", "letter__goal").first()
    if row is None:
        return []
    thresholds = milestone_thresholds(*row)
    if not thresholds:
        return []
    known = set(
        Milestone.objects.filter(letter_id=letter_id, threshold__in=thresholds).values_list(
            "threshold", flat=True
        )
    )
    reached = []
    for threshold in thresholds:
        if threshold in known:
            continue
        with transaction.atomic():
            _, created = Milestone.objects.get_or_create(letter_id=letter_id, threshold=threshold)
        if created:
            reached.append(threshold)
    if reached:
        letter = Letter.objects.get(pk=letter_id)
        User = get_user_model()
        for user in User.objects.filter(organising__letter_id=letter_id, is_active=True):
            emails.milestone(letter, reached=reached, to=user.email)
    return reached


# --- Signer accounts (issue 11): one-click signing, level switches, leaving ----------------------
#
# A signed-in signer whose address the account has verified signs without the mail loop: the
# pending row is made and confirmed by the same verify() in one transaction, so the tally, the
# log, the receipt, the erasure of a private identity and the confirmation mail happen exactly as
# for a mailed signature. A private signature is never linked to an account at any moment.

from dataclasses import dataclass  # noqa: E402

SIGNED = "signed"  # verified at once; a receipt is returned
MAILED = "mailed"  # a link went to an address the account has not verified (a work address)
ALREADY = "already"  # this verified address has an active signature on the letter


@dataclass(frozen=True)
class AccountSigning:
    outcome: str
    signature: Signature | None = None
    receipt: dict | None = None


def has_verified_email(user, email: str) -> bool:
    """Did this account prove it reads `email` (allauth's verified addresses)?"""
    from allauth.account.models import EmailAddress

    if not getattr(user, "is_authenticated", False):
        return False
    return EmailAddress.objects.filter(
        user=user, verified=True, email__iexact=normalise_email(email)
    ).exists()


@transaction.atomic
def sign_as_user(
    *,
    letter: Letter,
    user,
    email: str,
    visibility: str,
    name: str = "",
    affiliation: str = "",
    job_title: str = "",
    team: str = "",
    city: str = "",
    show_affiliation: bool = False,
    show_job_title: bool = False,
    show_team: bool = False,
    show_city: bool = False,
    wants_updates: bool = False,
    language: str = "",
) -> AccountSigning:
    """Sign as a signed-in user.

    Through an address the account has verified: verified at once (SIGNED), or ALREADY if that
    address has a verified signature on the letter (a public or anonymous one is then linked to
    the account; the owner of the address is the one asking). An unconfirmed signature of the
    same address, made signed out, is taken over with these choices and confirmed: one person,
    one signature. Through any other address (asking for employer verification with a work
    address): the ordinary mail loop (MAILED), whose answer never says whether it had signed.
    """
    if not letter.takes_signatures:
        raise SigningClosed
    details = {
        "name": name.strip(),
        "affiliation": affiliation.strip(),
        "job_title": job_title.strip(),
        "team": team.strip(),
        "city": city.strip(),
        "show_affiliation": show_affiliation,
        "show_job_title": show_job_title,
        "show_team": show_team,
        "show_city": show_city,
        "wants_updates": wants_updates,
        "visibility": visibility,
        "user": None if visibility == Level.PRIVATE else user,
    }
    if not has_verified_email(user, email):
        sign(letter=letter, email=email, language=language, **details)
        return AccountSigning(MAILED)
    email = normalise_email(email)
    hashed = email_hash(email)
    signature = (
        Signature.objects.active()
        .select_for_update(of=("self",))
        .filter(letter=letter, email_hash__in=email_hashes(email))
        .first()
    )
    private = visibility == Level.PRIVATE
    if signature is None:
        try:
            with transaction.atomic():
                version = letter.versions.order_by("-number").first()
                text = translations.signed_text(letter, version, language)
                signature = Signature.objects.create(
                    letter=letter,
                    version=version,
                    language=text.language,
                    text_hash=text.hash,
                    email="" if private else email,
                    email_hash=hashed,
                    **{**details, "name": "" if private else details["name"]},
                )
                if private:
                    # verify() reads the address from here, and drops it.
                    PendingIdentity.objects.create(
                        signature=signature, name=details["name"], email=email
                    )
        except IntegrityError:  # the same address signed in another request a moment ago
            existing = Signature.objects.active().filter(letter=letter, email_hash=hashed).first()
            return AccountSigning(ALREADY, existing)
    elif signature.status == Signature.Status.PENDING:
        for field, value in details.items():
            setattr(signature, field, value)
        text = translations.signed_text(letter, signature.version, language)
        signature.language, signature.text_hash = text.language, text.hash
        if private:
            _set_aside_identity(signature, name=details["name"], email=email)
        signature.save()
    else:
        if signature.visibility != Level.PRIVATE:
            Signature.objects.filter(pk=signature.pk, user__isnull=True).update(user=user)
        return AccountSigning(ALREADY, signature)
    signature, receipt = verify(signature_id=signature.pk)
    return AccountSigning(SIGNED, signature, receipt)


@transaction.atomic
def verify_by_link(*, signature_id: int, user_id: int | None) -> tuple[Signature, dict | None]:
    """Confirm through the mailed link. A signature started from an account keeps that link only
    when confirmed from the same account: whoever typed someone else's address must not come to
    manage the signature that person confirms."""
    return verify(signature_id=signature_id, confirmed_by=user_id)


@transaction.atomic
def switch_level(*, signature_id: int, user_id: int, visibility: str) -> bool:
    """An account holder moves their signature between public and anonymous, either way (they
    proved the address, unlike a link holder), or to private: one way, it erases the identity and
    drops the account link. Only levels the letter offers. False if nothing changed."""
    signature = (
        Signature.objects.select_for_update(of=("self",))
        .select_related("letter", "version")
        .filter(pk=signature_id, user_id=user_id)
        .first()
    )
    # Only a confirmed signature: a pending one may carry an address the account does not own,
    # whose owner was mailed the level it has now.
    if signature is None or signature.status != Signature.Status.VERIFIED:
        return False
    if visibility == signature.visibility or visibility not in signature.letter.levels:
        return False
    if visibility == Level.PRIVATE:
        # A pending one keeps its address until confirmed (the link must reach it); the account
        # lets go of it now.
        signature.user = None
    _set_level(signature, visibility)
    return True


@transaction.atomic
def delete_account(*, user_id: int, withdraw_signatures: bool) -> None:
    """Delete an account. Its signatures stay exactly as signed (only the account link goes,
    Signature.user is SET NULL), or are all withdrawn first, through withdraw() so the counts and
    the log stay exact. Raises ProtectedError while the account still owns letters."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.select_for_update().get(pk=user_id)
    if withdraw_signatures:
        active = Signature.objects.active().filter(user_id=user_id).order_by("pk")
        for signature_id in active.values_list("pk", flat=True):
            withdraw(signature_id=signature_id)
    user.delete()


# --- Co-signatures (issue 4): organisations co-sign letters -----------------------------------
# Approved co-signatures are counted in Tally.cosigners, apart from people's signatures, moved
# with F() in the transaction that changes the status (a conditional update, so a second click
# or a race changes nothing and mails nobody twice).


class CosigningClosed(Exception):
    """The letter is not open, or not open to organisations."""


class NotOrganisationAdmin(Exception):
    """Only an admin of an organisation may co-sign for it or withdraw its co-signature."""


class CosignRefused(Exception):
    """The organisers rejected this organisation's co-signature: it cannot ask again."""


def _count_cosign(cosignature: CoSignature, delta: int, kind: str) -> None:
    """Move the co-signer count by delta for a co-signature entering (+1, kind "approve") or
    leaving (-1, kind "reject" or "withdraw") the listing. Callers hold the change's transaction."""
    # The public log: a co-signature is listed by name, so its entries carry level "public". The
    # ref is made at approval and kept on the row, so the "uncosign" that undoes it carries it too.
    if delta > 0:
        _salt, ref = tlog.new_ref(f"cosignature:{cosignature.pk}".encode())
        CoSignature.objects.filter(pk=cosignature.pk).update(log_ref=ref)
    else:
        ref = CoSignature.objects.values_list("log_ref", flat=True).get(pk=cosignature.pk)
    index, _ = tlog.allocate(cosignature.letter_id, counts={"cosigners": delta})
    tlog.append(
        letter=cosignature.letter,
        kind="cosign" if delta > 0 else "uncosign",
        level="public",
        employee=False,
        version=None,
        ref=ref,
        index=index,
    )


def _organisation_admin_emails(organisation_id: int) -> list[str]:
    return list(
        Membership.objects.filter(organisation_id=organisation_id, role=Membership.Role.ADMIN)
        .order_by("pk")
        .values_list("user__email", flat=True)
    )


def _schedule_cosign_digest(letter_id: int) -> None:
    # robust: with the broker down the request still stands; the sweep sends its digest later.
    transaction.on_commit(functools.partial(tasks.schedule_cosign_digest, letter_id), robust=True)


@transaction.atomic
def cosign(
    *, letter: Letter, organisation_id: int, user, display_name: str = "", statement: str = ""
):
    """An admin co-signs a letter for their organisation: pending until an organiser approves,
    or approved at once when the letter auto-approves verified organisations, this one is, and
    site staff confirmed the name it co-signs under.

    Asking again while pending or approved changes nothing; a withdrawn co-signature asks again
    on the same row; a rejected one raises CosignRefused.
    """
    if not letter.takes_cosignatures:
        raise CosigningClosed
    organisation = Organisation.objects.administered_by(user).filter(pk=organisation_id).first()
    if organisation is None:
        raise NotOrganisationAdmin
    name = " ".join(display_name.split()) or organisation.name
    now = timezone.now()
    fields = {
        "display_name": name,
        "sort_key": reading_key(name),
        "statement": statement.strip(),
        "requested_by": user,
        "requested_at": now,
        "status": CoSignature.Status.PENDING,
        "decided_by": None,
        "decided_at": None,
        "withdrawn_at": None,
        "notified_at": None,
    }
    ensure_tally(letter.pk)
    try:
        with transaction.atomic():
            cosignature = CoSignature.objects.create(
                letter=letter, organisation=organisation, **fields
            )
    except IntegrityError:
        asked_again = CoSignature.objects.filter(
            letter=letter, organisation=organisation, status=CoSignature.Status.WITHDRAWN
        ).update(**fields)
        cosignature = CoSignature.objects.get(letter=letter, organisation=organisation)
        if not asked_again:
            if cosignature.status == CoSignature.Status.REJECTED:
                raise CosignRefused from None
            return cosignature
    # A verified mark proves a domain, not a name: only a name site staff confirmed, listed as
    # confirmed, skips the organisers' approval.
    if letter.auto_approve_verified_orgs and organisation.lists_at_once(name):
        approve_cosign(cosignature_id=cosignature.pk, by=None)
        cosignature.refresh_from_db()
    _schedule_cosign_digest(letter.pk)
    return cosignature


@transaction.atomic
def approve_cosign(*, cosignature_id: int, by) -> bool:
    """List a pending (or earlier rejected) co-signature. False if nothing changed. `by` is the
    organiser, or None when the letter approved a verified organisation by itself."""
    cosignature = CoSignature.objects.select_related("letter").get(pk=cosignature_id)
    if not cosignature.letter.is_open:
        raise CosigningClosed
    approved = CoSignature.objects.filter(
        pk=cosignature_id,
        status__in=[CoSignature.Status.PENDING, CoSignature.Status.REJECTED],
    ).update(status=CoSignature.Status.APPROVED, decided_by=by, decided_at=timezone.now())
    if not approved:
        return False
    cosignature.refresh_from_db()
    _count_cosign(cosignature, +1, "approve")
    _audit(
        cosignature.letter_id, by, AuditEvent.Action.APPROVE_COSIGN, target=cosignature.display_name
    )
    for address in _organisation_admin_emails(cosignature.organisation_id):
        emails.cosign_approved(cosignature, to=address)
    return True


@transaction.atomic
def reject_cosign(*, cosignature_id: int, by) -> bool:
    """Refuse a pending co-signature, or take an approved one off the letter. False if nothing
    changed (already rejected, or withdrawn)."""
    now = timezone.now()
    decision = {"status": CoSignature.Status.REJECTED, "decided_by": by, "decided_at": now}
    was_listed = CoSignature.objects.filter(
        pk=cosignature_id, status=CoSignature.Status.APPROVED
    ).update(**decision)
    if not was_listed and not CoSignature.objects.filter(
        pk=cosignature_id, status=CoSignature.Status.PENDING
    ).update(**decision):
        return False
    cosignature = CoSignature.objects.select_related("letter").get(pk=cosignature_id)
    if was_listed:
        _count_cosign(cosignature, -1, "reject")
    _audit(
        cosignature.letter_id, by, AuditEvent.Action.REJECT_COSIGN, target=cosignature.display_name
    )
    for address in _organisation_admin_emails(cosignature.organisation_id):
        emails.cosign_rejected(cosignature, to=address)
    return True


@transaction.atomic
def withdraw_cosign(*, cosignature_id: int, by) -> bool:
    """An admin of the organisation withdraws its pending or approved co-signature. False if
    nothing changed."""
    cosignature = CoSignature.objects.select_related("letter").get(pk=cosignature_id)
    if not Organisation.objects.administered_by(by).filter(pk=cosignature.organisation_id).exists():
        raise NotOrganisationAdmin
    gone = {"status": CoSignature.Status.WITHDRAWN, "withdrawn_at": timezone.now()}
    was_listed = CoSignature.objects.filter(
        pk=cosignature_id, status=CoSignature.Status.APPROVED
    ).update(**gone)
    if was_listed:
        cosignature.refresh_from_db()
        _count_cosign(cosignature, -1, "withdraw")
        return True
    return bool(
        CoSignature.objects.filter(pk=cosignature_id, status=CoSignature.Status.PENDING).update(
            **gone
        )
    )


@transaction.atomic
def pin_cosign(*, cosignature_id: int, position: int | None) -> None:
    """Pin a co-signer to the top of the list at `position` (1 first), or unpin it (None).
    Order only: nothing counted changes."""
    CoSignature.objects.filter(pk=cosignature_id).update(pinned_position=position)


@transaction.atomic
def send_cosign_digest(*, letter_id: int) -> int:
    """Tell the letter's owners and editors, in one mail each, of every co-sign request no
    digest has mentioned yet. Returns how many it mentioned; 0 (and no mail) when there were
    none, so running it again, or twice at once, mails nobody twice."""
    batch = list(
        CoSignature.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("organisation")
        .filter(
            letter_id=letter_id,
            notified_at__isnull=True,
            status__in=[CoSignature.Status.PENDING, CoSignature.Status.APPROVED],
        )
        .order_by("requested_at", "pk")
    )
    if not batch:
        return 0
    CoSignature.objects.filter(pk__in=[c.pk for c in batch]).update(notified_at=timezone.now())
    letter = Letter.objects.get(pk=letter_id)
    recipients = (
        Organiser.objects.filter(
            letter_id=letter_id, role__in=[Organiser.Role.OWNER, Organiser.Role.EDITOR]
        )
        .order_by("pk")
        .values_list("user__email", flat=True)
    )
    for address in recipients:
        emails.cosign_requests(letter, batch, to=address)
    return len(batch)


def send_due_cosign_digests(*, older_than: int | None = None) -> int:
    """Queue the digest of every letter with co-sign requests no digest has mentioned after
    `older_than` seconds (twice COSIGN_DIGEST_DELAY by default): the task scheduled when they
    arrived was lost (a broker or worker down). Returns how many letters."""
    older_than = settings.COSIGN_DIGEST_DELAY * 2 if older_than is None else older_than
    letter_ids = list(
        CoSignature.objects.filter(
            notified_at__isnull=True,
            requested_at__lt=timezone.now() - timedelta(seconds=older_than),
            status__in=[CoSignature.Status.PENDING, CoSignature.Status.APPROVED],
        )
        .values_list("letter_id", flat=True)
        .distinct()
    )
    for letter_id in letter_ids:
        tasks.cosign_digest.apply_async((letter_id,), retry=False)
    return len(letter_ids)
