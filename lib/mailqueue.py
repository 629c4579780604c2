"""Put a rendered mail in the outbox, whichever app keeps it.

settings.MAIL_QUEUE names the callable that does it, as EMAIL_BACKEND names the class that sends
mail, so an app lower than the outbox's (accounts) can send mail without importing it. The
callable writes the mail in the caller's transaction and has it sent once that transaction
commits.
"""

from django.conf import settings
from django.utils.module_loading import import_string


def queue(*, kind: str, to: str, subject: str, text: str, html: str = ""):
    """Queue one mail, already rendered; returns what the outbox returns (its stored row)."""
    store = import_string(settings.MAIL_QUEUE)
    return store(kind=kind, to=to, subject=subject, text=text, html=html)
