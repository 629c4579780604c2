from allauth.account.adapter import DefaultAccountAdapter

from petition import emails


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's mails go through the outbox and Celery like every other mail."""
        message = self.render_mail(template_prefix, email, {"email": email, **context})
        html = ""
        for content, mimetype in getattr(message, "alternatives", []):
            if mimetype == "text/html":
                html = content
        emails.queue_rendered(
            kind=template_prefix.rpartition("/")[2],
            to=email,
            subject=message.subject,
            text=message.body,
            html=html,
        )
