"""A reader in another language, in a real browser: Arabic right to left from the URL prefix,
Spanish from the browser's own language preference, signing in the language read, and the mails
that follow written in it too.

The interface strings asserted are ones the Spanish and Arabic catalogues already translate; the
rest is structure (lang, dir, the mails' Content-Language) and the letter's own translated text,
so these tests hold while the translators complete the catalogues."""

import pytest
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from petition import translations
from petition.models import Signature
from tests.conftest import link_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Already in the catalogues: the check-your-inbox page's heading, the confirm page's heading and
# button.
INTERFACE = {
    "es": ("Revisa tu bandeja de entrada", "Confirma tu firma", "Confirmar mi firma"),
    "ar": ("تحقق من بريدك الوارد", "أكّد توقيعك", "تأكيد توقيعي"),
}


def translate(letter, language: str, title: str, body: str):
    return translations.add_translation(
        letter_id=letter.pk,
        actor=letter.created_by,
        language=language,
        title=title,
        addressee="—",
        body=body,
    )


def mail_to(deliver, address: str, number: int):
    """The `number`th mail (1: the verification, 2: the confirmation) sent to `address`."""
    mails = [m for m in deliver() if m.to == [address]]
    assert len(mails) == number, [m.subject for m in mails]
    return mails[-1]


def sign_confirm_and_read_the_mails(page, live_server, deliver, *, language, email, title):
    """Sign on the open letter page, check the inbox page, follow the mailed link, confirm; each
    page in `language`, and both mails written in it and naming the letter as translated."""
    heading, confirm_heading, confirm_button = INTERFACE[language]
    page.locator("#id_name").fill("Sol")
    page.locator("#id_email").fill(email)
    page.locator("input[name=visibility][value=public]").check()  # no level is chosen for them
    page.locator("form.sign-form button[type=submit]").click()
    page.wait_for_url("**/check-your-inbox/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)

    verification = mail_to(deliver, email, 1)
    assert verification.extra_headers["Content-Language"] == language
    assert title in verification.subject and title in verification.body

    page.goto(live_server.url + link_in(verification, "/confirm/"))
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", level=1)).to_have_text(confirm_heading)
    page.get_by_role("button", name=confirm_button).click()
    page.wait_for_url("**/thanks/**")
    expect(page.locator("html")).to_have_attribute("lang", language)

    confirmation = mail_to(deliver, email, 2)
    assert confirmation.extra_headers["Content-Language"] == language
    assert title in confirmation.subject


def test_the_letter_in_arabic_is_right_to_left(browser, live_server, letter, deliver):
    arabic = translate(letter, "ar", "الرسالة رقم واحد", "نطلب منكم *التوقف*.")
    with translation.override("ar"):
        url = live_server.url + reverse("letter", args=[letter.slug])
    # An Arabic reader's browser: the mailed links (which carry no language) open in Arabic too.
    context = browser.new_context(locale="ar", extra_http_headers={"Accept-Language": "ar"})
    page = context.new_page()

    page.goto(url)

    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("article.letter h1")).to_have_text("الرسالة رقم واحد")
    expect(page.locator(".translation-note")).to_contain_text("الأصل: English")
    # Logical CSS: the text runs from the right edge, with nothing mirrored by hand.
    assert page.evaluate("getComputedStyle(document.querySelector('main')).direction") == "rtl"

    sign_confirm_and_read_the_mails(
        page, live_server, deliver, language="ar", email="sol@example.com", title=arabic.title
    )
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    signature = Signature.objects.get(letter=letter)
    assert signature.status == "verified" and signature.language == "ar"
    assert signature.text_hash == arabic.text_hash
    context.close()


def test_a_browser_preferring_spanish_reads_and_signs_the_spanish_text(
    browser, live_server, letter, deliver
):
    spanish = translate(letter, "es", "Carta número uno", "Les pedimos que *paren*.")
    context = browser.new_context(
        locale="es-ES", extra_http_headers={"Accept-Language": "es-ES,es;q=0.9"}
    )
    page = context.new_page()

    page.goto(live_server.url + letter.get_absolute_url())

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("article.letter h1")).to_have_text("Carta número uno")
    expect(page.locator(".translation-note")).to_contain_text("Original: English")
    sign_confirm_and_read_the_mails(
        page, live_server, deliver, language="es", email="sol@example.com", title=spanish.title
    )
    signature = Signature.objects.get(letter=letter)
    assert signature.language == "es" and signature.text_hash == spanish.text_hash
    assert signature.status == "verified"
    context.close()
