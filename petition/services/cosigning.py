"""Co-signatures: organisations co-sign letters, organisers approve or reject them, and hear of
new requests in a digest.

Approved co-signatures are counted in Tally.cosigners, apart from people's signatures, moved
with F() in the transaction that changes the status (a conditional update, so a second click
or a race changes nothing and mails nobody twice).
"""

import functools
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Membership, Organisation
from petition import emails, jobs, tlog
from petition.models import AuditEvent, CoSignature, Letter, Organiser, reading_key

from .audit import audit
from .counting import ensure_tally


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


def schedule_cosign_digest(letter_id: int) -> None:
    """Run the digest a little later, so requests arriving together make one mail; the ones that
    run after it find nothing left to mention. A lost message is caught by the sweep
    (send_due_cosign_digests)."""
    jobs.enqueue("cosign_digest", letter_id, countdown=settings.COSIGN_DIGEST_DELAY)


def _schedule_cosign_digest(letter_id: int) -> None:
    # robust: with the broker down the request still stands; the sweep sends its digest later.
    transaction.on_commit(functools.partial(schedule_cosign_digest, letter_id), robust=True)


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
    audit(
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
    audit(
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
        jobs.enqueue("cosign_digest", letter_id)
    return len(letter_ids)
