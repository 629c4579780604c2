"""Organisation mails: one function per message, through the outbox like every other mail."""

from django.urls import reverse

from lib.addresses import email_hash
from petition import emails as outbox

from . import tokens
from .models import OrganisationInvite


def invite_url(invite: OrganisationInvite) -> str:
    token = tokens.make_invite(invite_id=invite.pk, email_hash=email_hash(invite.email))
    return outbox.absolute(reverse("organisation_invite", kwargs={"token": token}))


def invitation(invite: OrganisationInvite, *, invited_by_name: str) -> None:
    outbox.queue(
        kind="organisation-invite",
        to=invite.email,
        template="accounts/email/invitation",
        context={
            "organisation": invite.organisation,
            "role": invite.get_role_display(),
            "invited_by": invited_by_name,
            "url": invite_url(invite),
        },
    )
