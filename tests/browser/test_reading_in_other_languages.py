"""A reader in another language, in a real browser: Arabic right to left from the URL prefix,
Spanish from the browser's own language preference, signing in the language read."""

import pytest
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from petition import translations
from petition.models import Signature

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def translate(letter, language: str, title: str, body: str):
    return translations.add_translation(
        letter_id=letter.pk,
        actor=letter.created_by,
        language=language,
        title=title,
        addressee="—",
        body=body,
    )


def test_the_letter_in_arabic_is_right_to_left(browser, live_server, letter):
    translate(letter, "ar", "الرسالة رقم واحد", "نطلب منكم *التوقف*.")
    with translation.override("ar"):
        url = live_server.url + reverse("letter", args=[letter.slug])
    context = browser.new_context()
    page = context.new_page()

    page.goto(url)

    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("article.letter h1")).to_have_text("الرسالة رقم واحد")
    # Logical CSS: the text runs from the right edge, with nothing mirrored by hand.
    assert page.evaluate("getComputedStyle(document.querySelector('main')).direction") == "rtl"
    context.close()


def test_a_browser_preferring_spanish_reads_and_signs_the_spanish_text(
    browser, live_server, letter
):
    spanish = translate(letter, "es", "Carta número uno", "Les pedimos que *paren*.")
    context = browser.new_context(
        locale="es-ES", extra_http_headers={"Accept-Language": "es-ES,es;q=0.9"}
    )
    page = context.new_page()

    page.goto(live_server.url + letter.get_absolute_url())

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("article.letter h1")).to_have_text("Carta número uno")
    expect(page.locator(".translation-note")).to_contain_text("Original: English")
    page.locator("#id_name").fill("Sol")
    page.locator("#id_email").fill("sol@example.com")
    page.locator("input[name=visibility][value=public]").check()  # no level is chosen for them
    page.locator("form.sign-form button[type=submit]").click()
    page.wait_for_url("**/check-your-inbox/")
    signature = Signature.objects.get(letter=letter)
    assert signature.language == "es" and signature.text_hash == spanish.text_hash
    context.close()
