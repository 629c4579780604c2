"""Counts are shown with the plural form their number needs, in one place as in another."""

import re
from datetime import date

import pytest
from django.urls import reverse

from lib import charts
from tests.conftest import verified_signature

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


def test_one_private_signer_is_one_person(client, make_letter):
    letter = make_letter(employer_domains="example.com", goal=1)
    verified_signature(letter, "ada@example.com", visibility="private")
    page = text(client.get(letter.get_absolute_url()))
    assert "1 person signed privately and is counted above." in page
    assert "1 verified signature of a goal of 1" in page
    assert "1 verified employee" in page and "1 verified employees" not in page
    assert (
        'content="1 person has signed this open letter'
        in client.get(letter.get_absolute_url()).content.decode()
    )


def test_two_private_signers_are_people(client, letter):
    verified_signature(letter, "ada@example.com", visibility="private")
    verified_signature(letter, "bo@example.com", visibility="private")
    page = text(client.get(letter.get_absolute_url()))
    assert "2 people signed privately and are counted above." in page
    assert "2 verified signatures" in page


def test_the_overview_says_the_last_day_not_the_last_1_days(client, organiser, letter):
    verified_signature(letter, "ada@example.com")
    client.force_login(organiser)
    page = text(client.get(reverse("organiser:letter", args=[letter.slug])))
    assert "last 1 days" not in page
    assert "Net change on the last day with signatures" in page
    assert "1 verified signature" in page and "1 verified signatures" not in page


def test_the_tally_and_widget_say_signature_for_one(client, letter):
    verified_signature(letter, "ada@example.com")
    tally = client.get(reverse("tally", args=[letter.slug])).content.decode()
    assert "1 verified signature on this open letter" in tally
    widget = text(client.get(reverse("widget", args=[letter.slug])))
    assert "1 verified signature" in widget and "1 verified signatures" not in widget


def test_the_chart_describes_one_signature_in_the_singular():
    svg = charts.signatures_svg([(date(2025, 1, 1), 1)], end=date(2025, 1, 2))
    assert "1 verified signature on" in svg and "1 verified signatures" not in svg
