"""Employer verification: a work address is proven for a letter's employee_verification_months,
then lapses until the signer proves it again through a mailed link."""

import calendar

from django.db import transaction
from django.utils import timezone

from lib.addresses import email_hashes, normalise_email
from petition import emails, tlog
from petition.models import DomainTally, Letter, Signature

from .counting import add_statement, log


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
    domain = add_statement(DomainTally, (signature.letter_id, signature.employer_domain, delta))
    index, _ = tlog.allocate(signature.letter_id, counts={"employees": delta}, also=[domain])
    log(signature, "employment", index=index)


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
