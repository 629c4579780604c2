import contextlib
import logging
import smtplib
import threading
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db.models import Q
from django.utils import timezone

from .models import Mail

logger = logging.getLogger(__name__)

TRANSIENT = (smtplib.SMTPException, OSError, TimeoutError)


@shared_task(
    bind=True,
    autoretry_for=TRANSIENT,
    # Waits of up to backoff * 2**n seconds (full jitter, so workers do not retry in step).
    retry_backoff=settings.MAIL_RETRY_BACKOFF,
    retry_backoff_max=settings.MAIL_RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=12,
    acks_late=True,
)
def send_mail(self, mail_id: int) -> str:
    now = timezone.now()
    claimed = Mail.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=mail_id
    ).update(claimed_until=now + timedelta(seconds=settings.MAIL_CLAIM_SECONDS))
    if not claimed:
        if not Mail.objects.filter(pk=mail_id).exists():
            return "already sent"
        # Another task holds it (or one died holding it): look again once its claim runs out.
        raise self.retry(countdown=settings.MAIL_CLAIM_SECONDS, max_retries=None)
    mail = Mail.objects.get(pk=mail_id)
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail.to],
    )
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    try:
        _send_in_kept_session(message)
    except TRANSIENT as exc:
        Mail.objects.filter(pk=mail_id).update(
            claimed_until=None, attempts=mail.attempts + 1, last_error=type(exc).__name__
        )
        logger.warning("mail %s (%s) not sent yet: %s", mail_id, mail.kind, type(exc).__name__)
        raise
    # Sent: the outbox keeps no copy, and so no address.
    Mail.objects.filter(pk=mail_id).delete()
    logger.info("mail %s (%s) sent", mail_id, mail.kind)
    return "sent"


# One SMTP session per worker process, kept from one mail to the next: a new session per mail
# (connect, EHLO, STARTTLS, AUTH, QUIT) cost more than the mail. It is dropped after any error
# and when idle for a while, before the server's own idle timeout (5 minutes, RFC 5321 4.5.3.2).
SMTP_IDLE_SECONDS = 60
_session_lock = threading.Lock()
_session = {"mailer": None, "config": None, "used": 0.0}


def _drop_session() -> None:
    mailer, _session["mailer"] = _session["mailer"], None
    if mailer is not None:
        with contextlib.suppress(*TRANSIENT):
            mailer.close()


def _send_in_kept_session(message: EmailMultiAlternatives) -> None:
    config = settings.MAILERS["default"]
    with _session_lock:
        idle = time.monotonic() - _session["used"] > SMTP_IDLE_SECONDS
        if _session["mailer"] is not None and (idle or _session["config"] != config):
            _drop_session()
        kept = _session["mailer"] is not None
        if not kept:
            _session.update(mailer=mailers["default"], config=config)
            _session["mailer"].open()
        try:
            _session["mailer"].send_messages([message])
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            _drop_session()
            if not kept:
                raise
            # The server closed the kept session while it was idle, so nothing was sent on it:
            # once more, on a new session.
            _session.update(mailer=mailers["default"], config=config)
            try:
                _session["mailer"].open()
                _session["mailer"].send_messages([message])
            except BaseException:
                _drop_session()
                raise
        except BaseException:
            _drop_session()
            raise
        _session["used"] = time.monotonic()


def enqueue_mail(mail_id: int) -> None:
    """Hand a mail to the broker once, without the client's retry loop: a row the broker never got
    is picked up by the re-queue job, so a request never waits on a broker that is down."""
    send_mail.apply_async((mail_id,), retry=False)


@shared_task
def requeue_unsent_mail() -> int:
    from . import services

    return services.requeue_unsent_mail()


@shared_task
def purge_pending_signatures() -> int:
    from . import services

    return services.purge_pending_signatures()


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
