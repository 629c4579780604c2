import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse
from django.utils.http import urlencode

from petition import services
from petition.models import Letter

DEMO_EMAIL = "organiser@example.org"

TEXT = """\
We, the undersigned employees of Example Corp and the organisations that stand with us, ask
leadership to stop selling **FaceFinder**, our face-recognition product, to police forces.

We build these tools. We know what they get wrong:

- they misidentify women and people with darker skin far more often;
- they turn every camera into a checkpoint, and every protest into a list of names;
- once sold, we cannot take them back.

We ask you to:

1. end every FaceFinder contract with law enforcement this year;
2. publish the list of current customers;
3. let employees refuse to work on surveillance products without penalty.

We sign because we care about this company and the people our work touches.
"""


class Command(BaseCommand):
    help = (
        "Create the demo organiser (its address already confirmed, so it can sign in at once) "
        "and an open demo letter, unless they exist already. With --password, give the demo "
        "organiser a new random password and print how to sign in with it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            action="store_true",
            help="Set a new random password for the demo organiser and print it (make run does).",
        )

    def handle(self, *args, **options):
        with transaction.atomic():
            organiser = self._organiser()
            letter, created = self._letter(organiser)
            password = ""
            if options["password"]:
                password = secrets.token_urlsafe(12)
                organiser.set_password(password)
                organiser.save(update_fields=["password"])
        verb = "Created" if created else "Found"
        url = settings.SITE_URL + letter.get_absolute_url()
        self.stdout.write(f"{verb} the demo letter at {url}")
        if password:
            self._print_way_in(password)

    def _organiser(self):
        organiser, _ = get_user_model().objects.get_or_create(
            email=DEMO_EMAIL, defaults={"name": "Demo Organiser"}
        )
        # allauth refuses to sign in an account whose address is not confirmed: the demo
        # organiser's is, so a newcomer is not sent to look for a mail first.
        EmailAddress.objects.update_or_create(
            user=organiser, email=DEMO_EMAIL, defaults={"verified": True, "primary": True}
        )
        return organiser

    def _letter(self, organiser) -> tuple[Letter, bool]:
        letter, created = Letter.objects.get_or_create(
            slug="stop-selling-facefinder-to-police",
            defaults={
                "title": "Stop selling FaceFinder to police",
                "addressee": "The leadership of Example Corp",
                "body": TEXT,
                "created_by": organiser,
                "employer_domains": "example.com",
                "goal": 500,
            },
        )
        if letter.status == Letter.Status.DRAFT:
            letter = services.publish(letter_id=letter.pk)
        return letter, created

    def _print_way_in(self, password: str) -> None:
        workspace = reverse("organiser:dashboard")
        login = reverse("account_login") + "?" + urlencode({"next": workspace})
        rule = "=" * 72
        self.stdout.write(
            "\n".join(
                [
                    rule,
                    "The organiser workspace, for the demo organiser:",
                    f"  1. open     {settings.SITE_URL}{login}",
                    f"  2. email    {DEMO_EMAIL}",
                    f"  3. password {password}",
                    "  4. press 'Sign in': you are in the workspace, with the demo letter.",
                    "A new password is made each time `make run` starts.",
                    rule,
                ]
            )
        )
