"""The delivery PDF of a letter with 10,000 public names and 44 organisations: time and peak RSS.

Seeds its own letter in the benchmark's database (signatures in bulk: the log is not what is
measured here), freezes a delivery with the real service, then builds the A4 PDF in a fresh
child process, so its peak RSS is the PDF's alone (Django and WeasyPrint loaded included).
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
NAMES = 10_000
ORGANISATIONS = 44
FIRST = ["Ada", "Bola", "Chen", "Dmitri", "Esther", "Farid", "Grace", "Hiroshi", "Ines", "Jamal"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Nakamura", "Oyelaran", "Petrov", "Quispe", "Rossi"]

CHILD = """
import json, resource, sys, tempfile, time
import django
django.setup()
from petition import delivery_documents
from petition.models import Delivery
from pypdf import PdfReader
delivery = Delivery.objects.select_related("letter").get(pk=int(sys.argv[1]))
usage = resource.getrusage(resource.RUSAGE_SELF)
before, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
started = time.monotonic()
with tempfile.TemporaryFile() as handle:
    delivery_documents.write_pdf(delivery, "A4", handle, lambda fraction: None)
    seconds = time.monotonic() - started
    handle.seek(0)
    pages = len(PdfReader(handle).pages)
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu
result = {"seconds": seconds, "cpu": cpu, "peak_kb": usage.ru_maxrss, "before_kb": before}
print(json.dumps({**result, "pages": pages}))
"""


def seed() -> int:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.models import Organisation
    from petition import services
    from petition.models import CoSignature, Letter, Signature, Tally, reading_key

    user, _ = get_user_model().objects.get_or_create(email="delivery-bench@example.org")
    letter = Letter.objects.create(
        slug="delivery-bench",
        title="Stop selling FaceFinder to the police",
        addressee="The Board of Example Corp",
        body="We, the undersigned, ask the board to **stop** selling FaceFinder.\n\n" * 20,
        created_by=user,
        accepts_organisations=True,
    )
    letter = services.publish(letter_id=letter.pk)
    now = timezone.now()
    Signature.objects.bulk_create(
        (
            Signature(
                letter=letter,
                name=f"{FIRST[n % 10]} {LAST[n % 8]} {n}",
                email_hash=hashlib.sha256(f"bench-{n}".encode()).hexdigest(),
                affiliation="Example Corp",
                job_title="Engineer",
                show_affiliation=True,
                show_job_title=n % 2 == 0,
                status=Signature.Status.VERIFIED,
                verified_at=now,
            )
            for n in range(NAMES)
        ),
        batch_size=2000,
    )
    for n in range(ORGANISATIONS):
        name = f"Organisation for Civil Liberties number {n}"
        organisation = Organisation.objects.create(name=name, slug=f"delivery-bench-org-{n}")
        CoSignature.objects.create(
            letter=letter,
            organisation=organisation,
            display_name=name,
            status=CoSignature.Status.APPROVED,
            sort_key=reading_key(name),
            pinned_position=n + 1 if n < 3 else None,
        )
    Tally.objects.update_or_create(
        letter=letter,
        defaults={"verified": NAMES, "public": NAMES, "cosigners": ORGANISATIONS},
    )
    return letter.pk


def measure(env: dict) -> dict:
    import time

    from petition import deliveries

    letter_id = seed()
    started = time.monotonic()
    # Frozen with the real service; the build the service queues is run below instead.
    with mock.patch("petition.deliveries.enqueue_delivery"):
        delivery = deliveries.prepare(
            letter_id=letter_id,
            actor=None,
            addressee="The Board of Example Corp",
            cover_note="Handed over at the annual meeting.",
            include_names=True,
            include_organisations=True,
            include_counts=True,
        )
    freeze_s = time.monotonic() - started
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(delivery.pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    child = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "delivery_pdf_10k_s": round(child["seconds"], 1),
        # CPU seconds too: on a shared machine the wall time is mostly waiting for a core.
        "delivery_pdf_10k_cpu_s": round(child["cpu"], 1),
        "delivery_pdf_10k_mb": round(child["peak_kb"] / 1024),
        "delivery_pdf_10k_mb_before": round(child["before_kb"] / 1024),
        "delivery_pdf_10k_pages": child["pages"],
        "delivery_freeze_10k_s": round(freeze_s, 2),
    }
