from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings

from lib import mailqueue

from . import services


@dataclass(frozen=True)
class Site:
    """What allauth's mails call `current_site`, from settings rather than the request's host
    (a mail may be rendered with no request at all)."""

    name: str
    domain: str


def current_site() -> Site:
    return Site(name=settings.SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's mails go through the outbox and Celery like every other mail."""
        context = {"email": email, "current_site": current_site(), **context}
        message = self.render_mail(template_prefix, email, context)
        html = ""
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = content
        mailqueue.queue(
            kind=template_prefix.rpartition("/")[2],
            to=email,
            subject=message.subject,
            text=message.body,
            html=html,
        )

    # --- Signing in: a signed-out signer's session becomes an account's ---
    def login(self, request, user) -> None:
        """Drop the receipts a signed-out visitor's session holds for the thanks page before it
        becomes a signed-in session (Django keeps session data on log-in): a private signer's
        receipt must never sit in a session row tied to an account. The receipt is in the
        confirmation mail too."""
        stored = list(request.session.keys())  # a session is not iterable
        for key in stored:
            if key.startswith("receipt:"):
                del request.session[key]
        super().login(request, user)

    # --- Verified addresses: an organisation admin's new address may verify the organisation ---
    def confirm_email(self, request, email_address) -> bool:
        """A newly verified address may verify the organisations its owner administers."""
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            services.refresh_verification_for_user(user_id=email_address.user_id)
        return confirmed
