from django.core.management.base import BaseCommand

from petition import services


class Command(BaseCommand):
    help = (
        "Take the verified-employee mark off every confirmed signature whose work address was "
        "proven longer ago than its letter's period (employee_verification_months, default 12). "
        "The signature still counts; the tally and the public log record the change."
    )

    def handle(self, *args, **options):
        count = services.expire_employee_verifications()
        self.stdout.write(f"Expired {count} employer verification(s).")
