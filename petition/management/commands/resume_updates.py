from django.core.management.base import BaseCommand

from petition import services


class Command(BaseCommand):
    help = (
        "Queue again every update to signers that is still sending but has not moved for "
        "--idle seconds (default 300): its worker or its queued task was lost. Nobody is mailed "
        "twice: sending carries on after the last batch that committed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--idle", type=int, default=300)

    def handle(self, *args, idle=300, **options):
        count = services.resume_stalled_updates(idle_seconds=idle)
        self.stdout.write(f"Resumed {count} update(s).")
