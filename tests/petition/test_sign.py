import re

import pytest
from django.urls import reverse

from petition.models import Mail, Signature
from tests.conftest import sign_data

pytestmark = pytest.mark.django_db

# Each render masks the CSRF token anew; everything else must be byte for byte the same.
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def sign(client, letter, **overrides):
    return client.post(reverse("sign", args=[letter.slug]), sign_data(**overrides))


def test_letter_page_shows_text_and_form(client, letter):
    response = client.get(letter.get_absolute_url())
    assert response.status_code == 200
    assert b"<em>stop</em>" in response.content
    assert b"Sign the letter" in response.content


def test_letter_markdown_is_sanitised(client, make_letter):
    letter = make_letter(
        body="Hi <script>alert(1)</script> [x](javascript:alert(2)) <b onclick=x>b</b>"
    )
    html = client.get(letter.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in html
    assert "javascript:alert" not in html
    assert "onclick" not in html


def test_signing_stores_a_pending_signature_and_mails_a_link(client, letter, deliver):
    response = sign(client, letter)
    assert response.status_code == 302
    assert response["Location"] == reverse("check_inbox", args=[letter.slug])
    signature = Signature.objects.get()
    assert signature.status == "pending"
    assert signature.email == "ada@example.com"
    outbox = deliver()
    assert len(outbox) == 1
    message = outbox[0]
    assert message.to == ["ada@example.com"]
    assert "/confirm/" in message.body
    assert message.alternatives and "Confirm your signature" in message.alternatives[0][0]
    assert not Mail.objects.exists(), "a sent mail leaves no copy in the outbox"


def test_email_is_stored_normalised(client, letter):
    sign(client, letter, email="  Ada@Example.COM ")
    assert Signature.objects.get().email == "ada@example.com"


def test_check_inbox_page_reads_the_same_for_new_pending_and_verified(client, letter, deliver):
    from petition import services

    new = client.get(sign(client, letter, email="new@example.com")["Location"])
    pending = client.get(sign(client, letter, email="new@example.com")["Location"])
    signature = Signature.objects.get()
    services.verify(signature_id=signature.pk)
    verified = client.get(sign(client, letter, email="new@example.com")["Location"])
    pages = [CSRF.sub(b"", page.content) for page in (new, pending, verified)]
    assert pages[0] == pages[1] == pages[2]
    assert Signature.objects.count() == 1


def test_second_submission_of_a_verified_address_mails_it_instead(client, letter, deliver):
    from petition import services

    sign(client, letter)
    services.verify(signature_id=Signature.objects.get().pk)
    deliver()
    sign(client, letter, email="ADA@example.com ")
    outbox = deliver()
    assert "already signed" in outbox[-1].subject
    assert Signature.objects.count() == 1


def test_invalid_form_shows_errors_on_the_page_with_400(client, letter):
    response = sign(client, letter, email="not-an-email", name="")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid email address." in html
    assert "Please give your name" in html
    assert not Signature.objects.exists()


def test_draft_letter_is_not_found(client, make_letter):
    draft = make_letter(publish=False)
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert sign(client, draft).status_code == 404


def test_closed_letter_refuses_signatures_with_a_clear_page(client, letter):
    from petition import services

    services.close(letter_id=letter.pk)
    response = sign(client, letter)
    assert response.status_code == 403
    assert b"not taking signatures" in response.content
    assert not Signature.objects.exists()
    page = client.get(letter.get_absolute_url())
    assert page.status_code == 200 and b"Sign the letter" not in page.content


def test_honeypot_stores_nothing_but_answers_like_a_person(client, letter):
    response = sign(client, letter, website="http://spam.example")
    assert response.status_code == 302
    assert not Signature.objects.exists()


def test_resend_mails_a_pending_signer_again_after_the_interval(client, letter, deliver, settings):
    settings.MAIL_RESEND_INTERVAL = 0
    sign(client, letter)
    deliver()
    response = client.post(reverse("resend", args=[letter.slug]), {"email": "ada@example.com"})
    assert response.status_code == 302
    assert len(deliver()) == 2


def test_resend_is_rate_limited(client, letter, settings):
    settings.MAIL_RESEND_INTERVAL = 0
    settings.RESEND_LIMIT = "2/h"
    url = reverse("resend", args=[letter.slug])
    codes = [client.post(url, {"email": "ada@example.com"}).status_code for _ in range(3)]
    assert codes == [302, 302, 429]


def test_resend_for_an_unknown_address_answers_the_same(client, letter, deliver):
    response = client.post(reverse("resend", args=[letter.slug]), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert deliver() == []


def test_repeated_submissions_do_not_flood_the_inbox(client, letter, deliver):
    for _ in range(3):
        sign(client, letter)
    assert len(deliver()) == 1


def test_home_lists_open_letters_only(client, make_letter):
    open_letter = make_letter(title="An open one")
    make_letter(title="A draft one", publish=False)
    html = client.get("/").content.decode()
    assert open_letter.title in html
    assert "A draft one" not in html
