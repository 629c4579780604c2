"""The sign form: which level it starts on (the organiser's choice, or none), what each level
means, and what a signed-in signer is told."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.urls import reverse

from petition.models import Letter, Signature
from tests.conftest import sign_data

pytestmark = pytest.mark.django_db


def checked_levels(html: str) -> list[str]:
    return re.findall(r'<input type="radio" name="visibility" value="(\w+)"[^>]*\bchecked\b', html)


def test_a_new_letter_starts_on_no_level(client, letter):
    assert letter.default_level == ""
    html = client.get(letter.get_absolute_url()).content.decode()
    assert checked_levels(html) == []


def test_a_signer_who_picks_no_level_is_asked_to_choose_and_nothing_is_stored(client, letter):
    data = sign_data()
    del data["visibility"]
    response = client.post(reverse("sign", args=[letter.slug]), data)
    assert response.status_code == 400
    assert "Choose how visible your signature is." in response.content.decode()
    assert not Signature.objects.exists()


def test_the_form_starts_on_the_organisers_default(client, make_letter):
    letter = make_letter(default_level="anonymous")
    html = client.get(letter.get_absolute_url()).content.decode()
    assert checked_levels(html) == ["anonymous"]


def test_a_letter_with_one_level_starts_on_it(client, make_letter):
    letter = make_letter(allow_public=False, allow_anonymous=False)
    assert checked_levels(client.get(letter.get_absolute_url()).content.decode()) == ["private"]


def test_each_level_has_its_consequence_beside_it(client, letter):
    html = client.get(letter.get_absolute_url()).content.decode()
    for sentence in (
        "Your name, and the details you tick, are shown with the letter.",
        "only the organisers see your name and email.",
        "once you confirm, your name and email are erased, even for the organisers.",
    ):
        assert sentence in html.replace("&quot;", '"')


def test_the_organiser_sets_the_default_on_the_settings_page(client, organiser, letter):
    client.force_login(organiser)
    url = reverse("organiser:settings", args=[letter.slug])
    base = {"allow_public": "on", "allow_private": "on", "accepts_individuals": "on"}
    assert client.post(url, {**base, "default_level": "private"}).status_code == 302
    letter.refresh_from_db()
    assert letter.default_level == "private"
    client.logout()
    assert checked_levels(client.get(letter.get_absolute_url()).content.decode()) == ["private"]


def test_the_default_must_be_a_level_the_letter_offers(client, organiser, letter):
    client.force_login(organiser)
    url = reverse("organiser:settings", args=[letter.slug])
    response = client.post(
        url, {"allow_public": "on", "accepts_individuals": "on", "default_level": "anonymous"}
    )
    assert response.status_code == 400
    assert "Offer this level to signers, or choose another default." in response.content.decode()
    with pytest.raises(IntegrityError), transaction.atomic():
        Letter.objects.filter(pk=letter.pk).update(allow_anonymous=False, default_level="anonymous")


def test_a_signed_in_signer_is_told_their_signature_counts_at_once(
    client, letter, django_user_model
):
    user = django_user_model.objects.create_user(email="mia@example.org", password=None)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client.force_login(user)
    html = client.get(letter.get_absolute_url()).content.decode()
    assert "your signature counts at once: there is no mail to open" in html
    assert "We send you a link to confirm" not in html
