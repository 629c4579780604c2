"""What a signer does with a signature made: withdraw it, make it more private, ask for a manage
link, disown one made with their address; and the purge of signatures never confirmed."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from lib.addresses import normalise_email
from petition import emails, tlog, tokens
from petition.models import LEVEL_ORDER, Letter, Level, Mail, PendingIdentity, Signature

from .counting import count_and_log, logged_level, purge_pages, supersede
from .signing import active_signature, set_aside_identity

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
        count_and_log(signature, -1, "withdraw")
        purge_pages(signature.letter_id)
    return True


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
    set_level(signature, visibility)
    return True


def set_level(signature: Signature, visibility: str) -> None:
    """Move a (locked) signature to another level, keeping counts and the log exact. A hidden
    one's log moves when it is restored (restore_signature)."""
    previous, logged = signature.visibility, logged_level(signature)
    signature.visibility = visibility
    if visibility == Level.PRIVATE:
        set_aside_identity(signature, name=signature.name, email=signature.email)
    signature.link_generation += 1  # the manage link that asked for it is spent
    signature.save()
    if signature.is_counted:
        index, _ = tlog.allocate(signature.letter_id, counts={previous: -1, visibility: +1})
        supersede(signature, old_level=logged, index=index)
        purge_pages(signature.letter_id)


@transaction.atomic
def request_manage_link(*, letter: Letter, email: str) -> None:
    """Mail a manage link to an address that has an active signature; silent otherwise.

    Works for private signers too: the typed address is checked against the stored hash and the
    link goes to that address only.
    """
    email = normalise_email(email)
    signature = active_signature(letter, email)
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
