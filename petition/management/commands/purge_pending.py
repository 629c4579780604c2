from django.core.management.base import BaseCommand

from petition import services


class Command(BaseCommand):
    help = (
        "Delete signatures whose email was never confirmed, once they are older than "
        "PENDING_SIGNATURE_DAYS days (default 7)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args, days=None, **options):
        count = services.purge_pending_signatures(days=days)
        self.stdout.write(f"Deleted {count} unconfirmed signature(s).")
