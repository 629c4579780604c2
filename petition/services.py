"""Writes with side effects. Each runs in one transaction; mails are queued on commit."""

import hashlib
import hmac
import logging
import os
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import emails, tasks
from .models import (
    LEVEL_ORDER,
    DailyTally,
    DomainTally,
    Letter,
    Level,
    Mail,
    Signature,
    Tally,
)

logger = logging.getLogger(__name__)


class SigningClosed(Exception):
    """The letter is a draft or closed."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str) -> str:
    key = settings.EMAIL_HASH_KEY.encode()
    return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).hexdigest()


def _upsert_add(table: str, key_columns: tuple[str, str], value_column: str, row: tuple) -> None:
    """INSERT ... ON CONFLICT DO UPDATE: add to a counter row, creating it if need be (PostgreSQL
    and SQLite both speak this)."""
    columns = ", ".join((*key_columns, value_column))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s) "  # noqa: S608 - fixed names
            f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE "
            f"SET {value_column} = {table}.{value_column} + EXCLUDED.{value_column}",
            row,
        )


def ensure_tally(letter_id: int) -> None:
    Tally.objects.get_or_create(letter_id=letter_id)


def _count(signature: Signature, delta: int) -> None:
    """Move the tally by delta for a signature entering (+1) or leaving (-1) the count."""
    employee = delta if signature.is_verified_employee else 0
    Tally.objects.filter(letter_id=signature.letter_id).update(
        verified=F("verified") + delta,
        employees=F("employees") + employee,
        **{signature.visibility: F(signature.visibility) + delta},
    )
    if signature.is_verified_employee:
        _upsert_add(
            DomainTally._meta.db_table,
            ("letter_id", "domain"),
            "count",
            (signature.letter_id, signature.employer_domain, delta),
        )
    _upsert_add(
        DailyTally._meta.db_table,
        ("letter_id", "day"),
        "change",
        (signature.letter_id, timezone.now().date(), delta),
    )
    if signature.version_id:
        from .models import LetterVersion

        LetterVersion.objects.filter(pk=signature.version_id).update(
            signature_count=F("signature_count") + delta
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


@transaction.atomic
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
) -> None:
    """Record a pending signature and mail its verification link.

    Returns nothing on purpose: the caller must answer the same whether the address is new,
    pending or already verified. A repeated address gets a mail, never a second signature.
    """
    if not letter.is_open:
        raise SigningClosed
    email = normalise_email(email)
    hashed = email_hash(email)
    ensure_tally(letter.pk)
    try:
        with transaction.atomic():
            signature = Signature.objects.create(
                letter=letter,
                version=letter.versions.order_by("-number").first(),
                name=name.strip(),
                email=email,
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
            )
    except IntegrityError:
        existing = Signature.objects.active().filter(letter=letter, email_hash=hashed).first()
        if existing is None:  # withdrawn in between: nothing to tell
            return
        if existing.status == Signature.Status.PENDING:
            _queue_verification(existing)
        else:
            emails.already_signed(existing, to=email)
        return
    signature.letter = letter
    _queue_verification(signature)


@transaction.atomic
def resend(*, letter: Letter, email: str) -> None:
    """Mail the verification link again to a pending signer; silent for any other address."""
    signature = (
        Signature.objects.filter(
            letter=letter, email_hash=email_hash(email), status=Signature.Status.PENDING
        )
        .select_related("letter")
        .first()
    )
    if signature is not None:
        _queue_verification(signature)


def _receipt_salt() -> bytes:
    return os.urandom(32)


@transaction.atomic
def verify(*, signature_id: int) -> tuple[Signature, dict | None]:
    """Confirm a pending signature. A second call changes nothing and returns no receipt.

    A private signature's name, email and account link are erased in this same transaction;
    the confirmation mail is handed the address before it goes.
    """
    signature = Signature.objects.select_for_update().select_related("letter").get(pk=signature_id)
    if signature.status != Signature.Status.PENDING:
        return signature, None
    letter = signature.letter
    address = signature.email
    signature.status = Signature.Status.VERIFIED
    signature.verified_at = timezone.now()
    signature.employer_domain = letter.employer_domain_for(address)
    signature.is_verified_employee = bool(signature.employer_domain)
    salt = _receipt_salt()
    signature.log_ref = hashlib.sha256(salt + signature.public_id.bytes).hexdigest()
    if signature.visibility == Level.PRIVATE:
        _erase_identity(signature)
    signature.save()
    ensure_tally(letter.pk)
    _count(signature, +1)
    receipt = {"letter": letter.slug, "salt": salt.hex(), "ref": signature.log_ref}
    emails.confirmation(signature, to=address, receipt=receipt)
    return signature, receipt


def _erase_identity(signature: Signature) -> None:
    signature.name = ""
    signature.email = ""
    signature.user = None


@transaction.atomic
def withdraw(*, signature_id: int) -> bool:
    """Withdraw a pending or verified signature. False if it was already withdrawn."""
    signature = Signature.objects.select_for_update().get(pk=signature_id)
    if signature.status == Signature.Status.WITHDRAWN:
        return False
    was_counted = signature.is_counted
    signature.status = Signature.Status.WITHDRAWN
    signature.withdrawn_at = timezone.now()
    signature.save(update_fields=["status", "withdrawn_at"])
    if was_counted:
        _count(signature, -1)
    return True


@transaction.atomic
def change_level(*, signature_id: int, visibility: str) -> bool:
    """Move a signature to a more private level (never back). False if nothing changed."""
    signature = Signature.objects.select_for_update().get(pk=signature_id)
    if signature.status == Signature.Status.WITHDRAWN:
        return False
    if LEVEL_ORDER.index(visibility) <= LEVEL_ORDER.index(signature.visibility):
        return False
    if signature.is_counted:
        Tally.objects.filter(letter_id=signature.letter_id).update(
            **{
                signature.visibility: F(signature.visibility) - 1,
                visibility: F(visibility) + 1,
            }
        )
    signature.visibility = visibility
    if visibility == Level.PRIVATE and signature.status == Signature.Status.VERIFIED:
        _erase_identity(signature)
    signature.save()
    return True


@transaction.atomic
def request_manage_link(*, letter: Letter, email: str) -> None:
    """Mail a manage link to an address that has an active signature; silent otherwise.

    Works for private signers too: the typed address is checked against the stored hash and the
    link goes to that address only.
    """
    email = normalise_email(email)
    signature = (
        Signature.objects.active()
        .filter(letter=letter, email_hash=email_hash(email))
        .select_related("letter")
        .first()
    )
    if signature is not None:
        emails.manage_link(signature, to=email)


def purge_pending_signatures(*, days: int | None = None) -> int:
    """Delete signatures never confirmed within `days` (PENDING_SIGNATURE_DAYS by default)."""
    days = settings.PENDING_SIGNATURE_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Signature.objects.filter(
        status=Signature.Status.PENDING, created_at__lt=cutoff
    ).delete()
    return deleted


def requeue_unsent_mail(*, older_than: int | None = None) -> int:
    """Queue again every outbox mail not sent after `older_than` seconds and not being sent now."""
    older_than = settings.MAIL_REQUEUE_AFTER_SECONDS if older_than is None else older_than
    now = timezone.now()
    ids = list(
        Mail.objects.filter(created_at__lt=now - timedelta(seconds=older_than))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .values_list("pk", flat=True)[:5000]
    )
    for mail_id in ids:
        tasks.enqueue_mail(mail_id)
    return len(ids)


@transaction.atomic
def publish(*, letter_id: int) -> Letter:
    """Open a draft (or reopen a closed letter); the first publication freezes version 1."""
    letter = Letter.objects.select_for_update().get(pk=letter_id)
    ensure_tally(letter.pk)
    if not letter.versions.exists():
        letter.versions.create(number=1, title=letter.title, body=letter.body)
    letter.status = Letter.Status.OPEN
    letter.published_at = letter.published_at or timezone.now()
    letter.closed_at = None
    letter.save(update_fields=["status", "published_at", "closed_at"])
    return letter


@transaction.atomic
def close(*, letter_id: int) -> None:
    Letter.objects.filter(pk=letter_id, status=Letter.Status.OPEN).update(
        status=Letter.Status.CLOSED, closed_at=timezone.now()
    )
