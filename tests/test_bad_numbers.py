"""Numbers, dates and JSON out of every range a visitor can type: a 4xx with a message, never a
500. Each case here was a server error: a database integer overflow, a date with no day after
it, a JSON document nested past the decoder's recursion limit."""

import json
import os

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from petition import services, tlog
from tests.conftest import verified_signature

pytestmark = pytest.mark.django_db

HUGE = "9" * 30


@pytest.fixture
def quiet_client():
    """A client that answers 500 instead of raising, as a visitor would see it."""
    return Client(raise_request_exception=False)


@pytest.fixture
def receipt(letter):
    signature = verified_signature(letter, "ada@example.net")
    tlog.checkpoint(letter_id=letter.pk)
    signature.refresh_from_db()
    return tlog.receipt_for_signature(
        letter, public_id=signature.public_id, salts=signature.log_salts
    )


def check(client, letter, text: str):
    return client.post(reverse("log_check", args=[letter.slug]), {"receipt": text})


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        "1" * 5000,
    ],
    ids=["nested-list", "nested-object", "long-number"],
)
def test_a_receipt_nested_too_deep_or_too_long_a_number_is_a_400(quiet_client, letter, text):
    response = check(quiet_client, letter, text)
    assert response.status_code == 400
    assert "not a receipt" in response.content.decode()


@pytest.mark.parametrize("index", [int(HUGE), 2**63, -1, 1e400])
def test_a_receipt_with_an_index_out_of_range_is_a_400(quiet_client, letter, receipt, index):
    text = json.dumps({**receipt, "index": index})
    response = check(quiet_client, letter, text)
    assert response.status_code == 400, response.content[:300]


def test_a_receipt_with_nan_is_a_400(quiet_client, letter, receipt):
    text = json.dumps(receipt).replace(f'"index": {receipt["index"]}', '"index": NaN')
    assert "NaN" in text
    assert check(quiet_client, letter, text).status_code == 400


@pytest.fixture
def editor(organiser):
    client = Client(raise_request_exception=False)
    client.force_login(organiser)
    return client


def test_the_organisers_signature_list_takes_any_page(editor, letter):
    verified_signature(letter, "ada@example.net")
    url = reverse("organiser:signatures", args=[letter.slug])
    for page in (HUGE, "-3", "abc", "1e9", "٣"):
        response = editor.get(url, {"page": page})
        assert response.status_code in (200, 400, 404), (page, response.status_code)


@pytest.mark.parametrize("route", ["letter", "tally"])
def test_public_pages_take_any_page(quiet_client, letter, route):
    for page in (HUGE, "-3", "abc", "1e9", "٣", "2" * 5000):
        response = quiet_client.get(reverse(route, args=[letter.slug]), {"page": page})
        assert response.status_code in (200, 400, 404), (page, response.status_code)


def test_the_api_takes_any_page(quiet_client, letter):
    for page in (HUGE, "-3", "abc", "1e9", "٣", "2" * 5000):
        response = quiet_client.get(f"/api/letters/{letter.slug}/signatures", {"page": page})
        assert response.status_code in (400, 404), (page, response.status_code)
        assert "error" in response.json()


@pytest.mark.parametrize(
    "filters",
    [
        {"signed_to": "9999-12-31"},
        {"signed_from": "9999-12-31"},
        {"signed_from": "0001-01-01"},
        {"signed_to": "0001-01-01"},
        {"version": HUGE},
        {"version": str(2**31)},
    ],
)
def test_export_filters_out_of_range_get_a_message(editor, letter, filters):
    verified_signature(letter, "ada@example.net")
    response = editor.post(
        reverse("organiser:export_download", args=[letter.slug]),
        {"format": "csv", "status": "all", **filters},
    )
    assert response.status_code == 400, response.status_code
    assert b"Ensure" in response.content or b"between" in response.content


def test_export_command_refuses_a_date_with_no_day_after(letter):
    for option in ("--until", "--since"):
        with pytest.raises(CommandError, match="between"):
            call_command("export_signatures", letter.slug, option, "9999-12-31", "-o", os.devnull)


def test_the_manage_page_still_works_for_a_level_change(client, letter):
    # Guards the shared receipt parser against refusing what the site itself issues.
    signature = verified_signature(letter, "bo@example.net")
    services.change_level(signature_id=signature.pk, visibility="private")
    signature.refresh_from_db()
    tlog.checkpoint(letter_id=letter.pk)
    receipt = tlog.receipt_for_signature(
        letter, public_id=signature.public_id, salts=signature.log_salts
    )
    assert check(client, letter, json.dumps(receipt)).status_code == 200


@pytest.mark.parametrize(
    "route,args",
    [
        ("organiser:update", [HUGE]),
        ("organiser:set_role", [HUGE]),
        ("organiser:remove_organiser", [HUGE]),
    ],
)
def test_huge_ids_in_organiser_paths_are_a_404(editor, letter, route, args):
    url = reverse(route, args=[letter.slug, *args])
    assert editor.get(url).status_code in (404, 405)
    assert editor.post(url, {"role": "viewer"}).status_code in (302, 400, 404)
