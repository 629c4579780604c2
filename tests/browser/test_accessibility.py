"""axe-core on every page a reader, a signer, an organisation's admin or an organiser opens: no
serious or critical violation. Every form can be filled and sent with the keyboard alone, and
keyboard focus is visible.

The page list is checked against the URLconf: a new HTML page that this file does not visit
fails `test_every_page_is_checked` until it is added here (or listed in NOT_PAGES with why)."""

from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from accounts import emails as account_emails
from accounts import services as account_services
from petition import deliveries, delivery_documents, emails, services, tokens, translations
from petition.models import Signature
from tests.conftest import verified_signature
from tests.test_access import all_routes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
BAD = {"serious", "critical"}

# Routes that are not pages a person reads: JSON, files, POST-only actions, the admin, and the
# allauth features this site does not turn on (codes, re-authentication, inactive accounts).
NOT_PAGES = {
    "api_letters", "api_letter", "api_counts", "api_signatures", "api_cosigners", "api_openapi",
    "log_key", "log_checkpoint", "log_entries", "log_inclusion", "log_consistency", "me_data",
    "sign", "resend", "cosign_withdraw", "cosigner_action", "me_signature_level",
    "me_signature_withdraw", "organisation_member", "organisation_invite_send",
    "organiser:publish", "organiser:close", "organiser:reopen", "organiser:set_role",
    "organiser:remove_organiser", "organiser:hide", "organiser:restore",
    "organiser:export_download", "organiser:invite", "account_confirm_login_code",
    "account_reauthenticate", "account_inactive", "account_set_password", "organisation_logo",
    "set_language", "organisation_invite_revoke", "organiser:revoke_invite",
    "organiser:pause_update", "organiser:resume_update", "delivery_json", "delivery_file",
    "organiser:delivery_file", "organiser:delivery_delivered",
}  # fmt: skip


def path(url: str) -> str:
    return url.replace(settings.SITE_URL, "")


@pytest.fixture
def world(make_letter, organiser):
    EmailAddress.objects.create(user=organiser, email=organiser.email, verified=True, primary=True)
    letter = make_letter(
        employer_domains="example.com", goal=10, accepts_organisations=True, default_level=""
    )
    # A Spanish translation, a signer of it and an update with its Spanish text: the versions
    # page's counts per text and the update pages' translations are walked too.
    translations.add_translation(
        letter_id=letter.pk, actor=organiser, language="es", title="Carta", addressee="La junta",
        body="Les pedimos que *paren*.",
    )  # fmt: skip
    verified_signature(letter, "ada@example.com", job_title="Engineer", show_job_title=True)
    verified_signature(letter, "bo@example.com", visibility="anonymous", wants_updates=True)
    verified_signature(letter, "sol@example.com", language="es")
    verified_signature(letter, "cy@example.com", visibility="private")
    services.sign(letter=letter, name="Di", email="di@example.com", visibility="public")
    pending = Signature.objects.get(email="di@example.com")
    anonymous = Signature.objects.get(email="bo@example.com")
    organisation = account_services.create_organisation(user=organiser, name="Allied Campaign")
    services.cosign(letter=letter, organisation_id=organisation.pk, user=organiser)
    org_invite = account_services.invite(
        organisation=organisation, email="pat@example.net", role="member", by=organiser
    )
    letter_invite = services.invite_organiser(
        letter_id=letter.pk, actor=organiser, email="eve@example.net", role="editor"
    )
    update, _ = services.send_update(
        letter_id=letter.pk, actor=organiser, subject="News", body="Hi",
        translations={"es": {"subject": "Noticias", "body": "Hola"}},
    )  # fmt: skip
    delivery = deliveries.prepare(
        letter_id=letter.pk, actor=organiser, addressee="The Board", cover_note="",
        include_names=True, include_organisations=True, include_counts=True,
    )  # fmt: skip
    delivery_documents.build(delivery_id=delivery.pk)
    deliveries.mark_delivered(delivery_id=delivery.pk, actor=organiser, delivered_to="The Board")
    slug = letter.slug
    public = {
        "delivery": reverse("delivery", args=[delivery.code]),
        "letter_deliveries": reverse("letter_deliveries", args=[slug]),
        "home": reverse("home"),
        "letter": reverse("letter", args=[slug]),
        "tally": reverse("tally", args=[slug]),
        "widget": reverse("widget", args=[slug]),
        "letter_versions": reverse("letter_versions", args=[slug]),
        "check_inbox": reverse("check_inbox", args=[slug]),
        "thanks": reverse("thanks", args=[slug]),
        "manage_request": reverse("manage_request", args=[slug]),
        "manage": path(emails.manage_url(anonymous)),
        "reverify": reverse(
            "reverify",
            kwargs={
                "slug": slug,
                "token": tokens.make(
                    tokens.REVERIFY,
                    signature_id=anonymous.pk,
                    letter_id=letter.pk,
                    email_hash=anonymous.email_hash,
                ),
            },
        ),
        "verify": path(emails.verify_url(pending)),
        "log_check": reverse("log_check", args=[slug]),
        "unsubscribe": path(emails.unsubscribe_url(anonymous)),
        "organisation_invite": path(account_emails.invite_url(org_invite)),
        "organiser:accept_invite": path(emails.invite_url(letter_invite)),
        "account_login": reverse("account_login"),
        "account_signup": reverse("account_signup"),
        "account_reset_password": reverse("account_reset_password"),
        "account_reset_password_done": reverse("account_reset_password_done"),
        "account_email_verification_sent": reverse("account_email_verification_sent"),
        "account_confirm_email": reverse("account_confirm_email", args=["no-such-key"]),
        "account_reset_password_from_key": reverse(
            "account_reset_password_from_key", kwargs={"uidb36": "1", "key": "no-such-key"}
        ),
        "account_reset_password_from_key_done": reverse("account_reset_password_from_key_done"),
    }
    signed_in = {
        "account_logout": reverse("account_logout"),
        "account_email": reverse("account_email"),
        "account_change_password": reverse("account_change_password"),
        "me_signatures": reverse("me_signatures"),
        "me_profile": reverse("me_profile"),
        "me_delete": reverse("me_delete"),
        "organisations": reverse("organisations"),
        "organisation_create": reverse("organisation_create"),
        "organisation": reverse("organisation", args=[organisation.slug]),
        "organisation_edit": reverse("organisation_edit", args=[organisation.slug]),
        "cosign": reverse("cosign", args=[slug]),
        "cosigners_moderate": reverse("cosigners_moderate", args=[slug]),
        **{
            f"organiser:{name}": reverse(f"organiser:{name}", args=[slug])
            for name in (
                "letter",
                "edit",
                "settings",
                "team",
                "signatures",
                "audit",
                "exports",
                "updates",
                "translations",
                "deliveries",
            )
        },  # fmt: skip
        "organiser:dashboard": reverse("organiser:dashboard"),
        "organiser:create": reverse("organiser:create"),
        "organiser:update": reverse("organiser:update", args=[slug, update.pk]),
        "organiser:delivery": reverse("organiser:delivery", args=[slug, delivery.code]),
    }
    return {"public": public, "signed_in": signed_in, "organiser": organiser, "letter": letter}


def sign_in(context, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def violations(page) -> list[str]:
    page.evaluate(AXE)  # through the DevTools protocol: the page's CSP does not apply
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in found
            if v["impact"] in BAD]  # fmt: skip


# Marks every form control a person can use (radio buttons by group: Tab reaches one of a group,
# the arrow keys the others) and returns their keys.
MARK_CONTROLS = """() => {
  const keys = new Set();
  document.querySelectorAll('input, select, textarea, button').forEach((el, i) => {
    if (el.type === 'hidden' || el.disabled || el.tabIndex < 0) return;
    if (el.closest('[aria-hidden="true"]') || !el.getClientRects().length) return;
    // Inside a closed <details>: its <summary>, a Tab stop of its own, opens it by keyboard.
    if (el.closest('details:not([open])') && !el.closest('summary')) return;
    const key = el.type === 'radio' ? 'radio:' + el.name : el.tagName.toLowerCase() + ':' +
      (el.name || el.id || el.textContent.trim() || i);
    el.dataset.kb = key;
    keys.add(key);
  });
  return [...keys];
}"""
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const visible = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return [el.dataset.kb || '', el === document.body ? 'body' : el.outerHTML.slice(0, 80), visible];
}"""


def keyboard_problems(page) -> list[str]:
    """Tab through the page: every form control is reached, and focus is visible on each stop."""
    controls = set(page.evaluate(MARK_CONTROLS))
    # A date or time field takes several stops (its parts and its calendar button).
    stops = page.evaluate(
        "document.querySelectorAll('a[href], input, select, textarea, button, summary, "
        "[tabindex]').length + 4 * document.querySelectorAll('input[type=date], "
        "input[type=datetime-local], input[type=time]').length"
    )
    reached, unseen, seen = set(), set(), set()
    for _ in range(stops + 3):
        page.keyboard.press("Tab")
        key, html, visible = page.evaluate(FOCUSED)
        reached.add(key)
        if html != "body":
            # A date field takes several stops (day, month, year, its calendar button, whose own
            # ring the field's style does not show): one visible stop per element is enough.
            (seen if visible else unseen).add(html)
    problems = [f"no visible focus on {html}" for html in sorted(unseen - seen)]
    problems += [f"not reached by Tab: {key}" for key in sorted(controls - reached)]
    return problems


def test_every_page_is_checked(world):
    covered = set(world["public"]) | set(world["signed_in"]) | NOT_PAGES
    pages = {route.name for route in all_routes() if route.name and "admin" not in route.namespace}
    assert pages - covered == set(), "add these pages to the axe-core walk"


def test_no_page_has_a_serious_or_critical_violation_and_every_form_works_by_keyboard(
    browser, live_server, world
):
    found = {}
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    statuses, keyboard = {}, {}
    for signed_in in (False, True):
        if signed_in:
            sign_in(context, live_server, world["organiser"])
        for name, url in world["signed_in" if signed_in else "public"].items():
            statuses[name] = page.goto(live_server.url + url).status
            found[name] = violations(page)
            keyboard[name] = keyboard_problems(page)
    context.close()
    assert {name: status for name, status in statuses.items() if status != 200} == {}
    assert {name: v for name, v in found.items() if v} == {}
    problems = {name: v for name, v in keyboard.items() if v}
    assert problems == {}, "\n".join(f"{name}: {v}" for name, v in problems.items())


def focus_outline(page) -> str:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle === 'none' ? '' : s.outlineWidth + ' ' + s.outlineStyle; }"
    )


def test_a_signer_signs_with_the_keyboard_alone_and_sees_where_the_focus_is(
    page, live_server, world
):
    letter = world["letter"]
    page.goto(live_server.url + letter.get_absolute_url())
    page.get_by_role("textbox", name="Your name").focus()
    assert focus_outline(page)  # visible focus on a text field
    page.keyboard.type("Grace Hopper")
    page.keyboard.press("Tab")
    page.keyboard.type("grace@example.com")
    # Tab on to the levels; arrow keys move between the radio buttons, space picks one.
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "visibility":
            break
    assert page.evaluate("document.activeElement.name") == "visibility"
    assert focus_outline(page)
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    for _ in range(15):
        if page.evaluate("document.activeElement.type") == "submit":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign the letter"
    assert focus_outline(page)
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + reverse("check_inbox", args=[letter.slug]))
    assert Signature.objects.get(email="grace@example.com").visibility == "anonymous"


def test_an_organiser_writes_a_new_letter_with_the_keyboard_alone(browser, live_server, world):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    sign_in(context, live_server, world["organiser"])
    page = context.new_page()
    page.goto(live_server.url + reverse("organiser:create"))
    page.get_by_role("textbox", name="Title").focus()
    page.keyboard.type("A letter typed without a mouse")
    page.keyboard.press("Tab")
    page.keyboard.type("The Board")
    page.keyboard.press("Tab")
    page.keyboard.type("We ask you to listen.")
    for _ in range(10):
        if page.evaluate("document.activeElement.textContent") == "Save draft":
            break
        page.keyboard.press("Tab")
    assert focus_outline(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_contain_text("A letter typed without a mouse")
    context.close()


def test_the_check_finds_what_it_looks_for(page):
    # An unlabelled field and an image without text: axe must call both out, or the page walk
    # above proves nothing.
    page.set_content('<html lang="en"><body><main><input type="text"><img src="x.png"></main>')
    found = " ".join(violations(page))
    assert "critical image-alt" in found and "critical label" in found
