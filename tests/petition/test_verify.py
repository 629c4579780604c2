import pytest
from django.core import signing
from django.urls import reverse

from petition import tokens
from petition.models import Signature, Tally
from tests.conftest import link_in, sign_data, tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(client, letter, deliver):
    client.post(reverse("sign", args=[letter.slug]), sign_data())
    outbox = deliver()
    return Signature.objects.get(), link_in(outbox[0], "/confirm/")


def test_get_alone_never_verifies(client, pending):
    signature, link = pending
    response = client.get(link)
    assert response.status_code == 200
    assert b"Confirm my signature" in response.content
    signature.refresh_from_db()
    assert signature.status == "pending"


def test_post_verifies_and_counts(client, letter, pending, deliver):
    signature, link = pending
    response = client.post(link)
    assert response.status_code == 302
    assert response["Location"] == reverse("thanks", args=[letter.slug])
    signature.refresh_from_db()
    assert signature.status == "verified"
    assert Tally.objects.get(letter=letter).verified == 1
    confirmation = deliver()[-1]
    assert "You have signed" in confirmation.subject
    assert "/my-signature/" in confirmation.body
    assert "Public" in confirmation.body


def test_second_post_changes_nothing(client, letter, pending, deliver):
    signature, link = pending
    client.post(link)
    sent = len(deliver())
    response = client.post(link)
    assert response.status_code == 302
    assert Tally.objects.get(letter=letter).verified == 1
    assert len(deliver()) == sent, "no second confirmation mail"


def test_thanks_page_offers_share_link_and_receipt(client, letter, pending):
    _, link = pending
    page = client.get(client.post(link)["Location"]).content.decode()
    assert letter.get_absolute_url() in page
    assert "receipt" in page.lower()


def test_tampered_token_gets_a_400_page(client, letter, pending):
    _, link = pending
    tampered = tamper(link.rstrip("/")) + "/"
    response = client.post(tampered)
    assert response.status_code == 400
    assert b"does not work" in response.content
    assert Signature.objects.get().status == "pending"


def test_expired_token_gets_a_410_page(client, letter, pending, settings):
    _, link = pending
    settings.SIGNATURE_TOKEN_MAX_AGE = -1
    response = client.post(link)
    assert response.status_code == 410
    assert b"expired" in response.content
    assert Signature.objects.get().status == "pending"


def test_foreign_token_from_another_letter_is_refused(client, letter, make_letter, pending):
    signature, link = pending
    other = make_letter()
    token = link.rstrip("/").rsplit("/", 1)[1]
    response = client.post(reverse("verify", args=[other.slug, token]))
    assert response.status_code == 400
    assert Signature.objects.get().status == "pending"


def test_token_made_for_another_purpose_is_refused(client, letter, pending):
    signature, _ = pending
    manage = tokens.make(
        tokens.MANAGE,
        signature_id=signature.pk,
        letter_id=letter.pk,
        email_hash=signature.email_hash,
    )
    assert client.post(reverse("verify", args=[letter.slug, manage])).status_code == 400


def test_token_for_another_signature_id_is_refused(client, letter, pending):
    signature, _ = pending
    forged = signing.dumps({"s": signature.pk, "l": letter.pk, "h": "0" * 16}, salt=tokens.VERIFY)
    assert client.post(reverse("verify", args=[letter.slug, forged])).status_code == 400


def test_withdraw_link_asks_on_get_and_withdraws_on_post(client, letter, pending, deliver):
    signature, link = pending
    client.post(link)
    manage = link_in(deliver()[-1], "/my-signature/")
    page = client.get(manage)
    assert page.status_code == 200 and b"Withdraw my signature" in page.content
    signature.refresh_from_db()
    assert signature.status == "verified"
    response = client.post(manage, {"action": "withdraw"})
    assert response.status_code == 200
    signature.refresh_from_db()
    assert signature.status == "withdrawn"
    assert Tally.objects.get(letter=letter).verified == 0
    # A second withdrawal changes nothing.
    client.post(manage, {"action": "withdraw"})
    assert Tally.objects.get(letter=letter).verified == 0


def test_verified_count_and_public_signer_on_letter_page(client, letter, pending):
    _, link = pending
    client.post(link)
    html = client.get(letter.get_absolute_url()).content.decode()
    assert "Ada Lovelace" in html
    assert "<strong>1</strong> verified signature" in html
