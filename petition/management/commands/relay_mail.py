from django.core.management.base import BaseCommand

from petition import outbox


class Command(BaseCommand):
    help = (
        "Send every mail waiting in the outbox that no relay holds and no backoff puts off, "
        "over one SMTP session, until the outbox is empty or the mail server fails."
    )

    def handle(self, *args, **options):
        result = outbox.relay()
        self.stdout.write(f"Sent {result['sent']} mail(s).")
