"""Letters in several languages: the reader's language, translations tied to versions, what a
signer read (recorded, and committed to by the public log), mails in the signer's language."""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from petition import emails, services, translations
from petition.management.commands.auditlog import Command as AuditCommand
from petition.models import LetterTranslation, Mail, PublicLogEntry, Signature, Tally
from tests.conftest import sign_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_between_tests():
    # The middleware activates each request's language in this thread, as it does in a server;
    # the next test starts from the default again.
    yield
    translation.activate(settings.LANGUAGE_CODE)


GERMAN = {
    "title": "Brief Nummer eins",
    "addressee": "Der Vorstand der Example AG",
    "body": "Wir bitten Sie, *aufzuhören*.",
}
SPANISH = {
    "title": "Carta número uno",
    "addressee": "La junta directiva de Example S.A.",
    "body": "Les pedimos que *paren*.",
}
ARABIC = {
    "title": "الرسالة رقم واحد",
    "addressee": "مجلس إدارة الشركة",
    "body": "نطلب منكم *التوقف*.",
}


def translate(letter, language: str, text: dict) -> LetterTranslation:
    return translations.add_translation(
        letter_id=letter.pk, actor=letter.created_by, language=language, **text
    )


def canonical_hash(title: str, body: str) -> str:
    """The text hash as docs/public-log.md tells an outsider to compute it."""
    text = json.dumps(
        {"title": title, "body": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def page(client: Client, path: str, **headers) -> str:
    response = client.get(path, **headers)
    translation.activate(settings.LANGUAGE_CODE)  # as a server's next request starts afresh
    assert response.status_code == 200, path
    return response.content.decode()


def prefixed(language: str, name: str, **kwargs) -> str:
    with translation.override(language):
        return reverse(name, kwargs=kwargs)


# --- What was signed ------------------------------------------------------------------------


def test_a_signature_in_german_records_german_and_the_version(letter):
    german = translate(letter, "de", GERMAN)
    html = page(Client(), prefixed("de", "letter", slug=letter.slug))
    assert GERMAN["title"] in html and 'name="language" value="de"' in html

    response = Client().post(
        reverse("sign", args=[letter.slug]), sign_data(email="greta@example.com", language="de")
    )

    assert response.status_code == 302
    signature = Signature.objects.get(letter=letter)
    assert signature.language == "de"
    assert signature.version == letter.versions.get(number=1)
    assert signature.text_hash == german.text_hash


def test_the_log_entry_commits_to_the_exact_german_text(letter):
    translate(letter, "de", GERMAN)
    Client().post(
        reverse("sign", args=[letter.slug]), sign_data(email="greta@example.com", language="de")
    )
    signature = Signature.objects.get(letter=letter)

    services.verify(signature_id=signature.pk)

    entry = json.loads(bytes(PublicLogEntry.objects.get(letter=letter).data))
    assert entry["kind"] == "sign" and entry["version"] == 1
    assert entry["language"] == "de"
    assert entry["text"] == canonical_hash(GERMAN["title"], GERMAN["body"])
    assert entry["text"] != canonical_hash(letter.title, letter.body)


def test_a_signature_on_the_original_commits_to_the_original_text(letter):
    Client().post(reverse("sign", args=[letter.slug]), sign_data(email="ada@example.com"))
    services.verify(signature_id=Signature.objects.get(letter=letter).pk)

    entry = json.loads(bytes(PublicLogEntry.objects.get(letter=letter).data))
    assert entry["language"] == "en-gb"
    assert entry["text"] == canonical_hash(letter.title, letter.body)


def test_the_form_refuses_a_language_the_letter_is_not_offered_in(letter):
    response = Client().post(
        reverse("sign", args=[letter.slug]), sign_data(email="ada@example.com", language="fr")
    )

    assert response.status_code == 400
    assert "no longer offered in that language" in response.content.decode()
    assert not Signature.objects.exists()


def test_a_signed_in_signer_records_the_language_too(letter, django_user_model):
    from allauth.account.models import EmailAddress

    translate(letter, "es", SPANISH)
    user = django_user_model.objects.create_user(email="sol@example.org", password="pw-123456789")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    client = Client()
    client.force_login(user)

    client.post(
        reverse("sign", args=[letter.slug]), sign_data(email="sol@example.org", language="es")
    )

    signature = Signature.objects.get(letter=letter)
    assert signature.status == "verified" and signature.language == "es"
    entry = json.loads(bytes(PublicLogEntry.objects.get(letter=letter).data))
    assert entry["text"] == canonical_hash(SPANISH["title"], SPANISH["body"])


# --- Translations and versions ----------------------------------------------------------------


def test_changing_the_text_marks_translations_out_of_date(letter, organiser):
    translate(letter, "de", GERMAN)
    [german] = [row for row in translations.workspace_rows(letter) if row["code"] == "de"]
    assert german["translation"] is not None and not german["out_of_date"]

    services.edit_letter(
        letter_id=letter.pk,
        actor=organiser,
        title=letter.title,
        addressee=letter.addressee,
        body="We ask you to stop, now.",
    )

    letter.refresh_from_db()
    [german] = [row for row in translations.workspace_rows(letter) if row["code"] == "de"]
    assert german["out_of_date"]
    # Readers of German get the original until the new version is translated.
    html = page(Client(), prefixed("de", "letter", slug=letter.slug))
    assert GERMAN["title"] not in html and "We ask you to stop, now." in html
    client = Client()
    client.force_login(organiser)
    workspace = page(client, reverse("organiser:translations", args=[letter.slug]))
    assert "out of date (of version 1)" in workspace

    translate(letter, "de", {**GERMAN, "body": "Wir bitten Sie, jetzt aufzuhören."})
    [german] = [row for row in translations.workspace_rows(letter) if row["code"] == "de"]
    assert not german["out_of_date"]
    assert "jetzt aufzuhören" in page(Client(), prefixed("de", "letter", slug=letter.slug))


def test_an_organiser_adds_a_translation_from_the_workspace(letter, organiser):
    client = Client()
    client.force_login(organiser)
    url = reverse("organiser:translations", args=[letter.slug])
    assert page(client, url + "?language=fr")

    response = client.post(url, {"language": "fr", **GERMAN, "title": "Lettre numéro un"})

    assert response.status_code == 302
    row = LetterTranslation.objects.get(version__letter=letter, language="fr")
    assert row.title == "Lettre numéro un"
    assert row.text_hash == canonical_hash(row.title, row.body)


def test_an_organiser_says_which_language_the_letter_is_written_in(letter, organiser):
    client = Client()
    client.force_login(organiser)
    url = reverse("organiser:translations", args=[letter.slug])

    assert client.post(url, {"original_language": "fr"}).status_code == 302
    assert client.post(url, {"original_language": "xx"}).status_code == 400

    letter.refresh_from_db()
    assert letter.original_language == "fr"
    # Readers of French now get the original, which is French.
    html = page(Client(), prefixed("fr", "letter", slug=letter.slug))
    assert letter.title in html and "Original:" not in html


def test_a_translation_into_the_original_language_is_refused(letter, organiser):
    client = Client()
    client.force_login(organiser)

    response = client.post(
        reverse("organiser:translations", args=[letter.slug]), {"language": "en-gb", **GERMAN}
    )

    assert response.status_code == 400
    assert not LetterTranslation.objects.exists()


def test_someone_who_does_not_organise_the_letter_gets_a_404(letter, django_user_model):
    stranger = django_user_model.objects.create_user(email="x@example.org", password="pw-12345678")
    client = Client()
    client.force_login(stranger)

    url = reverse("organiser:translations", args=[letter.slug])
    assert client.get(url).status_code == 404
    assert client.post(url, {"language": "de", **GERMAN}).status_code == 404
    assert not LetterTranslation.objects.exists()


def test_the_versions_page_shows_each_languages_history(letter, organiser):
    translate(letter, "de", GERMAN)
    corrected = translate(letter, "de", {**GERMAN, "title": "Brief Nummer 1"})

    html = page(Client(), reverse("letter_versions", args=[letter.slug]))

    assert GERMAN["title"] in html and "Brief Nummer 1" in html
    assert corrected.text_hash in html
    assert letter.versions.get(number=1).text_hash in html


def signed_in(letter, email: str, language: str = "", *, verify: bool = True) -> Signature:
    Client().post(reverse("sign", args=[letter.slug]), sign_data(email=email, language=language))
    signature = Signature.objects.get(letter=letter, email=email)
    if verify:
        services.verify(signature_id=signature.pk)
    return signature


def count_rows(html: str) -> list[tuple[str, str, str]]:
    """The versions page's table of counts per text: (language, count, hash) per row."""
    table = html[html.index('<table class="version-counts">') :]
    table = table[: table.index("</table>")]
    return re.findall(
        r'<tr><td><span lang="([^"]+)">.*?</td><td>([\d,]+)</td><td>(?:<code>)?([0-9a-f]{64}|not '
        r"recorded)",
        table,
    )


def test_the_versions_page_says_how_many_signed_each_text_with_its_hash(
    letter, organiser, django_assert_max_num_queries
):
    spanish = translate(letter, "es", SPANISH)
    for n in range(2):
        signed_in(letter, f"sol{n}@example.com", "es")
    signed_in(letter, "ada@example.com")
    signed_in(letter, "pending@example.com", "es", verify=False)  # not counted
    hidden = signed_in(letter, "spam@example.com", "es")
    services.hide_signature(letter_id=letter.pk, signature_id=hidden.pk, actor=None, reason="spam")
    services.edit_letter(
        letter_id=letter.pk, actor=organiser, title=letter.title, addressee="A", body="Stop, now."
    )
    letter.refresh_from_db()
    signed_in(letter, "bo@example.com")
    signed_in(letter, "old@example.com")
    # Signed before the log recorded the text: counted, with no hash to show.
    Signature.objects.filter(email="old@example.com").update(text_hash="")
    url = reverse("letter_versions", args=[letter.slug])

    with django_assert_max_num_queries(12) as queries:
        html = page(Client(), url)

    grouped = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 1, "one grouped query, whatever the versions and languages"
    first, second = (letter.versions.get(number=n) for n in (1, 2))
    later, earlier = html.split('id="v1-h"')
    assert count_rows(later) == [("en-gb", "1", second.text_hash), ("en-gb", "1", "not recorded")]
    assert count_rows(earlier) == [("en-gb", "1", first.text_hash), ("es", "2", spanish.text_hash)]
    assert "Counted signatures on version 1, by the text their signers read" in earlier
    # The same hashes, and the same counts, as the public log's entries of the signatures: each
    # ref's last entry says whether it counts.
    last = {}
    for row in PublicLogEntry.objects.filter(letter=letter).order_by("pk"):
        entry = json.loads(bytes(row.data))
        last[entry["ref"]] = entry
    logged = Counter(
        (e["version"], e["language"], e.get("text")) for e in last.values() if e["kind"] == "sign"
    )
    assert logged == Counter(
        {(1, "en-gb", first.text_hash): 1, (1, "es", spanish.text_hash): 2,
         (2, "en-gb", second.text_hash): 2}
    ), "the hidden one left the count; the log holds the hash the row we blanked had"  # fmt: skip


def test_the_counts_per_text_follow_the_next_signature_at_once(letter):
    url = reverse("letter_versions", args=[letter.slug])
    assert 'class="version-counts"' not in page(Client(), url), "no table before anyone signs"
    signed_in(letter, "ada@example.com")
    assert count_rows(page(Client(), url))[0][:2] == ("en-gb", "1")
    signed_in(letter, "bo@example.com")
    assert count_rows(page(Client(), url))[0][:2] == ("en-gb", "2")


# --- The reader's language ---------------------------------------------------------------------


def test_accept_language_shows_the_spanish_translation_on_the_unprefixed_url(letter):
    translate(letter, "es", SPANISH)

    html = page(Client(), letter.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9")

    assert '<html lang="es" dir="ltr">' in html
    assert SPANISH["title"] in html and "Original: English" in html


def test_without_a_preference_the_unprefixed_page_is_english(letter):
    translate(letter, "es", SPANISH)

    html = page(Client(), letter.get_absolute_url())

    assert '<html lang="en-gb" dir="ltr">' in html
    assert letter.title in html and SPANISH["title"] not in html
    # The other languages are linked, and the alternates name every language's URL.
    assert f'href="/es{letter.get_absolute_url()}"' in html
    assert 'hreflang="x-default"' in html and 'hreflang="ar"' in html


def test_arabic_pages_are_right_to_left(letter):
    translate(letter, "ar", ARABIC)

    html = page(Client(), prefixed("ar", "letter", slug=letter.slug))

    assert '<html lang="ar" dir="rtl">' in html
    assert ARABIC["title"] in html


def test_the_url_prefix_wins_over_accept_language(letter):
    translate(letter, "de", GERMAN)
    translate(letter, "es", SPANISH)

    html = page(Client(), prefixed("de", "letter", slug=letter.slug), HTTP_ACCEPT_LANGUAGE="es")

    assert GERMAN["title"] in html and SPANISH["title"] not in html


def test_cached_pages_are_kept_per_language(letter):
    translate(letter, "es", SPANISH)
    url = letter.get_absolute_url()
    for _ in range(2):  # the second round comes from the page cache
        assert SPANISH["title"] in page(Client(), url, HTTP_ACCEPT_LANGUAGE="es")
        assert SPANISH["title"] not in page(Client(), url, HTTP_ACCEPT_LANGUAGE="en")


def test_a_new_translation_is_shown_at_once_to_cached_readers(letter):
    url = letter.get_absolute_url()
    page(Client(), url, HTTP_ACCEPT_LANGUAGE="es")
    page(Client(), url, HTTP_ACCEPT_LANGUAGE="es")

    translate(letter, "es", SPANISH)

    assert SPANISH["title"] in page(Client(), url, HTTP_ACCEPT_LANGUAGE="es")


def test_the_switcher_keeps_a_signed_in_users_choice(letter, organiser):
    client = Client()
    client.force_login(organiser)

    response = client.post(
        reverse("set_language"), {"language": "fr", "next": letter.get_absolute_url()}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/fr{letter.get_absolute_url()}"
    organiser.refresh_from_db()
    assert organiser.language == "fr"
    # Another browser (no language cookie) of the same account gets French.
    other = Client()
    other.force_login(organiser)
    assert '<html lang="fr" dir="ltr">' in page(other, letter.get_absolute_url())


def test_the_switcher_saves_nothing_for_a_language_not_offered(organiser):
    client = Client()
    client.force_login(organiser)

    client.post(reverse("set_language"), {"language": "xx", "next": "/"})

    organiser.refresh_from_db()
    assert organiser.language == ""


def test_api_log_and_admin_urls_have_no_language_prefix(letter):
    with translation.override("de"):
        assert reverse("api_counts", kwargs={"slug": letter.slug}).startswith("/api/")
        assert reverse("admin:index") == "/admin/"
    assert Client().get(f"/de/api/letters/{letter.slug}/counts").status_code == 404


def test_counts_are_grouped_as_the_readers_language_groups_them(letter):
    Tally.objects.filter(letter=letter).update(verified=1234, public=1234)

    german = page(Client(), prefixed("de", "letter", slug=letter.slug))
    english = page(Client(), letter.get_absolute_url())

    assert "<strong>1.234</strong>" in german
    assert "<strong>1,234</strong>" in english


# --- Mail in the signer's language -------------------------------------------------------------


def test_mails_are_written_in_the_signers_language(letter):
    translate(letter, "de", GERMAN)
    Client().post(
        reverse("sign", args=[letter.slug]), sign_data(email="greta@example.com", language="de")
    )
    signature = Signature.objects.get(letter=letter)

    emails.reverification(signature, to="greta@example.com")

    mail = Mail.objects.filter(kind="reverification").get()
    assert mail.subject.startswith("Bestätige deine Arbeitsadresse erneut")
    # The link keeps its path whatever the language.
    assert re.search(rf"{settings.SITE_URL}/letters/{letter.slug}/reverify/", mail.text)


def test_a_signers_verification_and_confirmation_name_the_letter_as_they_read_it(letter, deliver):
    translate(letter, "es", SPANISH)
    Client().post(
        reverse("sign", args=[letter.slug]), sign_data(email="sol@example.com", language="es")
    )
    Client().post(reverse("sign", args=[letter.slug]), sign_data(email="ada@example.com"))
    for signature in Signature.objects.all():
        services.verify(signature_id=signature.pk)

    mails = {}
    for message in deliver():
        mails.setdefault(message.to[0], []).append(message)
    for message in mails["sol@example.com"]:
        assert SPANISH["title"] in message.subject and letter.title not in message.body
        assert message.extra_headers["Content-Language"] == "es"
    assert SPANISH["addressee"] in mails["sol@example.com"][0].body
    for message in mails["ada@example.com"]:
        assert letter.title in message.subject
        assert message.extra_headers["Content-Language"] == "en-gb"


# --- The auditor --------------------------------------------------------------------------------


def entry_bytes(**fields) -> bytes:
    entry = {
        "kind": "sign",
        "letter": "l",
        "seq": 0,
        "level": "public",
        "employee": False,
        "version": 1,
        "hour": "2026-12-02T10:00Z",
        "ref": "a" * 64,
        **fields,
    }
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_auditor_accepts_the_text_commitment():
    counts = AuditCommand()._replay([entry_bytes(language="de", text="0" * 64)], "l")
    assert counts["verified"] == 1


def test_the_auditor_refuses_a_malformed_text_hash():
    with pytest.raises(CommandError, match="malformed text hash"):
        AuditCommand()._replay([entry_bytes(language="de", text="not-a-hash")], "l")


# --- Keeping the catalogues complete ---------------------------------------------------------

ROOT = Path(settings.BASE_DIR)
CHECK = ROOT / "bin" / "check-messages"


def run_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK), str(root)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        timeout=300,
    )


@pytest.fixture
def project_copy(tmp_path):
    for item in ("manage.py", "config", "lib", "petition", "accounts", "templates", "locale"):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, tmp_path / item, ignore=shutil.ignore_patterns("*.mo"))
        else:
            shutil.copy(source, tmp_path / item)
    return tmp_path


def test_the_shipped_catalogues_are_complete(project_copy):
    result = run_check(project_copy)
    assert result.returncode == 0, result.stderr


def test_the_catalogue_check_fails_when_an_untranslated_string_is_added(project_copy):
    (project_copy / "templates" / "new.html").write_text(
        '{% load i18n %}<p>{% translate "A sentence nobody has translated yet" %}</p>'
    )

    result = run_check(project_copy)

    assert result.returncode == 1
    assert "A sentence nobody has translated yet" in result.stderr
    assert "locale/de/LC_MESSAGES/django.po is incomplete" in result.stderr
