"""Signing a letter: the pending signature and its verification mail, a repeated address answered
by mail, and the confirmation, which counts and logs the signature and hands back its receipt.

Both ways in, signed out (sign) and signed in (accounts_signing.sign_as_user), make the pending
row through start_signature and confirm it through verify.
"""

from datetime import timedelta
from types import EllipsisType

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from lib.addresses import email_hash, email_hashes, legacy_email_hash, normalise_email
from petition import emails, tlog, translations
from petition.models import Letter, Level, PendingIdentity, Signature

from .counting import count_and_log, new_ref


class SigningClosed(Exception):
    """The letter is a draft or closed."""


def active_signature(letter: Letter, email: str) -> Signature | None:
    return (
        Signature.objects.active()
        .filter(letter=letter, email_hash__in=email_hashes(email))
        .select_related("letter")
        .first()
    )


def signer_details(
    *,
    name: str,
    affiliation: str,
    job_title: str,
    team: str,
    city: str,
    show_affiliation: bool,
    show_job_title: bool,
    show_team: bool,
    show_city: bool,
    wants_updates: bool,
    visibility: str,
    user,
) -> dict:
    """A signer's choices as the signature's fields, the texts trimmed. A private signature is
    never linked to an account, at any moment."""
    return {
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


def start_signature(
    *, letter: Letter, email: str, hashed: str, language: str, details: dict, mail: bool
) -> Signature | None:
    """Make the pending signature of a normalised address (`hashed`: its hash), on the letter's
    latest version, in the language the signer read it in (the original when blank or not
    offered). A private signer's name and address are kept apart, in PendingIdentity, until the
    signature is confirmed. With `mail`, its verification mail is written with it.

    In a transaction of its own (a savepoint inside the caller's): None, and nothing made, when
    the address has an active signature on the letter (the one-signature constraint refused it).
    """
    version = letter.versions.order_by("-number").first()
    text = translations.signed_text(letter, version, language)
    private = details["visibility"] == Level.PRIVATE
    fields = {**details, "name": "" if private else details["name"]}
    if mail:
        fields["mail_requested_at"] = timezone.now()  # its mail is queued below, with the row
    try:
        with transaction.atomic():
            signature = Signature.objects.create(
                letter=letter,
                version=version,
                language=text.language,
                text_hash=text.hash,
                email="" if private else email,
                email_hash=hashed,
                **fields,
            )
            if private:
                # verify() reads the address from here, and drops it.
                PendingIdentity.objects.create(
                    signature=signature, name=details["name"], email=email
                )
            if mail:
                emails.verification(signature)
    except IntegrityError:
        return None
    return signature


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
    details = signer_details(
        name=name,
        affiliation=affiliation,
        job_title=job_title,
        team=team,
        city=city,
        show_affiliation=show_affiliation,
        show_job_title=show_job_title,
        show_team=show_team,
        show_city=show_city,
        wants_updates=wants_updates,
        visibility=visibility,
        user=user,
    )
    signature = None
    if not _signed_under_legacy_hash(letter, email, hashed):
        signature = start_signature(
            letter=letter, email=email, hashed=hashed, language=language, details=details, mail=True
        )
    if signature is None:  # the address has an active signature on the letter
        _answer_repeat(letter, email)


def _signed_under_legacy_hash(letter: Letter, email: str, hashed: str) -> bool:
    """A row made before canonical_email carries the old hash, which the constraint cannot see."""
    legacy = legacy_email_hash(email)
    return (
        legacy != hashed
        and Signature.objects.active().filter(letter=letter, email_hash=legacy).exists()
    )


def queue_verification(signature: Signature) -> None:
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
def _answer_repeat(letter: Letter, email: str) -> None:
    """An address that has an active signature submitted again: its link again (pending), or a
    mail saying it signed (verified), to the address as typed now, never on the page."""
    existing = active_signature(letter, email)
    if existing is None:  # withdrawn in between: nothing to tell
        return
    if existing.status == Signature.Status.PENDING:
        queue_verification(existing)
    else:
        emails.already_signed(existing, to=email)


@transaction.atomic
def resend(*, letter: Letter, email: str) -> None:
    """Mail the verification link again to a pending signer; silent for any other address."""
    signature = active_signature(letter, email)
    if signature is not None and signature.status == Signature.Status.PENDING:
        queue_verification(signature)


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
    new_ref(signature)
    if signature.visibility == Level.PRIVATE:
        PendingIdentity.objects.filter(signature_id=signature.pk).delete()
        erase_identity(signature)
    signature.save()
    # Everything that can be done before the letter's hot rows (its tally and log head, which
    # every verification of the letter locks until commit) is done first: the mail, and the
    # latest checkpoint the receipt carries (the new entry is in the next one anyway).
    mail = emails.confirmation(signature, to=address)
    return signature, _count_with_receipt(signature, mail)


def _count_with_receipt(signature: Signature, mail) -> dict:
    """Count and log a signature just confirmed; returns its receipt, which is written into its
    confirmation mail (`mail`) in the same transaction."""
    letter = signature.letter
    salt = bytes.fromhex(signature.log_salts[-1]["salt"])
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
        index = count_and_log(signature, +1, "sign")
        receipt = receipt_for(index)
        with connection.cursor() as cursor:
            cursor.execute(*emails.receipt_statement(mail, receipt))
        return receipt
    receipts = []

    def with_receipt(index: int) -> list:
        receipts.append(receipt_for(index))
        return [emails.receipt_statement(mail, receipts[0])]

    count_and_log(signature, +1, "sign", also=with_receipt)
    return receipts[0]


@transaction.atomic
def verify_by_link(*, signature_id: int, user_id: int | None) -> tuple[Signature, dict | None]:
    """Confirm through the mailed link. A signature started from an account keeps that link only
    when confirmed from the same account: whoever typed someone else's address must not come to
    manage the signature that person confirms."""
    return verify(signature_id=signature_id, confirmed_by=user_id)


def erase_identity(signature: Signature) -> None:
    signature.name = ""
    signature.email = ""
    signature.user = None


def set_aside_identity(signature: Signature, *, name: str, email: str) -> None:
    """Make a signature private before it is saved: a pending one's name and address move to
    PendingIdentity (the link must still reach the address), a verified one's are erased."""
    if signature.status == Signature.Status.PENDING:
        PendingIdentity.objects.update_or_create(
            signature=signature, defaults={"name": name, "email": email}
        )
    erase_identity(signature)
