""" "Check my signature" in a real browser: WebCrypto verifies a real receipt and refuses a forged
one, and the server's check agrees."""

import json

import pytest
from playwright.sync_api import expect

from lib import addresses
from petition import services, tlog
from petition.models import Signature
from tests.conftest import tamper

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("awkward_log_key"),
]


def real_receipt(letter, email="ada@example.com") -> dict:
    services.sign(letter=letter, name="Ada", email=email, visibility="private")
    signature = Signature.objects.get(letter=letter, email_hash=addresses.email_hash(email))
    _, receipt = services.verify(signature_id=signature.pk)
    tlog.checkpoint(letter_id=letter.pk)
    return receipt


def open_check(page, live_server, letter, receipt_text: str):
    page.goto(f"{live_server.url}/letters/{letter.slug}/check/")
    page.get_by_label("Your receipt").fill(receipt_text)


def test_a_real_receipt_verifies_in_the_browser_and_on_the_server(page, live_server, letter):
    real_receipt(letter, "someone@example.net")  # an entry before ours
    receipt = real_receipt(letter)
    assert receipt["index"] == 1
    open_check(page, live_server, letter, json.dumps(receipt))
    page.get_by_role("button", name="Check in my browser").click()
    expect(page.locator("#browser-result")).to_contain_text(
        "Verified in your browser: entry 1 is in the signed checkpoint of 2 entries, and it is "
        "still counted"
    )
    page.get_by_role("button", name="Check on the server").click()
    expect(page.locator("#server-result")).to_contain_text("entry 1 of the log")


def test_the_browser_sees_a_withdrawal(page, live_server, letter):
    receipt = real_receipt(letter)
    services.withdraw(signature_id=Signature.objects.get().pk)
    tlog.checkpoint(letter_id=letter.pk)
    open_check(page, live_server, letter, json.dumps(receipt))
    page.get_by_role("button", name="Check in my browser").click()
    expect(page.locator("#browser-result")).to_contain_text("withdrawn")


def test_a_forged_receipt_fails_in_the_browser_and_on_the_server(page, live_server, letter):
    receipt = real_receipt(letter)
    forged = {**receipt, "salt": tamper(receipt["salt"])}
    open_check(page, live_server, letter, json.dumps(forged))
    page.get_by_role("button", name="Check in my browser").click()
    expect(page.locator("#browser-result")).to_contain_text("Browser check failed")
    page.get_by_role("button", name="Check on the server").click()
    expect(page.locator("#server-result")).to_contain_text("does not hold together")


def test_a_receipt_pointing_at_another_entry_fails(page, live_server, letter):
    real_receipt(letter, "first@example.net")
    receipt = real_receipt(letter)
    open_check(page, live_server, letter, json.dumps({**receipt, "index": 0}))
    page.get_by_role("button", name="Check in my browser").click()
    expect(page.locator("#browser-result")).to_contain_text("is not your signature")


def test_a_receipt_after_level_changes_verifies_its_whole_history(page, live_server, letter):
    services.sign(letter=letter, name="Ada", email="ada@example.com", visibility="public")
    signature = Signature.objects.get(letter=letter)
    services.verify(signature_id=signature.pk)
    real_receipt(letter, "someone@example.net")
    services.change_level(signature_id=signature.pk, visibility="anonymous")
    services.change_level(signature_id=signature.pk, visibility="private")
    signature.refresh_from_db()
    receipt = tlog.receipt_for_signature(
        letter, public_id=signature.public_id, salts=signature.log_salts
    )
    tlog.checkpoint(letter_id=letter.pk)
    assert [item["index"] for item in receipt["earlier"]] == [0, 3] and receipt["index"] == 5
    open_check(page, live_server, letter, json.dumps(receipt))
    page.get_by_role("button", name="Check in my browser").click()
    expect(page.locator("#browser-result")).to_contain_text(
        "entry 5 is in the signed checkpoint of 6 entries, and it is still counted. Before your "
        "change of level it was entry 0, 3, withdrawn since."
    )
    # An earlier entry that is someone else's fails, in the browser as on the server.
    other = {**receipt, "earlier": [{**receipt["earlier"][0], "index": 1}]}
    open_check(page, live_server, letter, json.dumps(other))
    page.get_by_role("button", name="Check in my browser").click()
    expect(page.locator("#browser-result")).to_contain_text("Browser check failed")
