"""Attacks on a signer's own signature: a pending one switched behind its owner's back, manage
links that outlive their use, one inbox signing many times, withdrawn signatures that keep who
signed, and work addresses verified once and for ever."""

import time
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from lib import addresses
from petition import emails, services, tokens
from petition.management.commands.auditlog import Command as AuditCommand
from petition.models import DomainTally, Letter, Mail, PublicLogEntry, Signature, Tally
from tests.conftest import link_in, sign_data

pytestmark = pytest.mark.django_db


def sign_url(letter: Letter) -> str:
    return reverse("sign", args=[letter.slug])


def make_member(email: str):
    user = get_user_model().objects.create_user(email=email, password="a-long-test-password")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def tally(letter: Letter) -> Tally:
    return Tally.objects.get(letter=letter)


@pytest.fixture
def attacker_client(client):
    client.force_login(make_member("mallory@example.org"))
    return client


@pytest.fixture
def baited(attacker_client, letter, deliver):
    """Mallory, signed in, signs with Vic's address as anonymous: Vic gets the link."""
    attacker_client.post(
        sign_url(letter),
        {"name": "Vic Victim", "email": "vic@example.org", "visibility": "anonymous"},
    )
    signature = Signature.objects.get()
    assert signature.status == "pending" and signature.user is not None
    return signature


def confirm_link(outbox) -> str:
    return link_in([m for m in outbox if "/confirm/" in m.body][-1], "/confirm/")


# --- 1. bait-and-switch on someone else's address ------------------------------------------------


def test_attacker_cannot_switch_a_pending_signature_to_public_through_my_signatures(
    attacker_client, baited, letter
):
    url = reverse("me_signature_level", args=[baited.public_id, "public"])
    response = attacker_client.post(url)
    assert response.status_code in (302, 404, 409)
    baited.refresh_from_db()
    assert baited.visibility == "anonymous", "the level Vic was mailed about stands"


def test_services_refuse_to_change_the_level_of_a_pending_signature(baited, letter):
    assert not services.switch_level(
        signature_id=baited.pk, user_id=baited.user_id, visibility="public"
    )
    assert not services.change_level(signature_id=baited.pk, visibility="private")
    baited.refresh_from_db()
    assert baited.visibility == "anonymous"


def test_owner_confirms_the_level_they_were_shown(attacker_client, baited, letter, deliver):
    attacker_client.post(reverse("me_signature_level", args=[baited.public_id, "public"]))
    from django.test import Client

    victim = Client()
    victim.post(confirm_link(deliver()))
    baited.refresh_from_db()
    assert (baited.status, baited.visibility, baited.user) == ("verified", "anonymous", None)
    assert (tally(letter).public, tally(letter).anonymous) == (0, 1)


def test_confirm_page_shows_name_level_and_letter_the_click_confirms(client, letter, deliver):
    client.post(sign_url(letter), sign_data(visibility="anonymous", name="Ada Lovelace"))
    page = client.get(confirm_link(deliver())).content.decode()
    assert "Ada Lovelace" in page
    assert "Anonymous" in page
    assert letter.title in page
    assert "This wasn't me" in page or "This wasn&#x27;t me" in page


def test_this_wasnt_me_deletes_the_pending_signature_and_its_unsent_mail(
    client, baited, letter, deliver
):
    mail = Mail.objects.get(kind="verification")
    link = emails.verify_url(baited).replace(django_settings_site_url(), "")
    response = client.post(link, {"action": "not-me"})
    assert response.status_code == 200
    assert not Signature.objects.filter(pk=baited.pk).exists()
    assert not Mail.objects.filter(pk=mail.pk).exists(), "the unsent link is not sent any more"
    page = response.content.decode()
    assert "Vic Victim" not in page and "vic@example.org" not in page


def test_this_wasnt_me_a_second_time_changes_nothing(client, letter, deliver):
    client.post(sign_url(letter), sign_data(email="vic@example.org"))
    client.post(sign_url(letter), sign_data(email="other@example.org"))
    link = confirm_link([m for m in deliver() if "vic@example.org" in m.to])
    assert client.post(link, {"action": "not-me"}).status_code == 200
    second = client.post(link, {"action": "not-me"})
    assert second.status_code == 400
    assert list(Signature.objects.values_list("email", flat=True)) == ["other@example.org"]
    assert tally(letter).verified == 0


def test_this_wasnt_me_does_not_undo_a_verified_signature(client, letter, deliver):
    client.post(sign_url(letter), sign_data())
    link = confirm_link(deliver())
    client.post(link)
    response = client.post(link, {"action": "not-me"})
    assert response.status_code == 400
    assert Signature.objects.get().status == "verified"
    assert tally(letter).verified == 1


def django_settings_site_url() -> str:
    from django.conf import settings

    return settings.SITE_URL


# --- 2. manage links: rotation, lifetime, a new link --------------------------------------------


@pytest.fixture
def verified(client, letter, deliver):
    client.post(sign_url(letter), sign_data())
    client.post(confirm_link(deliver()))
    manage = link_in(deliver()[-1], "/my-signature/")
    return Signature.objects.get(), manage


def test_a_used_manage_link_stops_working_after_a_change(client, letter, verified):
    signature, manage = verified
    response = client.post(manage, {"action": "level", "visibility": "anonymous"})
    assert response.status_code == 302
    fresh = response["Location"]
    assert fresh != manage, "the page moves to a fresh link"
    assert client.get(fresh).status_code == 200
    assert client.post(manage, {"action": "withdraw"}).status_code == 400
    signature.refresh_from_db()
    assert signature.status == "verified"
    assert client.post(fresh, {"action": "withdraw"}).status_code == 200
    signature.refresh_from_db()
    assert signature.status == "withdrawn"


def test_a_manage_link_lasts_fourteen_days(client, letter, verified, monkeypatch):
    _, manage = verified
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now + 13 * 24 * 3600)
    assert client.get(manage).status_code == 200
    monkeypatch.setattr(signing.time, "time", lambda: now + 15 * 24 * 3600)
    assert client.get(manage).status_code == 410


def test_new_link_answer_never_reveals_whether_the_address_signed(
    client, letter, verified, deliver
):
    url = reverse("manage_request", args=[letter.slug])
    mails_before = len(deliver())
    signed = client.post(url, {"email": "ada@example.com"})
    stranger = client.post(url, {"email": "nobody@example.com"})
    assert signed.status_code == stranger.status_code == 200
    assert signed.content == stranger.content
    outbox = deliver()[mails_before:]
    assert [m.to for m in outbox] == [["ada@example.com"]]
    assert client.get(link_in(outbox[0], "/my-signature/")).status_code == 200


# --- 3. plus-addressing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variants",
    [
        ["ada@example.com", "ada+1@example.com", "Ada+letters@Example.com"],
        ["ada.lovelace@gmail.com", "adalovelace@gmail.com", "a.d.a.lovelace+x@googlemail.com"],
    ],
)
def test_one_inbox_signs_once_however_the_address_is_spelled(client, letter, deliver, variants):
    for address in variants:
        client.post(sign_url(letter), sign_data(email=address))
    assert Signature.objects.count() == 1
    signature = Signature.objects.get()
    assert signature.email == variants[0], "the address is kept as typed, for the mail"
    client.post(confirm_link(deliver()))
    client.post(sign_url(letter), sign_data(email=variants[-1]))
    assert Signature.objects.count() == 1
    assert tally(letter).verified == 1


def test_dots_still_matter_outside_gmail(client, letter):
    client.post(sign_url(letter), sign_data(email="ada.l@example.com"))
    client.post(sign_url(letter), sign_data(email="adal@example.com"))
    assert Signature.objects.count() == 2


def test_a_signature_made_before_normalisation_is_still_found_by_its_old_hash(
    client, letter, deliver
):
    legacy = Signature.objects.create(
        letter=letter,
        name="Old Row",
        email="ada+old@example.com",
        email_hash=addresses.legacy_email_hash("ada+old@example.com"),
        visibility="public",
    )
    client.post(sign_url(letter), sign_data(email="ada+old@example.com"))
    assert Signature.objects.count() == 1
    client.post(reverse("manage_request", args=[letter.slug]), {"email": "ada+old@example.com"})
    assert any("/my-signature/" in m.body for m in deliver())
    assert legacy.pk == Signature.objects.get().pk


# --- 4. erasure on withdrawal -------------------------------------------------------------------


def raw_row(signature_id: int) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Signature._meta.db_table} WHERE id = %s", [signature_id])
        names = [c.name for c in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.mark.parametrize("level", ["public", "anonymous"])
def test_withdrawal_erases_name_email_and_details(client, letter, deliver, level):
    client.post(sign_url(letter), sign_data(visibility=level, show_city=True))
    client.post(confirm_link(deliver()))
    manage = link_in(deliver()[-1], "/my-signature/")
    client.post(manage, {"action": "withdraw"})
    row = raw_row(Signature.objects.get().pk)
    assert row["status"] == "withdrawn"
    for column in ("name", "email", "email_hash", "affiliation", "job_title", "team", "city"):
        assert row[column] == "", column
    assert row["user_id"] is None
    assert not any(row[f"show_{d}"] for d in ("affiliation", "job_title", "team", "city"))
    text = " ".join(str(v) for v in row.values())
    for secret in ("Ada", "ada@example.com", "Analytics", "London", "Engineer"):
        assert secret not in text
    assert tally(letter).verified == 0


def test_a_withdrawn_signer_may_sign_again(client, letter, deliver):
    client.post(sign_url(letter), sign_data())
    client.post(confirm_link(deliver()))
    client.post(link_in(deliver()[-1], "/my-signature/"), {"action": "withdraw"})
    client.post(sign_url(letter), sign_data())
    client.post(confirm_link(deliver()))
    assert Signature.objects.filter(status="verified").count() == 1
    assert tally(letter).verified == 1


def test_withdrawing_a_pending_signature_erases_it_too(client, letter, deliver):
    client.post(sign_url(letter), sign_data())
    signature = Signature.objects.get()
    services.withdraw(signature_id=signature.pk)
    row = raw_row(signature.pk)
    assert (row["name"], row["email"], row["email_hash"]) == ("", "", "")


# --- 5. employer verification expires -----------------------------------------------------------


@pytest.fixture
def employee(client, letter, deliver):
    client.post(sign_url(letter), sign_data(email="ada@example.com", visibility="anonymous"))
    client.post(confirm_link(deliver()))
    signature = Signature.objects.get()
    assert signature.is_verified_employee
    return signature, link_in(deliver()[-1], "/my-signature/")


def replayed(letter: Letter) -> dict:
    entries = [
        bytes(e.data) for e in PublicLogEntry.objects.filter(letter=letter).order_by("index")
    ]
    return AuditCommand()._replay(entries, letter.slug)


def age(signature: Signature, days: int) -> None:
    Signature.objects.filter(pk=signature.pk).update(
        employee_verified_at=timezone.now() - timedelta(days=days)
    )


def test_letters_default_to_twelve_months(letter):
    assert letter.employee_verification_months == 12


def test_expired_work_verification_still_counts_but_not_as_employee(letter, employee):
    signature, _ = employee
    age(signature, 200)
    assert services.expire_employee_verifications() == 0, "not yet: twelve months"
    age(signature, 370)
    assert services.expire_employee_verifications() == 1
    signature.refresh_from_db()
    assert signature.status == "verified" and not signature.is_verified_employee
    t = tally(letter)
    assert (t.verified, t.anonymous, t.employees) == (1, 1, 0)
    assert DomainTally.objects.get(letter=letter, domain="example.com").count == 0
    counts = replayed(letter)
    assert (counts["verified"], counts["employees"]) == (1, 0), "the log says so too"
    assert services.expire_employee_verifications() == 0, "a second run changes nothing"


def test_the_organiser_sets_the_period(letter, employee):
    signature, _ = employee
    Letter.objects.filter(pk=letter.pk).update(employee_verification_months=1)
    age(signature, 40)
    call_command("expire_employee_verifications")
    signature.refresh_from_db()
    assert not signature.is_verified_employee


def test_reverify_through_the_manage_page_restores_the_mark(client, letter, employee, deliver):
    signature, manage = employee
    age(signature, 370)
    services.expire_employee_verifications()
    page = client.get(manage).content.decode()
    assert "Re-verify my work address" in page
    before = len(deliver())
    response = client.post(manage, {"action": "reverify", "email": "ada@example.com"})
    assert response.status_code == 200
    [mail] = deliver()[before:]
    assert mail.to == ["ada@example.com"]
    link = link_in(mail, "/reverify/")
    assert client.get(link).status_code == 200
    signature.refresh_from_db()
    assert not signature.is_verified_employee, "a GET changes nothing"
    assert client.post(link).status_code == 200
    signature.refresh_from_db()
    assert signature.is_verified_employee
    assert tally(letter).employees == 1
    assert DomainTally.objects.get(letter=letter, domain="example.com").count == 1
    assert replayed(letter)["employees"] == 1
    client.post(link)
    assert tally(letter).employees == 1, "a second click changes nothing"


def test_reverify_with_another_address_mails_nothing_and_says_the_same(
    client, letter, employee, deliver
):
    signature, manage = employee
    age(signature, 370)
    services.expire_employee_verifications()
    before = len(deliver())
    right = client.post(manage, {"action": "reverify", "email": "ada@example.com"})
    wrong = client.post(manage, {"action": "reverify", "email": "eve@example.com"})
    assert right.status_code == wrong.status_code == 200
    assert [m.to for m in deliver()[before:]] == [["ada@example.com"]]


def test_private_employee_reverifies_by_typing_the_erased_address(client, letter, deliver):
    client.post(sign_url(letter), sign_data(email="pia@example.com", visibility="private"))
    client.post(confirm_link(deliver()))
    manage = link_in(deliver()[-1], "/my-signature/")
    signature = Signature.objects.get()
    assert signature.email == "" and signature.is_verified_employee
    age(signature, 400)
    services.expire_employee_verifications()
    client.post(manage, {"action": "reverify", "email": "pia@example.com"})
    link = link_in(deliver()[-1], "/reverify/")
    client.post(link)
    signature.refresh_from_db()
    assert signature.is_verified_employee and signature.email == ""
    assert replayed(letter)["employees"] == tally(letter).employees == 1


def test_a_reverify_token_is_not_a_manage_token(client, letter, employee):
    signature, _ = employee
    token = tokens.make(
        tokens.REVERIFY,
        signature_id=signature.pk,
        letter_id=letter.pk,
        email_hash=signature.email_hash,
    )
    assert client.get(reverse("manage", args=[letter.slug, token])).status_code == 400


def test_the_organiser_sets_the_period_on_the_settings_page(client, organiser, letter):
    client.force_login(organiser)
    url = reverse("organiser:settings", args=[letter.slug])
    data = {
        "allow_public": "on",
        "employer_domains": "example.com",
        "accepts_individuals": "on",
        "employee_verification_months": "6",
    }
    assert client.post(url, data).status_code == 302
    letter.refresh_from_db()
    assert letter.employee_verification_months == 6
    response = client.post(url, {**data, "employee_verification_months": "0"})
    assert response.status_code == 400
    letter.refresh_from_db()
    assert letter.employee_verification_months == 6


def test_plus_tags_do_not_dodge_the_per_address_limit(client, letter, settings):
    settings.SIGN_LIMIT_PER_EMAIL = "2/h"
    codes = [
        client.post(sign_url(letter), sign_data(email=f"ada+{n}@example.com")).status_code
        for n in range(3)
    ]
    assert codes == [302, 302, 429]


def test_a_mark_that_lapses_while_hidden_is_restored_without_it(letter, organiser, employee):
    signature, _ = employee
    services.hide_signature(
        letter_id=letter.pk, signature_id=signature.pk, actor=organiser, reason="spam"
    )
    age(signature, 370)
    assert services.expire_employee_verifications() == 1
    assert tally(letter).employees == 0
    services.restore_signature(letter_id=letter.pk, signature_id=signature.pk, actor=organiser)
    t = tally(letter)
    assert (t.verified, t.employees) == (1, 0)
    counts = replayed(letter)
    assert (counts["verified"], counts["employees"]) == (1, 0)
