"""The whole loop on real parts: a Celery worker process on Redis and an SMTP server on loopback."""

import re

import pytest
from django.urls import reverse

from petition.models import Mail, Signature, Tally
from tests.conftest import sign_data, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def link(text: str, part: str) -> str:
    match = re.search(r"https?://[^\s]+" + re.escape(part) + r"[^\s]+", text)
    assert match, f"no {part} link in:\n{text}"
    return re.sub(r"^https?://[^/]+", "", match.group(0))


def test_sign_receive_mail_over_smtp_confirm_and_count(client, letter, real_mail):
    smtp = real_mail["smtp"]
    response = client.post(
        reverse("sign", args=[letter.slug]), sign_data(email="grace@example.com")
    )
    assert response.status_code == 302

    texts = wait_for(lambda: smtp.texts("grace@example.com"), 30, what="verification mail")
    confirm = link(texts[0], "/confirm/")
    assert client.get(confirm).status_code == 200
    assert Signature.objects.get().status == "pending"
    assert client.post(confirm).status_code == 302

    assert Tally.objects.get(letter=letter).verified == 1
    page = client.get(letter.get_absolute_url()).content.decode()
    assert "<strong>1</strong> verified signature" in page
    confirmation = wait_for(
        lambda: [t for t in smtp.texts("grace@example.com") if "is confirmed" in t],
        30,
        what="confirmation mail",
    )
    assert "/my-signature/" in confirmation[0]
    wait_for(lambda: not Mail.objects.exists(), 10, what="outbox to empty")


def test_redis_down_while_signing_loses_no_signature_and_no_mail(client, letter, real_mail):
    redis, smtp = real_mail["redis"], real_mail["smtp"]
    redis.stop()

    response = client.post(reverse("sign", args=[letter.slug]), sign_data(email="rosa@example.com"))
    assert response.status_code == 302, "the signer sees the normal page"
    assert client.get(response["Location"]).status_code == 200
    assert Signature.objects.filter(email="rosa@example.com", status="pending").exists()
    assert Mail.objects.filter(kind="verification").count() == 1, "the mail waits in the outbox"

    redis.start()
    from petition import tasks

    tasks.relay_mail.delay()  # the beat sweep
    texts = wait_for(lambda: smtp.texts("rosa@example.com"), 60, what="mail after Redis is back")
    assert "/confirm/" in texts[0]
    wait_for(lambda: not Mail.objects.exists(), 15, what="outbox to empty")
    assert len(smtp.texts("rosa@example.com")) == 1
