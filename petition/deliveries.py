"""Deliveries: freeze a letter as handed over, build its documents, mark it delivered.

A delivery is frozen under the letter's Tally row lock, the lock every change to what the letter
counts takes to append to its log: so the counts, the public names copied and the signed
checkpoint all describe the same moment. The documents are built afterwards by a Celery task,
from those frozen rows only (delivery_documents.build: WeasyPrint is loaded by the worker
alone, never by the web processes).
"""

import base64
import binascii

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone, translation

from lib import merkle, signed_note

from . import jobs, services, tlog
from .models import (
    Checkpoint,
    CoSignature,
    Delivery,
    DeliveryName,
    Letter,
    Level,
    Signature,
    Tally,
)

COPY_BATCH = 2000
COUNT_FIELDS = ("verified", "public", "anonymous", "private", "employees", "cosigners")


def _checkpoint_at(letter: Letter, size: int) -> Checkpoint:
    """The signed checkpoint of exactly `size` entries: the one kept, or a new one."""
    found = Checkpoint.objects.filter(letter=letter, size=size).first()
    if found is not None:
        return found
    root = merkle.root(size, tlog.get_nodes_for(letter.pk))
    note = tlog.signer().sign_note(signed_note.format_checkpoint(tlog.origin(letter), size, root))
    try:
        with transaction.atomic():
            return Checkpoint.objects.create(letter=letter, size=size, root=root, note=note)
    except IntegrityError:  # the checkpoint job signed the same size first
        return Checkpoint.objects.get(letter=letter, size=size)


def _organisations(letter: Letter) -> list[dict]:
    listed = CoSignature.objects.filter(letter=letter).listed().in_reading_order()
    return [
        {"name": name, "lead": pinned is not None}
        for name, pinned in listed.values_list("display_name", "pinned_position")
    ]


def _copy_names(delivery: Delivery) -> int:
    """Copy the counted public signers into the delivery, by name, in batches (bounded memory)."""
    signers = (
        Signature.objects.counted()
        .filter(letter_id=delivery.letter_id, visibility=Level.PUBLIC)
        .order_by(Lower("name"), "pk")
        .only(
            "name", "visibility", "job_title", "team", "affiliation", "city",
            "show_job_title", "show_team", "show_affiliation", "show_city",
        )
    )  # fmt: skip
    batch: list[DeliveryName] = []
    position = 0
    for signature in signers.iterator(chunk_size=COPY_BATCH):
        batch.append(
            DeliveryName(
                delivery=delivery,
                position=position,
                name=signature.name,
                details=", ".join(signature.shown_details),
            )
        )
        position += 1
        if len(batch) == COPY_BATCH:
            DeliveryName.objects.bulk_create(batch)
            batch = []
    DeliveryName.objects.bulk_create(batch)
    return position


@transaction.atomic
def prepare(
    *,
    letter_id: int,
    actor,
    addressee: str,
    cover_note: str,
    include_names: bool,
    include_organisations: bool,
    include_counts: bool,
) -> Delivery:
    """Freeze the letter as it stands and queue the building of its documents."""
    letter = Letter.objects.get(pk=letter_id)
    tally = Tally.objects.select_for_update().filter(letter_id=letter_id).first()
    tally = tally or Tally(letter=letter)
    checkpoint = _checkpoint_at(letter, tally.log_size)
    version = letter.versions.order_by("-number").first()
    delivery = Delivery.objects.create(
        letter=letter,
        created_by=actor,
        version=version,
        version_number=version.number if version else None,
        title=version.title if version else letter.title,
        body=version.body if version else letter.body,
        language=translation.get_language() or "en",
        addressee=addressee,
        cover_note=cover_note,
        include_names=include_names,
        include_organisations=include_organisations,
        include_counts=include_counts,
        checkpoint_size=checkpoint.size,
        checkpoint_root=bytes(checkpoint.root).hex(),
        checkpoint_note=checkpoint.note,
        organisations=_organisations(letter) if include_organisations else [],
        **{field: getattr(tally, field) for field in COUNT_FIELDS},
    )
    if include_names:
        delivery.names_count = _copy_names(delivery)
        Delivery.objects.filter(pk=delivery.pk).update(names_count=delivery.names_count)
    transaction.on_commit(lambda: enqueue_delivery(delivery.pk), robust=True)
    return delivery


def enqueue_delivery(delivery_id: int) -> None:
    """Queue the build of a frozen delivery's documents (delivery_documents.build, run by the
    worker)."""
    jobs.enqueue("build_delivery", delivery_id)


def mark_delivered(
    *, delivery_id: int, actor, delivered_to: str, update_subject: str = "", update_body: str = ""
) -> bool:
    """Publish a ready delivery as handed over (once); optionally tell the signers who asked for
    updates, through the one update path. False if it was not ready or already delivered."""
    with transaction.atomic():
        marked = Delivery.objects.filter(
            pk=delivery_id, status=Delivery.Status.READY, delivered_at__isnull=True
        ).update(delivered_at=timezone.now(), delivered_to=delivered_to)
        if marked and update_subject and update_body:
            letter_id = Delivery.objects.values_list("letter_id", flat=True).get(pk=delivery_id)
            services.send_update(
                letter_id=letter_id, actor=actor, subject=update_subject, body=update_body
            )
    return bool(marked)


def counts(delivery: Delivery) -> dict:
    return {field: getattr(delivery, field) for field in COUNT_FIELDS}


def summary(delivery: Delivery) -> dict:
    """The public description of a delivered delivery, as the page and auditors read it."""
    return {
        "letter": delivery.letter.slug,
        "code": delivery.code,
        "title": delivery.title,
        "version": delivery.version_number,
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        "delivered_to": delivery.delivered_to,
        "checkpoint": {
            "size": delivery.checkpoint_size,
            "root": base64.b64encode(binascii.unhexlify(delivery.checkpoint_root)).decode(),
            "note": delivery.checkpoint_note,
        },
        "counts": counts(delivery),
        "names_listed": delivery.names_count,
        "organisations": [o["name"] for o in delivery.organisations],
    }
