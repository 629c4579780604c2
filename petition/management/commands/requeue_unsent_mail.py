from django.core.management.base import BaseCommand

from petition import services


class Command(BaseCommand):
    help = (
        "Queue again every mail in the outbox that was not handed to the mail server within "
        "MAIL_REQUEUE_AFTER_SECONDS (default 60) and that no task is sending right now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=None, help="seconds")

    def handle(self, *args, older_than=None, **options):
        count = services.requeue_unsent_mail(older_than=older_than)
        self.stdout.write(f"Queued {count} mail(s) again.")
