from django.core.management.base import BaseCommand

from petition import services


class Command(BaseCommand):
    help = (
        "Close every open letter whose deadline has passed (the periodic job does it each minute)."
    )

    def handle(self, *args, **options):
        count = services.close_letters_past_deadline()
        self.stdout.write(f"Closed {count} letter(s).")
