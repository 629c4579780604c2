"""The versions page in a real browser: the word diff's marks are shown and read without
colour, and the line view is one link away, without JavaScript."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from petition import services
from tests.browser.test_accessibility import violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_word_diff_marks_are_visible_and_the_line_view_is_a_link_away(
    page, live_server, make_letter, organiser
):
    letter = make_letter(body="We ask:\n\n- fair pay for all\n- a safe workplace\n")
    services.edit_letter(
        letter_id=letter.pk,
        actor=organiser,
        title=letter.title,
        addressee=letter.addressee,
        body="We ask:\n\n- fair wages for all\n- a safe workplace\n",
    )
    page.goto(live_server.url + reverse("letter_versions", args=[letter.slug]))
    added = page.locator(".worddiff li ins")
    removed = page.locator(".worddiff li del")
    expect(added).to_be_visible()
    expect(removed).to_be_visible()
    expect(added).to_contain_text("wages")
    expect(removed).to_contain_text("pay")
    # Readable without colour: underline and strikethrough, and words for screen readers.
    assert "underline" in added.evaluate("e => getComputedStyle(e).textDecorationLine")
    assert "line-through" in removed.evaluate("e => getComputedStyle(e).textDecorationLine")
    expect(added.locator(".visually-hidden")).to_have_text("added: ")
    expect(page.locator(".diff-legend")).to_be_visible()
    assert violations(page) == []

    page.get_by_role("link", name="Show changed lines instead").click()
    expect(page.locator("pre.diff")).to_contain_text("+ - fair wages for all")
    expect(page.locator(".worddiff")).to_have_count(0)
    assert violations(page) == []
    page.get_by_role("link", name="Show changed words in the text instead").click()
    expect(page.locator(".worddiff li ins")).to_contain_text("wages")
