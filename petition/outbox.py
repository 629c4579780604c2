"""The one way mail leaves: outbox rows drained by a relay, in batches, over one SMTP session.

A relay claims a batch of unsent rows (SELECT ... FOR UPDATE SKIP LOCKED, then a claim time on
each row), so two relays never hold the same row. It sends the batch over the worker's kept SMTP
session and deletes each row as soon as the server has accepted it.

What a crash can cost: a relay killed between the server's "250" for a message and the DELETE
of its row leaves that one row claimed; once the claim runs out, the next relay sends it again.
That one message in flight is the only one that can go out twice. The rest of the dead relay's
batch was never handed to the server and goes out once, after the claim.

The server's answers: a 5xx is final (the row is kept as a bounce, address and text erased); a
4xx or a connection that fails puts the row off with a growing, jittered wait. Neither is
logged with the address: only the row's id, its kind and the reply code.
"""

import contextlib
import logging
import random
import smtplib
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from . import jobs
from .models import Mail, Update

logger = logging.getLogger(__name__)

# Errors of the connection or the server: the mail waits and is tried again.
TRANSIENT = (smtplib.SMTPException, OSError, TimeoutError)

# Rows one claim takes: a batch is sent in well under a second on a healthy server.
BATCH_SIZE = 100
# A relay stops claiming after this long so that its task ends well inside the time limit (and
# so inside every claim it took); the task queues the next relay if rows are left.
BUDGET_SECONDS = 60
# An empty outbox is looked at again this often, for MAIL_RELAY_LINGER seconds, before the
# relay ends: mail arriving meanwhile costs no task of its own.
LINGER_POLL_SECONDS = 0.05

# Set while a relay is queued or running, one mark per relay slot: the commits meanwhile need no
# relay of their own. A relay clears its mark only after its last empty look and then looks once
# more, so a row whose commit found every mark set is always seen; a row committed after that
# queues a new relay. Two slots: a relay waits on the mail server and the database in turn, so
# a second one doubles what a burst drains (their claims never overlap).
RELAY_KICKED = "outbox:relay-kicked:{}"
RELAY_SLOTS = 2
# Longer than a relay's time budget, so a running relay keeps its mark; a relay that died with it
# set delays the next kick by at most this (the broker's redelivery and the sweep come sooner).
RELAY_KICKED_SECONDS = BUDGET_SECONDS + 10


def backoff(attempts: int) -> float:
    """Seconds to wait after the attempts-th failure: growing, capped, and jittered so that
    mails put off together do not come back in step."""
    ceiling = min(settings.MAIL_RETRY_BACKOFF_MAX, settings.MAIL_RETRY_BACKOFF * 2**attempts)
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - not a secret


def is_permanent(exc: BaseException) -> bool:
    """A 5xx answer about this mail. A refused sender is the site's own configuration: not
    final for the mail."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return False
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def describe(exc: BaseException) -> str:
    """The error's class and reply code: never its text, which may quote the address."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = ",".join(str(c) for c, _ in exc.recipients.values())
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__


def is_about_the_mail(exc: BaseException) -> bool:
    """An answer about this one mail (the session still works), not a failed connection."""
    return isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)


def claim(*, limit: int = BATCH_SIZE) -> list[Mail]:
    """Take up to `limit` unsent rows that no relay holds and no backoff puts off."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Mail.objects.filter(failed_at__isnull=True)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            # An update an organiser paused keeps its queued mail back.
            .filter(Q(update__isnull=True) | Q(update__paused_at__isnull=True))
            .order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        until = now + timedelta(seconds=settings.MAIL_CLAIM_SECONDS)
        Mail.objects.filter(pk__in=ids).update(claimed_until=until)
    return list(Mail.objects.filter(pk__in=ids).order_by("pk"))


def rendered(mail: Mail) -> tuple[str, str, str]:
    """Subject, text and html: as written, or rendered now from a deferred mail's context."""
    if not mail.template:
        return mail.subject, mail.text, mail.html
    context = {"site_url": settings.SITE_URL, **mail.context}
    # In the language the signer read the letter in (emails.queue_deferred records it).
    with translation.override(context.get("language") or settings.LANGUAGE_CODE):
        subject = render_to_string(f"{mail.template}_subject.txt", context)
        text = render_to_string(f"{mail.template}_message.txt", context)
        html = render_to_string(f"{mail.template}_message.html", context)
    return " ".join(subject.split())[:300], text, html


def message_for(mail: Mail) -> EmailMultiAlternatives:
    subject, text, html = rendered(mail)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[mail.to]
    )
    if html:
        message.attach_alternative(html, "text/html")
    if mail.template and (mail.context or {}).get("language"):
        # A deferred mail is written in its signer's language: say which, for mail clients
        # (and the screen readers and translators they hand the text to).
        message.extra_headers["Content-Language"] = mail.context["language"]
    return message


def mark_sent(mail: Mail) -> None:
    # Sent: the outbox keeps no copy, and so no address. One statement, one round trip (a
    # queryset's delete() would wrap it in a transaction of its own: three).
    if mail.update_id is None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Mail._meta.db_table} WHERE id = %s", [mail.pk])  # noqa: S608
        return
    with transaction.atomic():
        if Mail.objects.filter(pk=mail.pk).delete()[0]:
            Update.objects.filter(pk=mail.update_id).update(delivered=F("delivered") + 1)


def mark_failed(mail: Mail, error: str) -> None:
    """Final: kept as a bounce for the organisers, with nothing left that names the signer."""
    with transaction.atomic():
        done = Mail.objects.filter(pk=mail.pk, failed_at__isnull=True).update(
            failed_at=timezone.now(),
            to="",
            text="",
            html="",
            context=None,
            claimed_until=None,
            attempts=mail.attempts + 1,
            last_error=error[:200],
        )
        if done and mail.update_id is not None:
            Update.objects.filter(pk=mail.update_id).update(failed=F("failed") + 1)
    logger.warning("mail %s (%s) bounced: %s", mail.pk, mail.kind, error)


def put_off(mail: Mail, error: str) -> float:
    """Not sent this time: try again after a backoff (returned), or give up after the last
    attempt (and return the wait the attempt would have had)."""
    attempts = mail.attempts + 1
    if attempts >= settings.MAIL_MAX_ATTEMPTS:
        mark_failed(mail, f"gave up: {error}")
        return backoff(attempts)
    wait = backoff(attempts)
    Mail.objects.filter(pk=mail.pk).update(
        attempts=attempts,
        last_error=error[:200],
        claimed_until=timezone.now() + timedelta(seconds=wait),
    )
    logger.warning("mail %s (%s) not sent yet: %s", mail.pk, mail.kind, error)
    return wait


def release(mails: list[Mail], *, wait: float) -> None:
    """Hand back rows this relay claimed but did not try, to be taken after `wait` seconds."""
    if mails:
        Mail.objects.filter(pk__in=[m.pk for m in mails]).update(
            claimed_until=timezone.now() + timedelta(seconds=wait)
        )


def relay(
    *,
    budget: float = BUDGET_SECONDS,
    batch_size: int = BATCH_SIZE,
    linger: float | None = None,
    before_last_look=None,
) -> dict:
    """Send what the outbox holds, batch by batch, until it is empty, the server fails or the
    time budget is spent. Returns how many were sent, and when to run again (`again`: seconds,
    or None when nothing this relay saw is left to do).

    An empty outbox is watched for `linger` seconds more (mail comes in bursts: a task per
    burst, not per mail); then `before_last_look` runs (the task clears its "queued" mark) and
    the outbox is looked at once more before the relay ends."""
    linger = settings.MAIL_RELAY_LINGER if linger is None else linger
    started = time.monotonic()
    sent = 0
    put_off_for = []  # the waits of the mails this relay put off: it comes back for them
    idle_since = None
    last_look = False
    while time.monotonic() - started < budget:
        try:
            batch = claim(limit=batch_size)
        except DatabaseError:
            # The database went away (a restart): nothing was claimed, so nothing is lost. End
            # with a warning and come back; the worker replaces its connection before the next
            # task. No error text: a database error's can quote a row.
            logger.warning("mail relay ended: the database is unreachable")
            if before_last_look is not None:
                before_last_look()
            return {"sent": sent, "again": float(settings.MAIL_RETRY_BACKOFF)}
        if not batch:
            if last_look:
                return {"sent": sent, "again": min(put_off_for, default=None)}
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since < linger:
                time.sleep(LINGER_POLL_SECONDS)
                continue
            if before_last_look is not None:
                before_last_look()
            last_look = True
            continue
        idle_since = None
        last_look = False
        sent_now, failed_wait = _send_batch(batch, put_off_for)
        sent += sent_now
        if failed_wait is not None:
            if before_last_look is not None:
                before_last_look()
            return {"sent": sent, "again": failed_wait}
    if before_last_look is not None:
        before_last_look()
    return {"sent": sent, "again": 0}


def _send_batch(batch: list[Mail], put_off_for: list[float]) -> tuple[int, float | None]:
    """Send a claimed batch. Returns how many went out, and the wait of the rest of the batch,
    handed back, when the connection failed (None when it did not). The wait of each mail put
    off is added to `put_off_for`."""
    sent = 0
    for index, mail in enumerate(batch):
        try:
            send_in_kept_session(message_for(mail))
        except TRANSIENT as exc:
            if is_permanent(exc):
                mark_failed(mail, describe(exc))
                continue
            put_off_for.append(put_off(mail, describe(exc)))
            if is_about_the_mail(exc):
                continue
            # The connection failed: the rest of the batch waits as long.
            release(batch[index + 1 :], wait=put_off_for[-1])
            return sent, put_off_for[-1]
        mark_sent(mail)
        sent += 1
    return sent, None


def kick_relay() -> None:
    """Queue a relay unless every slot has one queued or running, without the client's retry
    loop: a row the broker never heard of is picked up by the beat sweep, so a request never
    waits on a broker that is down. The marks live in the cache web and worker share (one
    REDIS_URL). Every mail queues this once its transaction commits."""
    for slot in range(RELAY_SLOTS):
        mark = RELAY_KICKED.format(slot)
        if cache.add(mark, 1, timeout=RELAY_KICKED_SECONDS):
            try:
                jobs.enqueue("relay_mail", slot)
            except Exception:
                cache.delete(mark)
                raise
            return


def relay_from_slot(slot: int | None, *, inline: bool) -> int:
    """The relay task: relay(), clearing the slot's mark before the last look (no slot: the
    beat sweep), then queue a relay again if rows are left (the time budget ran out) or put off,
    for when they are due. Returns how many were sent. `inline`: run in the request that queued
    it (no broker: `make run`), which it must not hold up."""
    mark = RELAY_KICKED.format(slot)
    result = relay(
        linger=0 if inline else None,
        before_last_look=(lambda: cache.delete(mark)) if slot is not None else None,
    )
    if result["again"] is not None:
        jobs.enqueue("relay_mail", countdown=result["again"])
    return result["sent"]


# One SMTP session per worker process, kept from one batch to the next: a new session per mail
# (connect, EHLO, STARTTLS, AUTH, QUIT) cost more than the mail. It is dropped after any error
# and when idle for a while, before the server's own idle timeout (5 minutes, RFC 5321 4.5.3.2).
SMTP_IDLE_SECONDS = 60
_session_lock = threading.Lock()
_session = {"mailer": None, "config": None, "used": 0.0}


def drop_session() -> None:
    mailer, _session["mailer"] = _session["mailer"], None
    if mailer is not None:
        with contextlib.suppress(*TRANSIENT):
            mailer.close()


def send_in_kept_session(message: EmailMultiAlternatives) -> None:
    config = settings.MAILERS["default"]
    with _session_lock:
        idle = time.monotonic() - _session["used"] > SMTP_IDLE_SECONDS
        if _session["mailer"] is not None and (idle or _session["config"] != config):
            drop_session()
        kept = _session["mailer"] is not None
        if not kept:
            _session.update(mailer=mailers["default"], config=config)
            _session["mailer"].open()
        try:
            _session["mailer"].send_messages([message])
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            drop_session()
            if not kept:
                raise
            # The server closed the kept session (idle, or restarted) before this mail: once
            # more, on a new session.
            _session.update(mailer=mailers["default"], config=config)
            try:
                _session["mailer"].open()
                _session["mailer"].send_messages([message])
            except BaseException:
                drop_session()
                raise
        except BaseException:
            drop_session()
            raise
        _session["used"] = time.monotonic()
