from django.core.management.base import BaseCommand

from petition import services


class Command(BaseCommand):
    help = (
        "Mail organisers the digest of co-sign requests that no digest has mentioned yet, for "
        "requests older than twice COSIGN_DIGEST_DELAY (the task scheduled when they arrived was "
        "lost). Celery beat runs the same every 5 minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=None, help="seconds")

    def handle(self, *args, older_than=None, **options):
        count = services.send_due_cosign_digests(older_than=older_than)
        self.stdout.write(f"Queued the digest of {count} letter(s).")
