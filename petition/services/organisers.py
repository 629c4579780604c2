"""A letter's team of organisers: invitations (sent, accepted, revoked) and roles."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from lib.addresses import normalise_email
from petition import emails
from petition.models import AuditEvent, Letter, Organiser, OrganiserInvite

from .audit import audit
from .letters import WorkspaceError


class InviteRevoked(WorkspaceError):
    """An owner took the invitation back."""


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
    audit(letter.pk, actor, AuditEvent.Action.INVITE, target=f"{email} as {role}")
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
    audit(invite.letter_id, user, AuditEvent.Action.JOIN, target=f"{user.email} as {invite.role}")
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
        audit(letter_id, actor, AuditEvent.Action.REVOKE_INVITE, target=email)
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
    audit(letter_id, actor, AuditEvent.Action.ROLE, target=f"{member.user.email} to {role}")


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
    audit(letter_id, actor, AuditEvent.Action.REMOVE, target=member.user.email)
