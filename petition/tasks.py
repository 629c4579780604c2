import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from . import outbox

logger = logging.getLogger(__name__)

# Set while a relay is queued or running, one mark per relay slot: the commits meanwhile need no
# relay of their own. A relay clears its mark only after its last empty look and then looks once
# more, so a row whose commit found every mark set is always seen; a row committed after that
# queues a new relay. Two slots: a relay waits on the mail server and the database in turn, so
# a second one doubles what a burst drains (their claims never overlap).
RELAY_KICKED = "outbox:relay-kicked:{}"
RELAY_SLOTS = 2
# Longer than a relay's time budget, so a running relay keeps its mark; a relay that died with it
# set delays the next kick by at most this (the broker's redelivery and the sweep come sooner).
RELAY_KICKED_SECONDS = outbox.BUDGET_SECONDS + 10


@shared_task(bind=True, acks_late=True)
def relay_mail(self, slot: int | None = None) -> int:
    """Send what the outbox holds over one SMTP session (petition/outbox.py); queued on commit
    by every mail, and run by beat as the sweep that picks up anything a lost message left."""
    mark = RELAY_KICKED.format(slot)
    result = outbox.relay(
        # Run inline (no broker: `make run`), it must not hold up the request that queued it.
        linger=0 if self.request.is_eager else None,
        before_last_look=(lambda: cache.delete(mark)) if slot is not None else None,
    )
    if result["again"] is not None:
        # Rows are left (the time budget ran out) or put off: run again when they are due.
        relay_mail.apply_async(countdown=result["again"], retry=False)
    return result["sent"]


def kick_relay() -> None:
    """Queue a relay unless every slot has one queued or running, without the client's retry
    loop: a row the broker never heard of is picked up by the beat sweep, so a request never
    waits on a broker that is down. The marks live in the cache web and worker share (one
    REDIS_URL)."""
    for slot in range(RELAY_SLOTS):
        mark = RELAY_KICKED.format(slot)
        if cache.add(mark, 1, timeout=RELAY_KICKED_SECONDS):
            try:
                relay_mail.apply_async((slot,), retry=False)
            except Exception:
                cache.delete(mark)
                raise
            return


@shared_task
def purge_pending_signatures() -> int:
    from . import services

    return services.purge_pending_signatures()


@shared_task
def expire_employee_verifications() -> int:
    from . import services

    return services.expire_employee_verifications()


@shared_task
def rewrite_erased_pages() -> list[str]:
    from . import erasure

    return erasure.rewrite_erased_pages()


@shared_task(acks_late=True)
def make_checkpoint(letter_id: int) -> int:
    from . import tlog

    return tlog.checkpoint(letter_id=letter_id).size


@shared_task
def checkpoint_logs() -> int:
    from . import tlog

    return tlog.checkpoint_stale_letters()


# --- Organiser workspace (issue 5) ------------------------------------------------------------

from django.db import InterfaceError, OperationalError  # noqa: E402


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=None,
)
def send_update(self, update_id: int) -> int:
    """One batch of an update, then the next batch as a task of its own (no task nears the time
    limit). A crash anywhere is safe: the batch either committed whole or not at all."""
    from . import services

    queued = services.deliver_update_batch(update_id=update_id)
    if queued:
        enqueue_update(update_id)
    return queued


def enqueue_update(update_id: int) -> None:
    # A message the broker never got is picked up by the resume job.
    send_update.apply_async((update_id,), retry=False)


@shared_task
def resume_stalled_updates() -> int:
    from . import services

    return services.resume_stalled_updates()


@shared_task
def close_letters_past_deadline() -> int:
    from . import services

    return services.close_letters_past_deadline()


# --- Co-signatures (issue 4) --------------------------------------------------------------------


@shared_task(acks_late=True)
def cosign_digest(letter_id: int) -> int:
    """Mail the letter's organisers one digest of the co-sign requests not yet mentioned."""
    from . import services

    return services.send_cosign_digest(letter_id=letter_id)


def schedule_cosign_digest(letter_id: int) -> None:
    """Run the digest a little later, so requests arriving together make one mail; the ones that
    run after it find nothing left to mention. A lost message is caught by the sweep below."""
    cosign_digest.apply_async((letter_id,), countdown=settings.COSIGN_DIGEST_DELAY, retry=False)


@shared_task
def send_due_cosign_digests() -> int:
    from . import services

    return services.send_due_cosign_digests()


# --- Deliveries: the documents of a frozen delivery ----------------------------------------------


# A PDF of 100,000 names takes minutes: more than the default limit of a task.
@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3540)
def build_delivery(delivery_id: int) -> str:
    from . import delivery_documents

    return delivery_documents.build(delivery_id=delivery_id)


def enqueue_delivery(delivery_id: int) -> None:
    build_delivery.apply_async((delivery_id,), retry=False)
