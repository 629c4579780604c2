"""Updates: organisers write to the signers who asked for news of the letter, with translations
for the signers who read it in another language. An update is sent in batches, one task each,
exactly once per signer; it can be paused and resumed, and a signer can unsubscribe."""

import functools
import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from petition import emails, jobs, outbox
from petition.models import AuditEvent, Signature, Update, UpdateDelivery, UpdateTranslation

from .audit import audit

# Mails queued per update task: small enough that a batch commits in well under a second.
UPDATE_BATCH_SIZE = 200


def update_recipients(letter_id: int):
    """Signers an update goes to: verified, counted, still asking for updates, and with an
    address (a private signer's address is erased once verified, so they get none)."""
    return (
        Signature.objects.counted()
        .filter(letter_id=letter_id, wants_updates=True)
        .exclude(email="")
    )


def enqueue_update(update_id: int) -> None:
    """Queue the update's next batch. A message the broker never got is picked up by the resume
    job (resume_stalled_updates)."""
    jobs.enqueue("send_update", update_id)


@transaction.atomic
def send_update(
    *,
    letter_id: int,
    actor,
    subject: str,
    body: str,
    key: uuid.UUID | None = None,
    translations: dict[str, dict] | None = None,
) -> tuple[Update, bool]:
    """Write an update and start sending it, in batches, once this transaction commits.

    `key` is the form's idempotency key: a form submitted again (a double click, a browser
    retry, the back button), even at the same instant, finds the update it made instead of
    making a second one. Returns the update and whether it is new. `translations`: {language:
    {"subject", "body"}} for languages the letter is offered in (the form checks it); each
    signer gets the one of the language they read the letter in, or the update as written."""
    if key is not None:
        existing = Update.objects.filter(letter_id=letter_id, key=key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            update = Update.objects.create(
                letter_id=letter_id,
                key=key,
                subject=subject,
                body=body,
                created_by=actor,
                total=update_recipients(letter_id).count(),
            )
            UpdateTranslation.objects.bulk_create(
                UpdateTranslation(update=update, language=language, **text)
                for language, text in (translations or {}).items()
            )
    except IntegrityError:
        # The same form, submitted at the same instant, committed first.
        return Update.objects.get(letter_id=letter_id, key=key), False
    audit(letter_id, actor, AuditEvent.Action.UPDATE, target=f"update {update.pk}: {subject}")
    transaction.on_commit(functools.partial(enqueue_update, update.pk), robust=True)
    return update, True


def deliver_update_batch(*, update_id: int, batch_size: int | None = None) -> int:
    """Queue the update's mail for the next batch of recipients; returns how many (0: done or
    paused).

    Exactly once, whatever crashes: the batch's outbox rows, its UpdateDelivery rows (unique per
    update and signature) and the moved cursor commit together or not at all, under the
    update's row lock, so a re-run after a crash starts where the last committed batch ended.
    """
    batch_size = batch_size or UPDATE_BATCH_SIZE
    with transaction.atomic():
        update = (
            Update.objects.select_for_update()
            .select_related("letter")
            .prefetch_related("translations")  # each signer's language: Update.text_in
            .get(pk=update_id)
        )
        if update.status == Update.Status.SENT or update.paused_at is not None:
            return 0
        batch = list(
            update_recipients(update.letter_id)
            # Signers who confirmed after the update was written read it on the letter's page.
            .filter(pk__gt=update.cursor, verified_at__lte=update.created_at)
            .select_related("letter")
            .order_by("pk")[:batch_size]
        )
        now = timezone.now()
        if not batch:
            update.status = Update.Status.SENT
            update.finished_at = now
            # The final figure is the real one: some may have unsubscribed or withdrawn meanwhile.
            update.total = update.queued
            update.save(update_fields=["status", "finished_at", "total", "touched_at"])
            return 0
        for signature in batch:
            emails.update_to_signer(update, signature)
        UpdateDelivery.objects.bulk_create(
            [UpdateDelivery(update=update, signature=s, sent_at=now) for s in batch]
        )
        update.cursor = batch[-1].pk
        update.queued = F("queued") + len(batch)
        update.touched_at = now
        update.save(update_fields=["cursor", "queued", "touched_at"])
        return len(batch)


def deliver_update_and_continue(*, update_id: int) -> int:
    """The update task: one batch, then the next batch as a task of its own (no task nears the
    time limit). A crash anywhere is safe: the batch either committed whole or not at all."""
    queued = deliver_update_batch(update_id=update_id)
    if queued:
        enqueue_update(update_id)
    return queued


@transaction.atomic
def pause_update(*, update_id: int, actor) -> bool:
    """Hold an update back: no more batches, and its queued mail stays in the outbox. False if
    it was paused already or has nothing left to send."""
    update = Update.objects.select_for_update().get(pk=update_id)
    if update.paused_at is not None or not update.left:
        return False
    update.paused_at = timezone.now()
    update.save(update_fields=["paused_at"])
    audit(update.letter_id, actor, AuditEvent.Action.UPDATE, target=f"update {update.pk} paused")
    return True


@transaction.atomic
def resume_update(*, update_id: int, actor) -> bool:
    """Carry on sending a paused update where it stopped. False if it was not paused."""
    resumed = Update.objects.filter(pk=update_id, paused_at__isnull=False).update(
        paused_at=None, touched_at=timezone.now()
    )
    if not resumed:
        return False
    letter_id = Update.objects.values_list("letter_id", flat=True).get(pk=update_id)
    audit(letter_id, actor, AuditEvent.Action.UPDATE, target=f"update {update_id} resumed")
    transaction.on_commit(functools.partial(enqueue_update, update_id), robust=True)
    # The mail it had queued before the pause is held in the outbox: the relay may take it now.
    transaction.on_commit(outbox.kick_relay, robust=True)
    return True


def resume_stalled_updates(*, idle_seconds: int = 300) -> int:
    """Queue again every update still sending whose last batch is older than `idle_seconds`."""
    cutoff = timezone.now() - timedelta(seconds=idle_seconds)
    ids = list(
        Update.objects.filter(
            status=Update.Status.SENDING, touched_at__lt=cutoff, paused_at__isnull=True
        ).values_list("pk", flat=True)
    )
    for update_id in ids:
        enqueue_update(update_id)
    return len(ids)


@transaction.atomic
def unsubscribe(*, signature_id: int) -> bool:
    """Stop updates to a signature. False if they were already off."""
    return bool(
        Signature.objects.filter(pk=signature_id, wants_updates=True).update(wants_updates=False)
    )
