"""A delivery in a real browser: an organiser prepares, downloads and publishes it; a reader
checks its count from the public page alone; a count tampered with fails the check."""

import io

import pytest
from django.test import Client
from playwright.sync_api import expect
from pypdf import PdfReader

from petition import tlog
from petition.models import Delivery, Level
from tests.conftest import verified_signature

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("awkward_log_key"),
]

PUBLIC = ["Philippa Wetherington-Quayle", "Oluwaseun Brightwater"]
ANONYMOUS = "Cornelius Neverseen"


@pytest.fixture
def signed_letter(make_letter):
    letter = make_letter(employer_domains="example.com", body="Please stop selling FaceFinder.")
    for n, name in enumerate(PUBLIC):
        verified_signature(letter, f"p{n}@example.com", name=name)
    verified_signature(letter, "anon@example.org", name=ANONYMOUS, visibility=Level.ANONYMOUS)
    tlog.checkpoint(letter_id=letter.pk)
    return letter


def log_in(context, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def publish_delivery(page, live_server, letter) -> Delivery:
    page.goto(f"{live_server.url}/manage/{letter.slug}/")
    page.get_by_role("link", name="Prepare delivery").click()
    page.get_by_label("Cover note").fill("Delivered at the AGM.")
    page.get_by_role("button", name="Prepare delivery").click()
    expect(page.get_by_role("link", name="PDF, A4")).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF, A4").click()
    pdf = PdfReader(io.BytesIO(open(download.value.path(), "rb").read()))  # noqa: SIM115
    text = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())
    assert all(name in text for name in PUBLIC) and ANONYMOUS not in text
    assert "Please stop selling FaceFinder." in text
    page.get_by_label("Handed over to").fill("The Board of Example Corp")
    page.get_by_role("button", name="Mark delivered and publish").click()
    expect(page.get_by_role("heading", name="The count delivered")).to_be_visible()
    return Delivery.objects.get(letter=letter)


def check(page):
    page.get_by_role("button", name="Check this count").click()
    result = page.locator("#check-result")
    expect(result).not_to_have_text("Checking…", timeout=30_000)
    return result


def test_an_organiser_publishes_a_delivery_and_a_reader_verifies_its_count(
    page, live_server, signed_letter, organiser
):
    log_in(page.context, live_server, organiser)
    delivery = publish_delivery(page, live_server, signed_letter)
    assert delivery.checkpoint_size == 3 and delivery.verified == 3
    # The log moves on after the delivery; the delivered checkpoint stays provable.
    verified_signature(signed_letter, "later@example.com", name="Later Signer")
    tlog.checkpoint(letter_id=signed_letter.pk)
    page.context.clear_cookies()  # a reader, not the organiser
    page.reload()
    expect(check(page)).to_contain_text("Verified in your browser")
    expect(page.locator("#check-result")).to_contain_text("(3 → 4)")


def test_a_count_edited_in_the_page_fails_the_check(page, live_server, signed_letter, organiser):
    log_in(page.context, live_server, organiser)
    publish_delivery(page, live_server, signed_letter)
    page.evaluate("document.querySelector('[data-count=verified]').textContent = '4'")
    expect(check(page)).to_contain_text("Check failed: the page shows 4 verified")


def test_a_count_edited_in_the_database_fails_the_check(
    page, live_server, signed_letter, organiser
):
    log_in(page.context, live_server, organiser)
    delivery = publish_delivery(page, live_server, signed_letter)
    Delivery.objects.filter(pk=delivery.pk).update(public=3, verified=4)
    page.reload()
    expect(page.locator("[data-count=public]")).to_have_text("3")
    expect(check(page)).to_contain_text("Check failed")
