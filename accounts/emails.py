"""Organisation mails: one function per message, queued in the outbox like every other mail
(lib/mailqueue.py), in the language of the request or task that sends it."""

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from lib import mailqueue
from lib.addresses import email_hash

from . import tokens
from .models import OrganisationInvite


def invite_url(invite: OrganisationInvite) -> str:
    token = tokens.make_invite(invite_id=invite.pk, email_hash=email_hash(invite.email))
    return settings.SITE_URL + reverse("organisation_invite", kwargs={"token": token})


def invitation(invite: OrganisationInvite, *, invited_by_name: str) -> None:
    context = {
        "site_url": settings.SITE_URL,
        "organisation": invite.organisation,
        "role": invite.get_role_display(),
        "invited_by": invited_by_name,
        "url": invite_url(invite),
    }
    template = "accounts/email/invitation"
    mailqueue.queue(
        kind="organisation-invite",
        to=invite.email,
        subject=render_to_string(f"{template}_subject.txt", context),
        text=render_to_string(f"{template}_message.txt", context),
        html=render_to_string(f"{template}_message.html", context),
    )
