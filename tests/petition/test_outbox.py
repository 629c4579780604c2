"""The outbox relay against a real SMTP server on loopback: a batch over one session, 5xx
answers final and shown to organisers as bounces, 4xx answers and refused connections put off
with a backoff, and never an address in the log."""

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config.settings import mailer_from_url
from petition import emails, outbox, services
from petition.models import Mail, Update
from tests.conftest import free_port, verified_signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings, smtp_sink):
    settings.MAILERS = {"default": mailer_from_url(f"smtp://127.0.0.1:{smtp_sink.port}")}
    outbox.drop_session()
    yield smtp_sink
    outbox.drop_session()


def queue(*addresses, letter=None):
    for address in addresses:
        emails.queue_rendered(
            kind="test",
            to=address,
            subject="Hello",
            text=f"Hello {address}",
            letter_id=letter.pk if letter else None,
        )


def test_a_batch_goes_over_one_smtp_session_and_each_row_is_marked_sent(smtp):
    addresses = [f"reader{n}@example.com" for n in range(12)]
    queue(*addresses)
    assert outbox.relay(batch_size=5) == {"sent": 12, "again": None}
    assert [len(smtp.texts(a)) for a in addresses] == [1] * 12
    assert len(set(smtp.peers)) == 1, "one session for every batch"
    assert not Mail.objects.exists(), "sent rows are gone, addresses with them"
    assert outbox.relay() == {"sent": 0, "again": None}
    assert len(smtp.messages) == 12


def test_two_relays_never_claim_the_same_row(smtp):
    queue(*[f"r{n}@example.com" for n in range(6)])
    first = outbox.claim(limit=4)
    second = outbox.claim(limit=4)
    assert len(first) == 4 and len(second) == 2
    assert not {m.pk for m in first} & {m.pk for m in second}
    assert outbox.claim(limit=4) == [], "claimed rows wait for their claim to run out"


def test_a_5xx_is_final_erases_the_address_and_logs_none(smtp, letter, caplog):
    smtp.bounce = {"gone@example.com"}
    queue("gone@example.com", "here@example.com", letter=letter)
    with caplog.at_level(logging.DEBUG):
        assert outbox.relay()["sent"] == 1
        outbox.relay()
    assert smtp.texts("here@example.com") and not smtp.texts("gone@example.com")
    bounce = Mail.objects.get()
    assert bounce.failed_at is not None and bounce.last_error == "SMTPRecipientsRefused 550"
    assert (bounce.to, bounce.text, bounce.html) == ("", "", "")
    assert smtp.rcpts.count("gone@example.com") == 1, "never tried again"
    assert "gone@example.com" not in caplog.text and "bounced" in caplog.text


def test_a_4xx_puts_the_mail_off_with_a_backoff_then_it_goes_once(smtp, caplog):
    smtp.refuse = True  # 451 to every message
    queue("later@example.com")
    with caplog.at_level(logging.DEBUG):
        result = outbox.relay()
    assert result["sent"] == 0
    mail = Mail.objects.get()
    assert (mail.attempts, mail.last_error, mail.failed_at) == (1, "SMTPDataError 451", None)
    assert mail.claimed_until > timezone.now(), "not before its backoff"
    assert outbox.relay()["sent"] == 0 and Mail.objects.get().attempts == 1
    smtp.refuse = False
    Mail.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))  # the wait is over
    assert outbox.relay()["sent"] == 1
    assert len(smtp.texts("later@example.com")) == 1
    assert "later@example.com" not in caplog.text


def test_a_refused_connection_puts_the_whole_batch_off_and_asks_to_run_again(settings, caplog):
    nobody = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    settings.MAILERS = {"default": mailer_from_url(nobody)}
    outbox.drop_session()
    queue("a@example.com", "b@example.com", "c@example.com")
    with caplog.at_level(logging.DEBUG):
        result = outbox.relay()
    assert result["sent"] == 0 and result["again"] > 0
    assert Mail.objects.filter(claimed_until__gt=timezone.now()).count() == 3
    assert Mail.objects.filter(attempts=1).count() == 1, "only the mail tried counts an attempt"
    assert not Mail.objects.filter(failed_at__isnull=False).exists()
    assert "@example.com" not in caplog.text


def test_a_mail_put_off_too_often_counts_as_bounced(smtp, settings):
    settings.MAIL_MAX_ATTEMPTS = 2
    smtp.refuse = True
    queue("stuck@example.com")
    outbox.relay()
    Mail.objects.update(claimed_until=None)
    outbox.relay()
    mail = Mail.objects.get()
    assert mail.failed_at is not None and mail.last_error == "gave up: SMTPDataError 451"
    assert mail.to == ""


def test_bounced_update_mail_counts_as_failed_and_the_organiser_sees_it(
    client, smtp, letter, organiser
):
    for address in ("fan@example.com", "gone@example.com"):
        verified_signature(letter, address, wants_updates=True)
    Mail.objects.all().delete()
    smtp.bounce = {"gone@example.com"}
    update, _ = services.send_update(
        letter_id=letter.pk, actor=organiser, subject="News", body="Hello"
    )
    while services.deliver_update_batch(update_id=update.pk):
        pass
    outbox.relay()
    update.refresh_from_db()
    assert (update.delivered, update.failed, update.left) == (1, 1, 0)
    client.force_login(organiser)
    page = client.get(reverse("organiser:update", args=[letter.slug, update.pk])).content
    assert b"1 sent, 1 failed, 0 left" in page
    listing = client.get(reverse("organiser:updates", args=[letter.slug])).content.decode()
    assert "Bounced mail" in listing and "SMTPRecipientsRefused 550" in listing
    assert "gone@example.com" not in listing
    assert Update.objects.get().failed == 1
