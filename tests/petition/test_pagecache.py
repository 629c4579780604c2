"""Whole pages for readers without a session (petition/pagecache.py): the letter page and its
tally are rendered once per state of the letter, never shown stale, and each reader gets a CSRF
token of their own."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP

from accounts import services as org_services
from petition import pagecache, services
from petition.models import Organiser
from tests.conftest import pending_signature, sign_data, verified_signature
from tests.petition.test_cosign import approved_cosigner, listed_names, make_org, make_user

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def letter_url(letter, query: str = "") -> str:
    return reverse("letter", args=[letter.slug]) + query


def tally_url(letter) -> str:
    return reverse("tally", args=[letter.slug])


def read(url: str) -> str:
    """The page as a new reader (no cookie at all) gets it."""
    response = Client().get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def from_cache(url: str) -> bool:
    """Did a new reader get the page without a template being rendered?"""
    response = Client().get(url)
    assert response.status_code == 200, url
    return not response.templates


def cached(url: str) -> str:
    """The page, after checking that readers now get it from the cache."""
    read(url)
    assert from_cache(url), "the page was rendered again"
    return read(url)


def without_tokens(html: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value="..."', html)


def with_session_cookie() -> Client:
    """A signed-out reader who has a session (a receipt kept in it, say): the normal render."""
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "no-such-session"
    return client


# --- Served from the cache, and the same page Django renders ------------------------------------


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_a_second_reader_is_served_in_one_query_without_rendering(client, letter, page):
    verified_signature(letter, "ada@example.com")
    url = page(letter)
    assert not from_cache(url)
    assert from_cache(url)
    assert queries(Client(), url) == 1


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_a_letter_with_co_signers_costs_one_more_small_query(make_letter, page):
    letter = make_letter(accepts_organisations=True)
    approved_cosigner(letter, "Friends of the Earth")
    url = page(letter)
    read(url)
    assert from_cache(url)
    assert queries(Client(), url) == 2


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_another_process_renders_nothing_the_shared_cache_holds(letter, page):
    url = page(letter)
    read(url)
    pagecache.clear()  # a process that has not served it yet
    assert from_cache(url)


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_the_cached_page_is_the_page_django_renders_but_for_the_token(make_letter, page):
    letter = make_letter(employer_domains="example.com", goal=10, accepts_organisations=True)
    verified_signature(letter, "ada@example.com", job_title="Engineer", show_job_title=True)
    verified_signature(letter, "bo@example.net", visibility="anonymous")
    approved_cosigner(letter, "Friends of the Earth", website="https://foe.example/")
    url = page(letter)
    from_cache = cached(url)
    rendered = with_session_cookie().get(url).content.decode()
    assert without_tokens(from_cache) == without_tokens(rendered)
    assert pagecache.csrf_placeholder() not in from_cache


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_no_template_syntax_or_comment_reaches_the_page(letter, page):
    verified_signature(letter, "ada@example.com")
    html = cached(page(letter))
    assert "{#" not in html and "{%" not in html and "{{" not in html


def test_signers_pages_are_cached_apart_and_read_as_the_paginator_reads_them(
    client, letter, settings
):
    settings.SIGNERS_PER_PAGE = 1
    verified_signature(letter, "older@example.com", name="Older Signer")
    verified_signature(letter, "newer@example.com", name="Newer Signer")
    first, second = cached(letter_url(letter)), cached(letter_url(letter, "?page=2"))
    assert "Newer Signer" in first and "Older Signer" not in first
    assert "Older Signer" in second and "Newer Signer" not in second
    # Nonsense is the first page and past the end the last, as for the paginator: same entries.
    assert from_cache(letter_url(letter, "?page=nonsense"))
    assert "Newer Signer" in read(letter_url(letter, "?page=nonsense"))
    assert from_cache(letter_url(letter, "?page=99"))
    assert "Older Signer" in read(letter_url(letter, "?page=99"))


# --- The CSRF token: each reader's own, never in the cache --------------------------------------


def test_two_readers_get_different_tokens_and_both_can_sign(letter, deliver):
    url = letter_url(letter)
    read(url)  # the page is now in the cache
    for n in range(2):
        reader = Client(enforce_csrf_checks=True)
        page = reader.get(url)
        assert not page.templates  # from the cache
        token = TOKEN.search(page.content.decode()).group(1)
        assert page.cookies[settings.CSRF_COOKIE_NAME].value
        response = reader.post(
            reverse("sign", args=[letter.slug]),
            {**sign_data(email=f"reader{n}@example.com"), "csrfmiddlewaretoken": token},
        )
        assert response.status_code == 302, response.content[:500]
        assert response.url == reverse("check_inbox", args=[letter.slug])
    tokens = [TOKEN.search(read(url)).group(1) for _ in range(2)]
    assert tokens[0] != tokens[1]


def test_a_token_from_the_cache_is_refused_with_another_readers_cookie(letter):
    url = letter_url(letter)
    read(url)
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    token = TOKEN.search(first.get(url).content.decode()).group(1)
    second.get(url)  # a cookie of its own
    response = second.post(
        reverse("sign", args=[letter.slug]), {**sign_data(), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 403


def test_no_reader_token_reaches_the_cache(letter):
    url = letter_url(letter)
    pages = [Client().get(url) for _ in range(3)]
    stored = b"".join(b"".join(parts) for _, parts in pagecache._local.entries.values())
    assert stored
    for page in pages:
        token = TOKEN.search(page.content.decode()).group(1)
        assert token.encode() not in stored
        assert page.cookies[settings.CSRF_COOKIE_NAME].value.encode() not in stored


def test_a_reader_keeps_the_csrf_cookie_they_have(letter):
    reader = Client(enforce_csrf_checks=True)
    cookie = reader.get(letter_url(letter)).cookies[settings.CSRF_COOKIE_NAME].value
    again = reader.get(letter_url(letter))
    assert again.cookies[settings.CSRF_COOKIE_NAME].value == cookie


@pytest.mark.parametrize("reader", [Client, with_session_cookie])
def test_no_shared_cache_may_keep_the_letter_page(letter, reader):
    response = reader().get(letter_url(letter))
    assert "private" in response.headers["Cache-Control"]
    assert "Cookie" in response.headers["Vary"]
    assert settings.CSRF_COOKIE_NAME in response.cookies


def test_the_tally_sets_no_csrf_cookie_as_it_has_no_form(letter):
    read(tally_url(letter))
    response = Client().get(tally_url(letter))
    assert settings.CSRF_COOKIE_NAME not in response.cookies
    assert "private" in response.headers["Cache-Control"]


def test_cached_pages_keep_the_content_security_policy(letter):
    read(letter_url(letter))
    response = Client().get(letter_url(letter))
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_policy_with_nonces_turns_the_cache_off(letter, settings):
    settings.SECURE_CSP = {**settings.SECURE_CSP, "script-src": [CSP.SELF, CSP.NONCE]}
    read(letter_url(letter))
    assert not from_cache(letter_url(letter))


# --- Who gets the normal render -----------------------------------------------------------------


def test_a_signed_in_reader_sees_their_own_view_of_a_cached_page(client, letter):
    read(letter_url(letter))
    user = make_user("grace@example.org", name="Grace Hopper")
    client.force_login(user)
    page = client.get(letter_url(letter)).content.decode()
    assert "You are signed in. Signing with grace@example.org is confirmed at once" in page
    assert "Sign now" in page and "Sign out" in page
    # and readers without a session still get theirs
    assert "Sign in to sign with one click" in cached(letter_url(letter))


def test_a_signer_signed_in_sees_their_signature_not_the_form(client, letter):
    user = make_user("grace@example.org", name="Grace Hopper")
    verified_signature(letter, "grace@example.org", user=user)
    read(letter_url(letter))
    client.force_login(user)
    assert "You have signed this letter" in client.get(letter_url(letter)).content.decode()


def test_an_organiser_sees_the_embed_code_on_a_cached_tally(client, letter, organiser):
    assert "Embed the count" not in cached(tally_url(letter))
    assert Organiser.objects.filter(letter=letter, user=organiser).exists()
    client.force_login(organiser)
    assert "Embed the count" in client.get(tally_url(letter)).content.decode()


def flash_cookie(text: str) -> str:
    storage = CookieStorage(RequestFactory().get("/"))
    storage.add(messages.INFO, text)
    response = HttpResponse()
    storage.update(response)
    return response.cookies[CookieStorage.cookie_name].value


def test_a_reader_with_a_flash_message_sees_it(client, letter):
    read(letter_url(letter))
    client.cookies[CookieStorage.cookie_name] = flash_cookie("You have been logged out.")
    assert "You have been logged out." in client.get(letter_url(letter)).content.decode()
    assert "You have been logged out." not in read(letter_url(letter))


# --- Never stale: each change shows at once -----------------------------------------------------


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_a_new_verified_signature_shows_at_once(letter, page):
    before = cached(page(letter))
    assert "Grace Hopper" not in before
    signature = pending_signature(letter, "grace@example.com", name="Grace Hopper")
    services.verify(signature_id=signature.pk)
    after = read(page(letter))
    assert "Grace Hopper" in after
    if page is letter_url:
        assert "<strong>1</strong> verified signature" in after
    else:
        assert 'data-count="verified">1<' in after


def test_a_pending_signature_leaves_the_cached_page_as_it_was(letter):
    read(letter_url(letter))
    pending_signature(letter, "grace@example.com", name="Grace Hopper")
    assert from_cache(letter_url(letter))


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_an_edit_of_the_text_shows_at_once(letter, organiser, page):
    cached(page(letter))
    services.edit_letter(
        letter_id=letter.pk,
        actor=organiser,
        title="A sharper title",
        addressee="The whole board",
        body="We ask you to **stop now**.",
    )
    after = read(page(letter))
    assert "A sharper title" in after and "The whole board" in after
    if page is letter_url:
        assert "<strong>stop now</strong>" in after


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_closing_shows_at_once(letter, page):
    before = cached(page(letter))
    assert "closed for signatures" not in before
    services.close(letter_id=letter.pk)
    after = read(page(letter))
    assert "closed for signatures" in after
    assert 'class="sign-form"' not in after


def test_reopening_shows_the_form_again_at_once(letter):
    services.close(letter_id=letter.pk)
    assert 'class="sign-form"' not in cached(letter_url(letter))
    services.reopen(letter_id=letter.pk)
    assert 'class="sign-form"' in read(letter_url(letter))


def test_a_deadline_passing_closes_the_cached_page_at_once(make_letter, monkeypatch):
    letter = make_letter(deadline=timezone.now() + timedelta(hours=1))
    assert 'class="sign-form"' in cached(letter_url(letter))
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    after = read(letter_url(letter))
    assert 'class="sign-form"' not in after
    assert "not open for signatures" in after


def test_the_tally_chart_runs_to_the_new_day(letter, monkeypatch):
    verified_signature(letter, "ada@example.com")
    tomorrow = timezone.now() + timedelta(days=1)
    label = f"1 verified signature on {tomorrow.day} {tomorrow:%b %Y}"
    assert label not in cached(tally_url(letter))
    monkeypatch.setattr(timezone, "now", lambda: tomorrow)
    assert label in read(tally_url(letter))


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_hiding_and_restoring_a_signer_show_at_once(letter, organiser, page):
    signature = verified_signature(letter, "mallory@example.com", name="Mallory Impostor")
    assert "Mallory Impostor" in cached(page(letter))
    args = {"letter_id": letter.pk, "signature_id": signature.pk, "actor": organiser}
    services.hide_signature(**args, reason="impostor")
    assert "Mallory Impostor" not in read(page(letter))
    assert "Mallory Impostor" not in cached(page(letter))
    services.restore_signature(**args)
    assert "Mallory Impostor" in read(page(letter))


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_a_withdrawal_and_a_move_to_anonymous_show_at_once(letter, page):
    leaving = verified_signature(letter, "leaving@example.com", name="Leaving Signer")
    shy = verified_signature(letter, "shy@example.com", name="Shy Signer")
    before = cached(page(letter))
    assert "Leaving Signer" in before and "Shy Signer" in before
    services.withdraw(signature_id=leaving.pk)
    services.change_level(signature_id=shy.pk, visibility="anonymous")
    after = read(page(letter))
    assert "Leaving Signer" not in after and "Shy Signer" not in after
    assert "Anonymous" in after


def test_a_change_of_settings_shows_in_the_form_at_once(letter, organiser):
    before = cached(letter_url(letter))
    assert 'value="private"' in before
    services.change_settings(letter_id=letter.pk, actor=organiser, allow_private=False)
    after = read(letter_url(letter))
    assert 'value="private"' not in after and 'value="public"' in after


def test_new_employer_domains_show_at_once(make_letter, organiser):
    letter = make_letter()
    assert "verified employee" not in cached(letter_url(letter))
    assert 'data-employer="example.org"' not in cached(tally_url(letter))
    services.change_settings(letter_id=letter.pk, actor=organiser, employer_domains="example.org")
    assert "0 verified employees" in read(letter_url(letter))
    assert 'data-employer="example.org"' in read(tally_url(letter))


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_a_co_signature_approved_or_withdrawn_shows_at_once(make_letter, organiser, page):
    letter = make_letter(accepts_organisations=True)
    assert "Friends of the Earth" not in cached(page(letter))
    admin = make_user("ada@foe.example")
    organisation = make_org(admin, name="Friends of the Earth")
    cosignature = services.cosign(letter=letter, organisation_id=organisation.pk, user=admin)
    assert "Friends of the Earth" not in read(page(letter))  # pending: not listed
    services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    assert "Friends of the Earth" in cached(page(letter))
    services.withdraw_cosign(cosignature_id=cosignature.pk, by=admin)
    assert "Friends of the Earth" not in read(page(letter))


@pytest.mark.parametrize("page", [letter_url, tally_url])
def test_pinning_a_co_signer_reorders_the_cached_list_at_once(make_letter, page):
    letter = make_letter(accepts_organisations=True)
    approved_cosigner(letter, "Amnesty International", 1)
    zoo = approved_cosigner(letter, "Zoological Society", 2)
    before = cached(page(letter))
    assert before.index("Amnesty International") < before.index("Zoological Society")
    services.pin_cosign(cosignature_id=zoo.pk, position=1)
    after = read(page(letter))
    assert after.index("Zoological Society") < after.index("Amnesty International")


def test_an_organisations_website_and_verified_mark_show_at_once(make_letter, organiser):
    letter = make_letter(accepts_organisations=True)
    cosignature = approved_cosigner(
        letter,
        "Friends of the Earth",
        website="https://old.foe.example/",
        email_domains="foe.example",
    )
    organisation, admin = cosignature.organisation, cosignature.requested_by
    before = cached(letter_url(letter))
    # Not verified yet: neither the mark nor the website (it is shown on the proven domain only).
    assert "https://old.foe.example/" not in before
    assert "verified: controls foe.example" not in before
    org_services.mark_verified(organisation_id=organisation.pk, by=organiser)
    after = cached(letter_url(letter))
    assert "verified: controls foe.example" in after and "https://old.foe.example/" in after
    org_services.update_organisation(
        organisation=organisation, by=admin, website="https://new.foe.example/"
    )
    assert "https://new.foe.example/" in read(letter_url(letter))
    assert listed_names(read(letter_url(letter))) == ["Friends of the Earth"]


# --- Privacy --------------------------------------------------------------------------------------


def test_no_private_or_unticked_detail_reaches_a_cached_page_or_the_cache(make_letter, deliver):
    from django.core.cache import cache

    letter = make_letter(employer_domains="example.com", accepts_organisations=True)
    private = {
        "name": "zqprivatename",
        "affiliation": "zqprivateaffiliation",
        "job_title": "zqprivatejob",
        "team": "zqprivateteam",
        "city": "zqprivatecity",
    }
    services.sign(
        letter=letter,
        email="zqprivatemail@example.com",
        visibility="private",
        show_job_title=True,
        show_city=True,
        **private,
    )
    anonymous = {"name": "zqanonname", "team": "zqanonteam", "affiliation": "zqanonaffiliation"}
    services.sign(
        letter=letter, email="zqanonmail@example.com", visibility="anonymous", **anonymous
    )
    public = {"name": "Public Signer", "team": "zqpublicteam", "city": "zqpubliccity"}
    services.sign(letter=letter, email="zqpublicmail@example.com", visibility="public", **public)
    from petition.models import Signature

    for signature in Signature.objects.filter(letter=letter):
        services.verify(signature_id=signature.pk)

    hidden = [
        *private.values(),
        "zqprivatemail",
        *anonymous.values(),
        "zqanonmail",
        "zqpublicteam",
        "zqpubliccity",
        "zqpublicmail",
    ]
    pages = []
    for url in (letter_url(letter), tally_url(letter)):
        pages += [cached(url), with_session_cookie().get(url).content.decode()]
    stored = [b"".join(parts) for _, parts in pagecache._local.entries.values()]
    stored += [b"".join(cache.get(pagecache._shared_key(key))) for key in pagecache._local.entries]
    assert len(stored) == 4
    everything = "\n".join(pages) + b"\n".join(stored).decode()
    assert "Public Signer" in everything and "Anonymous" in everything
    assert "<strong>3</strong> verified signatures" in everything
    for secret in hidden:
        assert secret not in everything, f"{secret} reached a cached page"
