"""The first hour in a real browser: a newcomer reaches the organiser workspace by following what
`make run` prints; a signer creates an account from the sign form and lands back on it, signed
in; an organisation's representative creates an organisation from a co-sign page and is sent
back to it."""

import io
import json
import re
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.urls import reverse
from PIL import Image
from playwright.sync_api import expect

from accounts import logos
from accounts import services as account_services
from accounts.models import Organisation
from petition import services
from petition.models import Signature
from tests.conftest import link_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-42"


def confirm_link(messages) -> str:
    for message in reversed(messages):
        found = re.search(r"https?://\S+/accounts/confirm-email/\S+", message.body)
        if found:
            return urlsplit(found.group(0)).path
    raise AssertionError("no confirmation mail")


def create_account(page, email: str) -> None:
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Create an account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")


def test_a_newcomer_follows_what_make_run_prints_into_the_workspace(page, live_server, settings):
    settings.SITE_URL = live_server.url
    out = io.StringIO()
    call_command("demo", "--password", stdout=out)
    printed = out.getvalue()
    url = re.search(r"1\. open\s+(\S+)", printed).group(1)
    email = re.search(r"2\. email\s+(\S+)", printed).group(1)
    password = re.search(r"3\. password\s+(\S+)", printed).group(1)

    page.goto(url)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(live_server.url + reverse("organiser:dashboard"))
    expect(page.get_by_role("main")).to_contain_text("Stop selling FaceFinder to police")


def test_a_new_signer_creates_an_account_from_the_sign_form_and_lands_back_on_it(
    page, live_server, letter, deliver
):
    page.goto(live_server.url + letter.get_absolute_url())
    page.locator(".sign").get_by_role("link", name="create an account").click()
    create_account(page, "newcomer@example.net")

    page.goto(live_server.url + confirm_link(deliver()))
    page.get_by_role("button", name="Confirm my address").click()

    expect(page).to_have_url(re.compile(re.escape(live_server.url + letter.get_absolute_url())))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("textbox", name="Email")).to_have_value("newcomer@example.net")
    expect(page.get_by_role("button", name="Sign now")).to_be_visible()


def test_a_representative_comes_back_to_the_co_sign_page_with_the_new_organisation_chosen(
    page, live_server, make_letter, deliver
):
    letter = make_letter(accepts_organisations=True)
    cosign = reverse("cosign", args=[letter.slug])
    page.goto(live_server.url + letter.get_absolute_url())
    page.get_by_role("link", name="Co-sign this letter for your organisation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_role("link", name="Create an account").last.click()
    create_account(page, "rep@allied.example")

    page.goto(live_server.url + confirm_link(deliver()))
    page.get_by_role("button", name="Confirm my address").click()
    expect(page).to_have_url(live_server.url + cosign)

    page.get_by_role("link", name="Create an organisation").click()
    page.locator("#id_name").fill("Allied Campaign")
    page.get_by_role("button", name="Create the organisation").click()

    organisation = Organisation.objects.get(name="Allied Campaign")
    expect(page).to_have_url(live_server.url + cosign + f"?org={organisation.slug}")
    expect(page.locator("#id_organisation")).to_have_value(organisation.slug)
    page.get_by_role("button", name="Co-sign the letter").click()
    expect(page.get_by_role("main")).to_contain_text("Allied Campaign")


def test_every_account_page_says_sign_in_and_create_an_account(client):
    mixed = re.compile(r"Log ?[Ii]n|Log ?[Oo]ut|Sign ?[Uu]p|Signup|Sign In|Sign Out")
    for name in ("account_login", "account_signup", "account_reset_password", "home"):
        page = client.get(reverse(name)).content.decode()
        assert not mixed.search(page), (name, mixed.search(page).group(0))
    assert "Sign in" in client.get(reverse("account_login")).content.decode()


def test_a_signer_must_choose_a_level_and_reads_what_each_one_means(page, live_server, letter):
    page.goto(live_server.url + letter.get_absolute_url())
    levels = page.get_by_role("group", name="How visible?")
    expect(levels).to_contain_text("only the organisers see your name and email")
    expect(levels.get_by_role("radio", checked=True)).to_have_count(0)
    page.get_by_role("textbox", name="Your name").fill("Grace Hopper")
    page.get_by_role("textbox", name="Email").fill("grace@example.com")
    page.get_by_role("button", name="Sign the letter").click()

    expect(levels).to_contain_text("Choose how visible your signature is.")
    expect(page.get_by_role("textbox", name="Email")).to_have_value("grace@example.com")
    levels.get_by_role("radio", name="Private", exact=True).check()
    page.get_by_role("button", name="Sign the letter").click()
    expect(page).to_have_url(live_server.url + reverse("check_inbox", args=[letter.slug]))


def test_the_thanks_page_offers_the_receipt_as_a_download_with_its_json_behind_a_disclosure(
    page, live_server, letter, deliver
):
    services.sign(letter=letter, name="Ada", email="ada@example.com", visibility="private")
    page.goto(live_server.url + link_in(deliver()[-1], "/confirm/"))
    page.get_by_role("button", name="Confirm my signature").click()

    receipt = page.get_by_role("region", name="Save your receipt")
    expect(receipt).to_contain_text("proves that your signature is counted")
    expect(page.locator("#receipt")).to_be_hidden()
    with page.expect_download() as download:
        receipt.get_by_role("link", name="Save your receipt").click()
    assert download.value.suggested_filename == f"receipt-{letter.slug}.json"
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["index"] == 0 and saved["letter"] == letter.slug
    assert Signature.objects.get().status == "verified"

    page.get_by_text("Show the receipt's text").click()
    expect(page.locator("#receipt")).to_be_visible()
    receipt.get_by_role("link", name="Check my signature").click()
    expect(page).to_have_url(live_server.url + reverse("log_check", args=[letter.slug]))


def test_a_co_signers_logo_shows_on_the_letter(page, live_server, make_letter, organiser, settings,
                                               tmp_path):  # fmt: skip
    settings.MEDIA_ROOT = tmp_path
    upload = BytesIO()
    Image.new("RGB", (600, 300), (20, 90, 160)).save(upload, format="PNG")
    organisation = account_services.create_organisation(
        user=organiser, name="Allied Campaign", logo=logos.normalise(upload)
    )
    letter = make_letter(accepts_organisations=True)
    cosignature = services.cosign(letter=letter, organisation_id=organisation.pk, user=organiser)
    services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)

    page.goto(live_server.url + letter.get_absolute_url())
    logo = page.locator(".cosigners img.logo")
    expect(logo).to_be_visible()
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 256
