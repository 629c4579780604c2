from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from petition import services
from petition.models import Letter

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
    help = "Create the demo organiser and an open demo letter, unless they exist already."

    def handle(self, *args, **options):
        user_model = get_user_model()
        organiser, _ = user_model.objects.get_or_create(
            email="organiser@example.org", defaults={"name": "Demo Organiser"}
        )
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
            services.publish(letter_id=letter.pk)
        verb = "Created" if created else "Found"
        self.stdout.write(f"{verb} the demo letter at /letters/{letter.slug}/")
