from django.core.management.base import BaseCommand

from petition import tlog


class Command(BaseCommand):
    help = (
        "Sign a new checkpoint for every letter whose public log has grown past its latest "
        "checkpoint (Celery beat runs the same every 30 seconds)."
    )

    def handle(self, *args, **options):
        count = tlog.checkpoint_stale_letters()
        self.stdout.write(f"Signed {count} checkpoint(s).")
