"""Celery tasks. Each one runs one service function; the service layer queues them by name
(petition/jobs.py) and never imports this module. Their names, petition.tasks.NAME, are what
Celery beat (CELERY_BEAT_SCHEDULE in config/settings.py) and queued messages name: keep them."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import erasure, outbox, services, tlog


@shared_task(bind=True, acks_late=True)
def relay_mail(self, slot: int | None = None) -> int:
    """Send what the outbox holds over one SMTP session (petition/outbox.py); queued on commit
    by every mail, and run by beat as the sweep that picks up anything a lost message left."""
    return outbox.relay_from_slot(slot, inline=bool(self.request.is_eager))


@shared_task
def purge_pending_signatures() -> int:
    return services.purge_pending_signatures()


@shared_task
def expire_employee_verifications() -> int:
    return services.expire_employee_verifications()


@shared_task
def rewrite_erased_pages() -> list[str]:
    return erasure.rewrite_erased_pages()


@shared_task(acks_late=True)
def make_checkpoint(letter_id: int) -> int:
    return tlog.checkpoint(letter_id=letter_id).size


@shared_task
def checkpoint_logs() -> int:
    return tlog.checkpoint_stale_letters()


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=None,
)
def send_update(self, update_id: int) -> int:
    """One batch of an update, then the next batch as a task of its own."""
    return services.deliver_update_and_continue(update_id=update_id)


@shared_task
def resume_stalled_updates() -> int:
    return services.resume_stalled_updates()


@shared_task
def close_letters_past_deadline() -> int:
    return services.close_letters_past_deadline()


@shared_task(acks_late=True)
def cosign_digest(letter_id: int) -> int:
    """Mail the letter's organisers one digest of the co-sign requests not yet mentioned."""
    return services.send_cosign_digest(letter_id=letter_id)


@shared_task
def send_due_cosign_digests() -> int:
    return services.send_due_cosign_digests()


# A PDF of 100,000 names takes minutes: more than the default limit of a task.
@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3540)
def build_delivery(delivery_id: int) -> str:
    # Imported here, not at the top, so that WeasyPrint (which delivery_documents loads) is
    # loaded by the worker alone: web processes import this module too, to run tasks inline
    # where there is no broker.
    from . import delivery_documents

    return delivery_documents.build(delivery_id=delivery_id)
