from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from lib import signed_note


class Command(BaseCommand):
    help = (
        "Print a new Ed25519 signing key for the public log, named after SITE_URL's host, to put "
        "in LOG_SIGNING_KEY. Prints the public verifier key on standard error."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", default=None, help="key name (default: SITE_URL's host)")

    def handle(self, *args, name=None, **options):
        key = signed_note.generate_private_key(name or urlsplit(settings.SITE_URL).netloc)
        self.stderr.write("verifier key: " + signed_note.Signer.from_private_key(key).vkey())
        self.stdout.write(key)
