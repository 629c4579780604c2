import logging
import smtplib
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.utils import timezone

from .models import Mail

logger = logging.getLogger(__name__)

TRANSIENT = (smtplib.SMTPException, OSError, TimeoutError)


@shared_task(
    bind=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=300,
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
        message.send()
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
