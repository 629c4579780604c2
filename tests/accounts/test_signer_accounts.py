"""Signer accounts: register once, sign in one click, manage my signatures."""

import json
import logging
import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import reverse

from petition import services
from petition.models import Letter, Signature, Tally
from tests.conftest import link_in, sign_data

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


def make_user(email: str, *, verified: bool = True, **profile):
    user = get_user_model().objects.create_user(email=email, password=PASSWORD, **profile)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


@pytest.fixture
def member():
    return make_user(
        "mia@example.org",
        name="Mia Member",
        affiliation="Allied Campaign",
        job_title="Organiser",
        city="Leeds",
    )


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def one_click(**overrides) -> dict:
    data = {"name": "Mia Member", "email": "mia@example.org", "visibility": "public"}
    data.update(overrides)
    return data


def sign_url(letter: Letter) -> str:
    return reverse("sign", args=[letter.slug])


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def tally(letter: Letter) -> Tally:
    return Tally.objects.get(letter=letter)


# --- one-click signing ----------------------------------------------------------------------------


def test_one_click_signature_is_verified_at_once_with_one_mail_and_counted(
    member_client, member, letter, deliver
):
    response = member_client.post(sign_url(letter), one_click())
    assert response.status_code == 200, "the thanks page at once: no receipt kept in the session"
    signature = Signature.objects.get()
    assert signature.status == "verified"
    assert signature.user == member
    assert signature.version.number == 1
    assert (tally(letter).verified, tally(letter).public) == (1, 1)
    outbox = deliver()
    assert len(outbox) == 1, "one mail: the confirmation, no verification loop"
    assert outbox[0].to == ["mia@example.org"]
    assert "You have signed" in outbox[0].subject
    assert "/confirm/" not in outbox[0].body
    assert "/my-signature/" in outbox[0].body, "the confirmation says how to withdraw"
    assert "Public" in outbox[0].body
    page = response.content.decode()
    assert "Thank you for signing" in page and "receipt" in page.lower()
    assert reverse("me_signatures") in page


def test_letter_page_prefills_the_form_from_the_profile(member_client, letter):
    page = member_client.get(letter.get_absolute_url()).content.decode()
    for value in ("Mia Member", "mia@example.org", "Allied Campaign", "Organiser", "Leeds"):
        assert f'value="{value}"' in page
    assert "confirmed at once" in page
    assert "Sign now" in page
    # The letter names an employer domain the account address is not on: say how to get the badge.
    assert "verified employee" in page and "example.com" in page


def test_visitor_is_offered_to_sign_in_to_sign_with_one_click(client, letter):
    page = client.get(letter.get_absolute_url()).content.decode()
    assert "Sign in to sign with one click" in page
    assert f"{reverse('account_login')}?next={letter.get_absolute_url()}" in page


def test_thanks_page_offers_an_account_after_a_mailed_signature(client, letter, deliver):
    client.post(sign_url(letter), sign_data())
    client.post(link_in(deliver()[-1], "/confirm/"))
    page = client.get(reverse("thanks", args=[letter.slug])).content.decode()
    assert "Keep track of your signatures: create an account" in page


def test_profile_edits_prefill_the_next_signature(member_client, member, letter):
    response = member_client.post(
        reverse("me_profile"),
        {"name": "Mia M. Member", "affiliation": "", "job_title": "Chair", "city": "York"},
    )
    assert response.status_code == 302
    page = member_client.get(letter.get_absolute_url()).content.decode()
    assert 'value="Mia M. Member"' in page and 'value="Chair"' in page


def test_details_typed_on_the_form_win_over_the_profile(member_client, letter):
    member_client.post(sign_url(letter), one_click(name="M. Member", city="Hull", show_city="on"))
    signature = Signature.objects.get()
    assert (signature.name, signature.city, signature.show_city) == ("M. Member", "Hull", True)


def test_work_address_still_needs_the_link_for_employer_verification(
    member_client, member, letter, deliver
):
    response = member_client.post(sign_url(letter), one_click(email="mia@example.com"))
    assert response["Location"] == reverse("check_inbox", args=[letter.slug])
    signature = Signature.objects.get()
    assert signature.status == "pending" and signature.user == member
    assert tally(letter).verified == 0
    [mail] = deliver()
    assert mail.to == ["mia@example.com"]
    listed = member_client.get(reverse("me_signatures")).content.decode()
    assert letter.title in listed and "Waiting for email confirmation" in listed
    # Confirmed from the same account: verified employee, and still listed.
    assert member_client.post(link_in(mail, "/confirm/")).status_code == 200
    signature.refresh_from_db()
    assert signature.status == "verified" and signature.is_verified_employee
    assert signature.user == member
    assert (tally(letter).verified, tally(letter).employees) == (1, 1)


def test_account_address_on_the_employer_domain_is_a_verified_employee_at_once(client, letter):
    worker = make_user("wes@example.com")
    client.force_login(worker)
    client.post(sign_url(letter), one_click(name="Wes", email="wes@example.com"))
    signature = Signature.objects.get()
    assert signature.status == "verified" and signature.is_verified_employee
    assert tally(letter).employees == 1


def test_one_click_private_signature_shows_its_receipt_once_and_erases_identity(
    member_client, letter, deliver
):
    response = member_client.post(sign_url(letter), one_click(visibility="private", name=""))
    assert response.status_code == 200, "rendered at once: never parked in the session"
    assert "receipt" in response.content.decode().lower()
    signature = Signature.objects.get()
    assert (signature.status, signature.name, signature.email, signature.user) == (
        "verified",
        "",
        "",
        None,
    )
    assert (tally(letter).verified, tally(letter).private) == (1, 1)
    [mail] = deliver()
    assert mail.to == ["mia@example.org"] and "Private" in mail.body


def test_letter_page_says_you_signed_instead_of_showing_the_form(member_client, letter):
    member_client.post(sign_url(letter), one_click(visibility="anonymous"))
    page = member_client.get(letter.get_absolute_url()).content.decode()
    assert "You have signed this letter (anonymous, verified)" in page
    assert "Sign now" not in page


def test_one_click_on_a_closed_letter_is_refused(member_client, letter):
    services.close(letter_id=letter.pk)
    response = member_client.post(sign_url(letter), one_click())
    assert response.status_code == 403
    assert not Signature.objects.exists()


def test_one_click_form_errors_are_shown_on_the_page(member_client, letter):
    response = member_client.post(sign_url(letter), one_click(name=""))
    assert response.status_code == 400
    assert "Please give your name" in response.content.decode()
    assert not Signature.objects.exists()


# --- one person, one signature --------------------------------------------------------------------


def test_verified_signed_out_then_signed_in_makes_one_signature(client, member, letter, deliver):
    client.post(sign_url(letter), one_click())
    client.post(link_in(deliver()[-1], "/confirm/"))
    first = Signature.objects.get()
    assert first.user is None
    client.force_login(member)
    response = client.post(sign_url(letter), one_click(visibility="anonymous"))
    assert response.status_code == 200
    assert "already signed" in response.content.decode()
    assert Signature.objects.count() == 1
    first.refresh_from_db()
    assert first.visibility == "public", "nothing changed"
    assert first.user == member, "the owner of the address now finds it on My signatures"
    assert tally(letter).verified == 1


def test_pending_signed_out_then_signed_in_confirms_that_same_signature(
    client, member, letter, deliver
):
    client.post(sign_url(letter), one_click(city="Old"))
    pending = Signature.objects.get()
    client.force_login(member)
    client.post(sign_url(letter), one_click(visibility="anonymous", city="New"))
    assert Signature.objects.count() == 1
    pending.refresh_from_db()
    assert (pending.status, pending.visibility, pending.city) == ("verified", "anonymous", "New")
    assert pending.user == member
    assert (tally(letter).verified, tally(letter).anonymous) == (1, 1)


def test_signed_in_then_signed_out_makes_one_signature(client, member, letter, deliver):
    client.force_login(member)
    client.post(sign_url(letter), one_click())
    deliver()
    client.logout()
    response = client.post(sign_url(letter), one_click(name="Someone Else"))
    assert response["Location"] == reverse("check_inbox", args=[letter.slug]), "same answer"
    assert Signature.objects.count() == 1
    assert "already signed" in deliver()[-1].subject
    assert tally(letter).verified == 1


def test_private_signed_out_then_signed_in_is_one_signature_and_stays_unlinked(
    client, member, letter, deliver
):
    client.post(sign_url(letter), one_click(visibility="private", name=""))
    client.post(link_in(deliver()[-1], "/confirm/"))
    client.force_login(member)
    response = client.post(sign_url(letter), one_click())
    assert "privately" in response.content.decode()
    assert Signature.objects.count() == 1
    assert Signature.objects.get().user is None
    assert tally(letter).verified == 1


def test_double_one_click_makes_one_signature_and_one_mail(member_client, letter, deliver):
    member_client.post(sign_url(letter), one_click())
    member_client.post(sign_url(letter), one_click())
    assert Signature.objects.count() == 1
    assert len(deliver()) == 1
    assert tally(letter).verified == 1


# --- who may do what ------------------------------------------------------------------------------


def test_unverified_user_gets_no_prefill_and_no_one_click(client, letter, deliver):
    unverified = make_user("una@example.org", verified=False, name="Una")
    client.force_login(unverified)
    page = client.get(letter.get_absolute_url()).content.decode()
    assert 'value="una@example.org"' not in page
    response = client.post(sign_url(letter), one_click(name="Una", email="una@example.org"))
    assert response["Location"] == reverse("check_inbox", args=[letter.slug])
    assert Signature.objects.get().status == "pending"
    assert tally(letter).verified == 0
    assert "/confirm/" in deliver()[-1].body


def test_unverified_account_with_someones_address_gets_nothing_of_theirs(client, letter, deliver):
    client.post(sign_url(letter), sign_data(email="vic@example.org", name="Vic Victim"))
    client.post(link_in(deliver()[-1], "/confirm/"))
    victims = Signature.objects.get()
    squatter = make_user("vic@example.org", verified=False)
    client.force_login(squatter)
    assert "Vic Victim" not in client.get(reverse("me_signatures")).content.decode()
    assert "Vic Victim" not in client.get(reverse("me_data")).content.decode()
    withdraw = reverse("me_signature_withdraw", args=[victims.public_id])
    assert client.post(withdraw).status_code == 404
    client.post(sign_url(letter), one_click(email="vic@example.org", visibility="anonymous"))
    victims.refresh_from_db()
    assert (victims.status, victims.visibility, victims.user) == ("verified", "public", None)


def test_signed_in_user_cannot_sign_in_someone_elses_name(member_client, member, letter, deliver):
    data = one_click(email="vic@example.org", name="Vic Victim", user=str(member.pk))
    response = member_client.post(sign_url(letter), data)
    assert response["Location"] == reverse("check_inbox", args=[letter.slug])
    signature = Signature.objects.get()
    assert signature.status == "pending", "nothing verified without the owner of the address"
    assert tally(letter).verified == 0
    [mail] = deliver()
    assert mail.to == ["vic@example.org"]


def test_signature_confirmed_by_someone_else_is_not_linked_to_the_account_that_typed_it(
    member_client, client_factory, member, letter, deliver
):
    member_client.post(sign_url(letter), one_click(email="vic@example.org", name="Vic"))
    victim = client_factory()
    victim.post(link_in(deliver()[-1], "/confirm/"))
    signature = Signature.objects.get()
    assert signature.status == "verified" and signature.user is None
    page = member_client.get(reverse("me_signatures")).content.decode()
    assert letter.title not in page


@pytest.fixture
def client_factory():
    from django.test import Client

    return Client


@pytest.fixture
def members_signature(member_client, letter, deliver):
    member_client.post(sign_url(letter), one_click())
    deliver()
    return Signature.objects.get()


def me_urls(signature: Signature) -> list[str]:
    return [
        reverse("me_signatures"),
        reverse("me_signature_level", args=[signature.public_id, "anonymous"]),
        reverse("me_signature_withdraw", args=[signature.public_id]),
        reverse("me_profile"),
        reverse("me_data"),
        reverse("me_delete"),
    ]


def test_signed_out_visitor_is_sent_to_log_in_from_every_account_page(
    client, members_signature, letter
):
    client.logout()
    for url in me_urls(members_signature):
        for method in (client.get, client.post):
            response = method(url, {"signatures": "withdraw", "password": PASSWORD})
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("account_login")), url
    members_signature.refresh_from_db()
    assert (members_signature.status, members_signature.visibility) == ("verified", "public")
    assert get_user_model().objects.filter(email="mia@example.org").exists()


def test_another_user_cannot_see_or_change_someone_elses_signatures(
    client, members_signature, letter
):
    other = make_user("otto@example.org", name="Otto Other")
    client.force_login(other)
    assert letter.title not in client.get(reverse("me_signatures")).content.decode()
    data = json.loads(client.get(reverse("me_data")).content)
    assert data["signatures"] == [] and data["account"]["email"] == "otto@example.org"
    for url in me_urls(members_signature)[1:3]:
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    members_signature.refresh_from_db()
    assert (members_signature.status, members_signature.visibility) == ("verified", "public")
    assert tally(letter).verified == 1


def test_a_level_the_letter_does_not_offer_or_makes_no_sense_is_refused(
    member_client, members_signature, letter
):
    Letter.objects.filter(pk=letter.pk).update(allow_anonymous=False)
    for level in ("anonymous", "public", "secret"):
        url = reverse("me_signature_level", args=[members_signature.public_id, level])
        assert member_client.post(url).status_code == 404
    members_signature.refresh_from_db()
    assert members_signature.visibility == "public"


def test_confirmation_pages_change_nothing_on_get(member_client, members_signature, letter):
    level = reverse("me_signature_level", args=[members_signature.public_id, "anonymous"])
    withdraw = reverse("me_signature_withdraw", args=[members_signature.public_id])
    assert "Yes, make it anonymous" in member_client.get(level).content.decode()
    assert "Yes, withdraw my signature" in member_client.get(withdraw).content.decode()
    members_signature.refresh_from_db()
    assert (members_signature.status, members_signature.visibility) == ("verified", "public")


# --- my signatures --------------------------------------------------------------------------------


def test_my_signatures_lists_letter_version_level_and_status(
    member_client, members_signature, letter
):
    page = member_client.get(reverse("me_signatures")).content.decode()
    assert letter.title in page
    assert "<dt>Version</dt><dd>1</dd>" in page
    assert "<dt>Level</dt><dd>Public</dd>" in page
    assert "<dt>Status</dt><dd>Verified" in page
    assert "Private signatures are not listed here" in page


def test_my_signatures_never_lists_a_private_signature(member_client, make_letter, letter):
    other = make_letter()
    member_client.post(sign_url(letter), one_click(visibility="private", name=""))
    member_client.post(sign_url(other), one_click(visibility="anonymous"))
    page = member_client.get(reverse("me_signatures")).content.decode()
    assert other.title in page
    assert letter.title not in page
    assert "not listed here" in page and "no link to any account" in page


def test_switch_public_to_anonymous_and_back_keeps_the_tally_exact(
    member_client, members_signature, letter
):
    to_anonymous = reverse("me_signature_level", args=[members_signature.public_id, "anonymous"])
    assert member_client.post(to_anonymous)["Location"] == reverse("me_signatures")
    t = tally(letter)
    assert (t.verified, t.public, t.anonymous) == (1, 0, 1)
    to_public = reverse("me_signature_level", args=[members_signature.public_id, "public"])
    member_client.post(to_public)
    t = tally(letter)
    assert (t.verified, t.public, t.anonymous) == (1, 1, 0)
    members_signature.refresh_from_db()
    assert members_signature.visibility == "public" and members_signature.name == "Mia Member"


def test_switch_to_private_is_one_way_erases_identity_and_drops_the_link(
    member_client, members_signature, letter
):
    url = reverse("me_signature_level", args=[members_signature.public_id, "private"])
    assert "cannot be undone" in member_client.get(url).content.decode()
    member_client.post(url)
    members_signature.refresh_from_db()
    assert (members_signature.name, members_signature.email, members_signature.user) == (
        "",
        "",
        None,
    )
    t = tally(letter)
    assert (t.verified, t.public, t.private) == (1, 0, 1)
    assert letter.title not in member_client.get(reverse("me_signatures")).content.decode()
    back = reverse("me_signature_level", args=[members_signature.public_id, "public"])
    assert member_client.post(back).status_code == 404


def test_withdraw_from_my_signatures_counts_down(member_client, members_signature, letter):
    url = reverse("me_signature_withdraw", args=[members_signature.public_id])
    assert member_client.post(url)["Location"] == reverse("me_signatures")
    members_signature.refresh_from_db()
    assert members_signature.status == "withdrawn"
    assert (tally(letter).verified, tally(letter).public) == (0, 0)
    assert member_client.post(url).status_code == 404, "a second withdrawal changes nothing"
    assert tally(letter).verified == 0


def test_my_signatures_page_queries_do_not_grow_with_signatures(
    member_client, make_letter, django_assert_max_num_queries
):
    for _ in range(6):
        member_client.post(sign_url(make_letter()), one_click())
    with django_assert_max_num_queries(8):
        page = member_client.get(reverse("me_signatures")).content.decode()
    assert page.count('class="card"') == 6


# --- privacy: a private signature is never tied to the account ------------------------------------


def user_references() -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to the users table, found by introspection."""
    user_table = get_user_model()._meta.db_table
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            relations = connection.introspection.get_relations(cursor, table)
            for column, relation in relations.items():
                if relation[1] == user_table:  # (referenced column, referenced table, ...)
                    found.append((table, column))
    return found


def all_rows() -> dict[str, list[tuple[dict, str]]]:
    rows = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608
            rows[table] = [(json.loads(text), text) for (text,) in cursor.fetchall()]
    return rows


@pytest.fixture
def every_log_line(caplog):
    """Capture at DEBUG from every logger, including those that do not propagate to the root."""
    caplog.set_level(logging.DEBUG)
    quiet = [
        logging.getLogger(name)
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in quiet:
        logger.addHandler(caplog.handler)
    old_levels = {logger: logger.level for logger in quiet}
    for logger in quiet:
        logger.setLevel(logging.DEBUG)
    yield caplog
    for logger in quiet:
        logger.removeHandler(caplog.handler)
        logger.setLevel(old_levels[logger])


def assert_not_tied(user, signature: Signature, caplog) -> None:
    signature.refresh_from_db()
    markers = [str(signature.public_id), signature.public_id.hex, signature.email_hash]
    if signature.log_ref:
        markers.append(signature.log_ref)
    identity = [user.email, user.name]
    # 1. Every column that references the users table, in every table.
    refs = user_references()
    assert ("petition_signature", "user_id") in refs
    with connection.cursor() as cursor:
        for table, column in refs:
            cursor.execute(
                f'SELECT row_to_json(t)::text FROM "{table}" t WHERE "{column}" = %s',  # noqa: S608
                [user.pk],
            )
            for (text,) in cursor.fetchall():
                assert not any(m in text for m in markers), f"{table}.{column} ties them: {text}"
        cursor.execute("SELECT user_id FROM petition_signature WHERE id = %s", [signature.pk])
        assert cursor.fetchone() == (None,)
    # 2. Any row anywhere that names the signature names no one, and no user column holds the user.
    user_columns = {}
    for table, column in refs:
        user_columns.setdefault(table, []).append(column)
    for table, rows in all_rows().items():
        for row, text in rows:
            if any(m in text for m in markers):
                assert not any(i and i in text for i in identity), f"{table} row names them: {text}"
                for column in user_columns.get(table, []):
                    assert row[column] != user.pk, f"{table}.{column} points at the user"
    # 3. The user's sessions (stored encoded, so decoded here) hold nothing of the signature.
    for session in Session.objects.all():
        decoded = session.get_decoded()
        if str(decoded.get("_auth_user_id")) == str(user.pk):
            text = json.dumps(decoded, default=str)
            assert not any(m in text for m in markers), f"session ties them: {text}"
    # 4. No log line names both, or either with the other's identifiers.
    for record in caplog.records:
        line = record.getMessage()
        assert not any(m in line for m in markers), line
        assert user.email not in line, line


def test_private_one_click_signature_is_never_tied_to_the_account(
    member_client, member, letter, deliver, every_log_line
):
    member_client.post(sign_url(letter), one_click(visibility="private", name="Mia Member"))
    deliver()
    member_client.get(reverse("me_signatures"))
    member_client.get(reverse("me_data"))
    signature = Signature.objects.get()
    assert signature.status == "verified"
    assert_not_tied(member, signature, every_log_line)
    data = json.loads(member_client.get(reverse("me_data")).content)
    assert data["signatures"] == []


def test_switching_to_private_leaves_nothing_tying_it_to_the_account(
    member_client, member, members_signature, letter, deliver, every_log_line
):
    url = reverse("me_signature_level", args=[members_signature.public_id, "private"])
    member_client.post(url)
    member_client.get(reverse("me_signatures"))
    deliver()
    assert_not_tied(member, members_signature, every_log_line)


def test_private_signature_confirmed_by_link_while_signed_in_is_not_tied(
    member_client, member, letter, deliver, every_log_line
):
    member_client.post(sign_url(letter), one_click(visibility="private", email="mia@example.com"))
    response = member_client.post(link_in(deliver()[-1], "/confirm/"))
    assert response.status_code == 200, "the receipt is shown at once, not kept in the session"
    deliver()
    signature = Signature.objects.get()
    assert signature.status == "verified" and signature.is_verified_employee
    assert_not_tied(member, signature, every_log_line)


def test_logging_in_drops_receipts_left_in_a_signed_out_session(client, member, letter, deliver):
    client.post(sign_url(letter), one_click(visibility="private", name=""))
    client.post(link_in(deliver()[-1], "/confirm/"))
    assert f"receipt:{letter.slug}" in client.session
    response = client.post(
        reverse("account_login"), {"login": "mia@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
    assert f"receipt:{letter.slug}" not in client.session


# --- leaving --------------------------------------------------------------------------------------


@pytest.fixture
def two_signatures(member_client, make_letter, deliver):
    first, second = make_letter(), make_letter()
    member_client.post(sign_url(first), one_click())
    member_client.post(sign_url(second), one_click(visibility="anonymous"))
    deliver()
    return first, second


def test_deleting_the_account_and_keeping_signatures_leaves_them_as_signed(
    member_client, member, two_signatures
):
    page = member_client.get(reverse("me_delete")).content.decode()
    assert "Keep them as they are" in page and "Withdraw them all" in page
    response = member_client.post(
        reverse("me_delete"), {"signatures": "keep", "password": PASSWORD}
    )
    assert response["Location"] == reverse("home")
    assert not get_user_model().objects.filter(pk=member.pk).exists()
    assert not EmailAddress.objects.filter(email="mia@example.org").exists()
    for signature in Signature.objects.all():
        assert (signature.status, signature.user_id) == ("verified", None)
        assert (signature.name, signature.email) == ("Mia Member", "mia@example.org")
    first, second = two_signatures
    assert (tally(first).verified, tally(first).public) == (1, 1)
    assert (tally(second).verified, tally(second).anonymous) == (1, 1)
    assert "_auth_user_id" not in member_client.session


def test_deleting_the_account_and_withdrawing_withdraws_every_signature(
    member_client, member, two_signatures
):
    member_client.post(reverse("me_delete"), {"signatures": "withdraw", "password": PASSWORD})
    assert not get_user_model().objects.filter(pk=member.pk).exists()
    assert set(Signature.objects.values_list("status", flat=True)) == {"withdrawn"}
    for letter in two_signatures:
        t = tally(letter)
        assert (t.verified, t.public, t.anonymous) == (0, 0, 0)


def test_deletion_needs_a_choice_and_the_password(member_client, member, two_signatures):
    response = member_client.post(reverse("me_delete"), {"password": PASSWORD})
    assert response.status_code == 400
    assert "Please choose what happens to your signatures" in response.content.decode()
    response = member_client.post(reverse("me_delete"), {"signatures": "withdraw", "password": "x"})
    assert response.status_code == 400
    assert "This is not your password" in response.content.decode()
    assert get_user_model().objects.filter(pk=member.pk).exists()
    assert set(Signature.objects.values_list("status", flat=True)) == {"verified"}


def test_an_account_that_owns_letters_is_not_deleted(client, organiser, letter):
    client.force_login(organiser)
    response = client.post(reverse("me_delete"), {"signatures": "keep", "password": PASSWORD})
    assert response.status_code == 400
    assert "still owns letters" in response.content.decode()
    assert get_user_model().objects.filter(pk=organiser.pk).exists()


def test_data_download_holds_the_account_and_its_signatures(
    member_client, member, make_letter, two_signatures
):
    private_letter = make_letter()
    member_client.post(sign_url(private_letter), one_click(visibility="private", name=""))
    response = member_client.get(reverse("me_data"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="undersigned-my-data.json"'
    assert response["Cache-Control"] == "no-store"
    data = json.loads(response.content)
    assert data["account"]["email"] == "mia@example.org"
    assert data["account"]["name"] == "Mia Member"
    assert data["account"]["job_title"] == "Organiser"
    assert data["account"]["email_addresses"] == [
        {"email": "mia@example.org", "verified": True, "primary": True}
    ]
    first, second = two_signatures
    by_letter = {s["letter"]["slug"]: s for s in data["signatures"]}
    assert set(by_letter) == {first.slug, second.slug}
    assert by_letter[first.slug]["level"] == "public"
    assert by_letter[second.slug]["level"] == "anonymous"
    for entry in by_letter.values():
        assert entry["status"] == "verified" and entry["version"] == 1
        assert entry["name"] == "Mia Member" and entry["email"] == "mia@example.org"
    assert "Private signatures are not listed" in data["private_signatures"]


# --- pages: CSP-clean, labelled -------------------------------------------------------------------


def test_account_pages_have_no_inline_script_or_style(member_client, members_signature, client):
    urls = me_urls(members_signature)
    urls.remove(reverse("me_data"))
    for url in urls:
        page = member_client.get(url).content.decode()
        assert "<script>" not in page and " style=" not in page and "<style" not in page, url
        assert "Content-Security-Policy" in member_client.get(url).headers
    member_client.logout()
    for name in ("account_signup", "account_login"):
        page = client.get(reverse(name)).content.decode()
        assert "<script>" not in page and " style=" not in page, name
        assert 'href="/static/css/site.css"' in page, "allauth pages use the site layout"
        assert re.search(r'<label for="id_(email|login)"', page), "fields are labelled"


# --- done when: the whole flow through the web pages ----------------------------------------------


def card_for(page: str, title: str) -> str:
    for card in page.split('<li class="card">')[1:]:
        if title in card:
            return card
    raise AssertionError(f"{title} not on the page")


def href(card: str, text: str) -> str:
    match = re.search(r'<a class="button[^"]*" href="([^"]+)">' + re.escape(text) + "</a>", card)
    assert match, f"no {text!r} button in:\n{card}"
    return match.group(1)


def test_register_verify_sign_two_letters_switch_one_withdraw_the_other(
    client, make_letter, deliver
):
    first = make_letter(title="Stop the surveillance contract")
    second = make_letter(title="Publish the audit")

    # Register.
    assert client.get(reverse("account_signup")).status_code == 200
    response = client.post(
        reverse("account_signup"),
        {"email": "newbie@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    # Verify the address by the link in the mail (GET shows a button, POST confirms).
    [mail] = deliver()
    assert mail.to == ["newbie@example.org"]
    link = path_of(re.search(r"https?://\S+/accounts/confirm-email/\S+", mail.body).group(0))
    assert client.get(link).status_code == 200
    assert client.post(link).status_code == 302
    # Sign in.
    response = client.post(
        reverse("account_login"), {"login": "newbie@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert "_auth_user_id" in client.session

    # Sign two letters, one click each: the form comes pre-filled with the verified address.
    for letter in (first, second):
        page = client.get(letter.get_absolute_url()).content.decode()
        assert 'value="newbie@example.org"' in page and "Sign now" in page
        response = client.post(
            sign_url(letter),
            {"name": "Nina Newbie", "email": "newbie@example.org", "visibility": "public"},
        )
        assert "Thank you for signing" in response.content.decode()
    confirmations = deliver()[1:]
    assert len(confirmations) == 2 and all("You have signed" in m.subject for m in confirmations)
    assert (tally(first).verified, tally(second).verified) == (1, 1)

    # Switch the first to anonymous: a button, a confirmation page, a POST.
    page = client.get(reverse("me_signatures")).content.decode()
    confirm = href(card_for(page, first.title), "Make it anonymous")
    assert "Yes, make it anonymous" in client.get(confirm).content.decode()
    assert client.post(confirm)["Location"] == reverse("me_signatures")

    # Withdraw the second the same way.
    page = client.get(reverse("me_signatures")).content.decode()
    confirm = href(card_for(page, second.title), "Withdraw")
    assert "Yes, withdraw my signature" in client.get(confirm).content.decode()
    assert client.post(confirm)["Location"] == reverse("me_signatures")

    page = client.get(reverse("me_signatures")).content.decode()
    assert "<dt>Level</dt><dd>Anonymous</dd>" in card_for(page, first.title)
    # A withdrawn signature keeps no link to the account that made it: it leaves the list.
    cards = page.split('<li class="card">')[1:]
    assert [card for card in cards if second.title in card] == []
    t1, t2 = tally(first), tally(second)
    assert (t1.verified, t1.public, t1.anonymous) == (1, 0, 1)
    assert (t2.verified, t2.public) == (0, 0)
    assert "Anonymous" in client.get(first.get_absolute_url()).content.decode()
