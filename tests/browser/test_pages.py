"""What a signer and a reader do in a real browser: sign, watch the tally move, use a phone."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from lib import addresses
from petition import pagecache, services
from petition.models import Signature
from tests.conftest import link_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(context, live_server, user) -> None:
    """Give the browser a session for `user`, without going through the log-in form."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def pending_signature(letter, email: str, **fields) -> Signature:
    services.sign(letter=letter, name=email.split("@")[0].title(), email=email,
                  visibility=fields.pop("visibility", "public"), **fields)  # fmt: skip
    return Signature.objects.get(letter=letter, email_hash=addresses.email_hash(email))


def test_a_signer_signs_confirms_by_button_and_sees_the_count(page, live_server, letter, deliver):
    page.goto(live_server.url + reverse("letter", args=[letter.slug]))
    page.get_by_role("textbox", name="Your name").fill("Grace Hopper")
    page.get_by_role("textbox", name="Email").fill("grace@example.com")
    page.get_by_role("radio", name="Public", exact=True).check()
    page.get_by_role("button", name="Sign the letter").click()
    expect(page).to_have_url(live_server.url + reverse("check_inbox", args=[letter.slug]))

    confirm = link_in(deliver()[-1], "/confirm/")
    page.goto(live_server.url + confirm)
    assert Signature.objects.get().status == "pending"  # opening the link is not confirming
    page.get_by_role("button", name="Confirm my signature").click()
    expect(page).to_have_url(live_server.url + reverse("thanks", args=[letter.slug]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for signing")

    page.goto(live_server.url + reverse("letter", args=[letter.slug]))
    expect(page.locator(".count strong")).to_have_text("1")
    expect(page.locator("ol.signers")).to_contain_text("Grace Hopper")
    page.get_by_role("link", name="See the tally").click()
    expect(page.locator('[data-count="verified"]')).to_have_text("1")
    expect(page.locator('[data-employer="example.com"]')).to_have_text("1")


def test_two_readers_sign_from_the_same_cached_page(browser, live_server, letter):
    url = live_server.url + reverse("letter", args=[letter.slug])
    for n, name in enumerate(["Grace Hopper", "Katherine Johnson"]):
        context = browser.new_context()  # a reader of their own: no cookie yet
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(url)
        if n == 1:  # the second reader got the page the first one's visit left in the cache
            assert any(key.startswith(f"letter:{letter.pk}:") for key in pagecache._local.entries)
        page.get_by_role("textbox", name="Your name").fill(name)
        page.get_by_role("textbox", name="Email").fill(f"reader{n}@example.com")
        page.get_by_role("radio", name="Anonymous", exact=True).check()
        page.get_by_role("button", name="Sign the letter").click()
        expect(page).to_have_url(live_server.url + reverse("check_inbox", args=[letter.slug]))
        context.close()
    assert Signature.objects.filter(letter=letter, status="pending").count() == 2


def test_the_tally_moves_on_its_own_when_a_signature_is_verified_elsewhere(
    page, live_server, make_letter
):
    letter = make_letter(goal=4, employer_domains="example.com")
    first = pending_signature(letter, "ada@example.com")
    second = pending_signature(letter, "bo@elsewhere.org", visibility="anonymous")
    services.verify(signature_id=first.pk)

    page.goto(live_server.url + reverse("tally", args=[letter.slug]))
    count = page.locator('[data-count="verified"]')
    expect(count).to_have_text("1")
    page.evaluate("window.notReloaded = true")

    services.verify(signature_id=second.pk)  # elsewhere: not through this page

    expect(count).to_have_text("2", timeout=10_000)
    expect(page.locator('[data-count="anonymous"]')).to_have_text("1")
    expect(page.locator('[data-count="percent"]')).to_have_text("50")
    assert page.locator("progress").evaluate("p => p.value") == 2
    assert page.evaluate("window.notReloaded") is True


def test_the_tally_is_complete_without_javascript(browser, live_server, letter):
    services.verify(signature_id=pending_signature(letter, "ada@example.com").pk)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + reverse("tally", args=[letter.slug]))
    expect(page.locator('[data-count="verified"]')).to_have_text("1")
    expect(page.locator("svg.chart")).to_be_visible()
    expect(page.locator("#latest-h + ol")).to_contain_text("Ada")
    context.close()


def test_letter_tally_and_widget_fit_a_phone_without_sideways_scroll(
    phone, live_server, make_letter, organiser
):
    letter = make_letter(
        title="An open letter with a long title about surveillance contracts and police forces",
        addressee="The Board of Directors of Example Corporation International",
        employer_domains="example.com a-rather-long-subsidiary-domain-name.example.org",
        goal=1000,
    )
    for i, level in enumerate(["public", "anonymous", "private", "public"]):
        signature = pending_signature(
            letter, f"signer{i}@example.com", visibility=level,
            job_title="Principal Staff Software Engineer, Infrastructure", show_job_title=True,
        )  # fmt: skip
        services.verify(signature_id=signature.pk)
    login(phone, live_server, organiser)  # so the tally shows the embed snippet too
    page = phone.new_page()

    for name in ("letter", "tally", "widget"):
        page.goto(live_server.url + reverse(name, args=[letter.slug]))
        if name == "tally":
            page.get_by_text("Embed the count on another site").click()
            expect(page.locator("#embed-code")).to_be_visible()
        assert no_horizontal_scroll(page), name
