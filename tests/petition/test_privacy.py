"""The promise to signers (PRODUCT.md, "Visibility"): hidden details reach no page, log, report."""

import base64
import io
import logging
import os
import smtplib
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail as django_mail
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import LocalePrefixPattern
from django.utils import timezone, translation

from lib.redaction import RedactPersonalData
from petition import services, translations
from petition.models import Letter, Signature, Tally
from tests.conftest import ROOT, SmtpSink, Worker, broker, link_in, wait_for

pytestmark = pytest.mark.django_db

FIELDS = ["name", "email", "affiliation", "job_title", "team", "city"]


def markers(level: str) -> dict:
    """Unique values per field, so a leak of any one of them is found by a plain substring test."""
    values = {field: f"zq{level}{field.replace('_', '')}marker" for field in FIELDS}
    values["email"] = f"zq{level}mailmarker@example.com"
    return values


def sign_and_verify(
    client, letter, level: str, ticked: set[str], deliver, language: str = ""
) -> dict:
    values = markers(level)
    data = {**values, "visibility": level, "language": language}
    for detail in ticked:
        data[f"show_{detail}"] = "on"
    response = client.post(reverse("sign", args=[letter.slug]), data)
    assert response.status_code == 302, response.content[:2000]
    confirm = link_in(deliver()[-1], "/confirm/")
    assert client.post(confirm).status_code == 302
    deliver()
    return values


# --- every public URL ----------------------------------------------------------------------

# Prefixes that are not public reading surfaces: the admin and allauth's account pages need a
# log-in or a personal token; signer and organiser pages are covered by their own access tests.
NOT_PUBLIC = ("admin/", "accounts/", "me/", "manage/", "orgs/")


# Parameters a reader can fill; anything else makes the test fail until it is handled here.
def _fill(param: str, letter: Letter, route_name: str = "") -> str | None:
    delivered = letter.deliveries.filter(delivered_at__isnull=False).first()
    code = delivered.code if delivered else None
    # name: a delivery's file, or an organisation logo's file (media/organisation-logos/<name>).
    name = "0" * 32 + ".png" if route_name == "organisation_logo" else "print.html"
    return {"slug": letter.slug, "code": code, "name": name}.get(param)


def _deliver(letter: Letter) -> None:
    """A delivered delivery of the letter, so its public page, JSON and files are read too."""
    from petition import deliveries, delivery_documents

    delivery = deliveries.prepare(
        letter_id=letter.pk, actor=None, addressee="The Board", cover_note="",
        include_names=True, include_organisations=True, include_counts=True,
    )  # fmt: skip
    delivery_documents.build(delivery_id=delivery.pk)
    assert deliveries.mark_delivered(delivery_id=delivery.pk, actor=None, delivered_to="The Board")


def _walk(resolver, prefix=""):
    for entry in resolver.url_patterns:
        # The language prefix (es/, ar/...) is left out: reverse() puts it back.
        route = "" if isinstance(entry.pattern, LocalePrefixPattern) else str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route, entry


# URL patterns that take a per-signer secret (a token mailed to one person): not public. The
# co-sign pages act for a signed-in organisation admin and are covered by the access tests.
PERSONAL = {"verify", "manage", "reverify", "unsubscribe", "cosign_withdraw"}
# The log's proofs and entries need query arguments: public_urls() adds them with real values.
WITH_QUERY = {"log_entries", "log_inclusion", "log_consistency"}
# Pages that only answer POST, or only matter after a POST, still get a GET here: harmless.


def public_urls(letter: Letter) -> list[str]:
    urls = []
    for route, pattern in _walk(get_resolver()):
        if route.startswith(NOT_PUBLIC) or pattern.name in PERSONAL | WITH_QUERY:
            continue
        params = list(pattern.pattern.converters)
        kwargs = {}
        for param in params:
            value = _fill(param, letter, pattern.name)
            if value is None:
                raise AssertionError(
                    f"The leak test cannot fill <{param}> in {route!r} ({pattern.name}): "
                    "teach _fill() about it so the new URL is checked."
                )
            kwargs[param] = value
        if pattern.name is None:
            raise AssertionError(f"{route!r} has no name: name it so it can be reversed.")
        url = reverse(pattern.name, kwargs=kwargs)
        urls.append(url)
        if "slug" in kwargs:  # paginated lists: the second page too
            urls.append(url + "?page=2")
    # The public log's endpoints take their arguments in the query.
    log = f"/api/letters/{letter.slug}/log"
    size = Tally.objects.get(letter=letter).log_size
    urls += [f"{log}/entries?start=0&end=1000", f"{log}/inclusion?index=0&size={size}",
             f"{log}/consistency?from=1&to={size}", f"{log}/checkpoint"]  # fmt: skip
    # Every file of a delivery, not only the one _fill() names.
    code = _fill("code", letter)
    urls += [reverse("delivery_file", args=[code, name]) for name in ("names.csv", "a4.pdf")]
    return urls


def in_language(letter: Letter, language: str) -> str:
    """The language a signer reads the letter in: a translation's, added for it, or the
    original's (blank)."""
    if language == letter.original_language:
        return ""
    translations.add_translation(
        letter_id=letter.pk, actor=None, language=language, title=f"{letter.title} ({language})",
        addressee=letter.addressee, body=f"{letter.body} ({language})",
    )  # fmt: skip
    return language


# Every page in every language the site ships: the letter translated into it, signed in it, and
# each URL read with its language prefix and the browser asking for it.
@pytest.mark.parametrize("language", [code for code, _name in django_settings.LANGUAGES])
@pytest.mark.parametrize("level", ["public", "anonymous", "private"])
def test_no_hidden_detail_reaches_any_public_url_or_log(
    client, make_letter, deliver, level, language, caplog, settings
):
    settings.SIGNERS_PER_PAGE = 1  # so page 2 of the signers list really exists
    letter = make_letter(employer_domains="example.com")
    read_in = in_language(letter, language)
    caplog.set_level(logging.DEBUG)
    ticked = {"job_title", "city"}
    values = sign_and_verify(client, letter, level, ticked, deliver, read_in)
    # A second, public signer pushes ours onto page 2.
    sign_and_verify(
        client, letter, "public", set(), deliver, read_in
    ) if level != "public" else None
    from petition import tlog

    tlog.checkpoint(letter_id=letter.pk)
    _deliver(letter)

    hidden = {"email", "affiliation", "team"}
    if level != "public":
        hidden.add("name")
    if level == "private":
        hidden |= {"job_title", "city"}  # private entries appear only in the counts
    shown = set(FIELDS) - hidden

    visitor = client.__class__(HTTP_ACCEPT_LANGUAGE=language)  # a reader with no session
    seen = []
    with translation.override(language):  # the pages' requests activate it in this thread too
        responses = [(url, visitor.get(url)) for url in public_urls(letter)]
        letter_url = reverse("letter", args=[letter.slug])
    letter_page = dict(responses)[letter_url].content.decode()
    assert f'<html lang="{language}"' in letter_page, "the pages are read in the language"
    assert not read_in or f"({language})</h1>" in letter_page, "and so is the letter"
    for url, response in responses:
        assert response.status_code < 500, url
        content = b"".join(response.streaming_content) if response.streaming else response.content
        body = content.decode(errors="replace")
        if "/log/entries" in url:  # the entries are base64: read what they say
            assert response.status_code == 200, (url, body)
            body += "".join(
                base64.b64decode(e["data"]).decode() for e in response.json()["entries"]
            )
            assert values["email"].split("@")[0] not in body
        seen.append(body)
        for field in hidden:
            assert values[field] not in body, f"{field} of a {level} signer leaked at {url}"
    everything = "\n".join(seen)
    for field in shown:
        assert values[field] in everything, f"{field} should be shown for a {level} signer"

    log_text = caplog.text
    for field in FIELDS:
        if field == "name" and level == "public":
            continue
        assert values[field] not in log_text, f"{field} reached the logs"
    assert values["email"] not in log_text


def test_error_reports_carry_no_personal_data(settings):
    settings.ADMINS = ["ops@example.org"]
    values = markers("error")
    request = RequestFactory().post("/letters/x/sign/", values)
    request.COOKIES["sessionid"] = values["name"]
    logger = logging.getLogger("django.request")
    try:
        secret_email = values["email"]  # a local variable in the failing frame  # noqa: F841
        raise ValueError("boom")
    except ValueError:
        logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=sys.exc_info(),
            extra={"status_code": 500, "request": request},
        )
    reports = [m for m in django_mail.outbox if "ops@example.org" in m.to]
    assert reports, "the error was reported"
    for message in reports:
        text = message.body + "".join(a[0] for a in getattr(message, "alternatives", []))
        for value in values.values():
            assert value not in text


def test_a_logged_exception_has_its_addresses_masked_in_the_traceback_too():
    values = markers("traceback")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactPersonalData())
    logger = logging.getLogger("tests.traceback")
    logger.addHandler(handler)
    try:
        raise smtplib.SMTPRecipientsRefused({values["email"]: (450, b"busy")})
    except smtplib.SMTPException:
        logger.exception("mail not sent")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "SMTPRecipientsRefused" in output and "[email]" in output
    assert values["email"] not in output


def test_verified_private_row_holds_no_name_or_email(client, letter, deliver):
    values = sign_and_verify(client, letter, "private", {"city"}, deliver)
    signature = Signature.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM petition_signature WHERE id = %s", [signature.pk])
        row = cursor.fetchone()
    flat = " ".join(str(value) for value in row)
    assert values["name"] not in flat
    assert values["email"] not in flat
    assert values["city"] in flat, "the other details are kept, per the table"
    assert signature.email_hash and len(signature.email_hash) == 64


def test_no_table_anywhere_keeps_a_private_signers_name_or_email(client, letter, deliver):
    values = sign_and_verify(client, letter, "private", set(), deliver)
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            for row in cursor.fetchall():
                flat = " ".join(str(value) for value in row)
                assert values["name"] not in flat, table
                assert values["email"] not in flat, table


def test_private_signer_cannot_sign_twice_in_any_case_or_spacing(client, letter, deliver):
    values = sign_and_verify(client, letter, "private", set(), deliver)
    for variant in [values["email"].upper(), f"  {values['email']}  ", values["email"].title()]:
        response = client.post(
            reverse("sign", args=[letter.slug]),
            {"email": variant, "visibility": "private", "name": ""},
        )
        assert response.status_code == 302
    assert Signature.objects.filter(letter=letter).count() == 1
    assert Tally.objects.get(letter=letter).verified == 1


def test_private_signer_withdraws_with_the_link_from_the_confirmation(client, letter, deliver):
    values = markers("private")
    client.post(reverse("sign", args=[letter.slug]), {**values, "visibility": "private"})
    client.post(link_in(deliver()[-1], "/confirm/"))
    confirmation = deliver()[-1]
    assert "Private" in confirmation.body and "erased" in confirmation.body
    manage = link_in(confirmation, "/my-signature/")
    assert client.post(manage, {"action": "withdraw"}).status_code == 200
    assert Signature.objects.get().status == "withdrawn"
    assert Tally.objects.get(letter=letter).private == 0


def test_private_signer_can_ask_for_a_manage_link_by_typing_the_address(client, letter, deliver):
    values = sign_and_verify(client, letter, "private", set(), deliver)
    response = client.post(
        reverse("manage_request", args=[letter.slug]), {"email": values["email"].upper()}
    )
    assert response.status_code == 200
    assert "/my-signature/" in deliver()[-1].body


def test_manage_request_answers_the_same_for_unknown_address(client, letter, deliver):
    known = sign_and_verify(client, letter, "public", set(), deliver)
    before = len(deliver())
    a = client.post(reverse("manage_request", args=[letter.slug]), {"email": known["email"]})
    b = client.post(reverse("manage_request", args=[letter.slug]), {"email": "x@example.net"})
    assert a.status_code == b.status_code == 200
    assert a.content == b.content
    assert len(deliver()) == before + 1


def test_level_can_move_to_more_private_only(client, letter, deliver):
    values = markers("move")
    client.post(reverse("sign", args=[letter.slug]), {**values, "visibility": "anonymous"})
    client.post(link_in(deliver()[-1], "/confirm/"))
    manage = link_in(deliver()[-1], "/my-signature/")
    assert client.post(manage, {"action": "level", "visibility": "public"}).status_code == 400
    assert Signature.objects.get().visibility == "anonymous"
    assert client.post(manage, {"action": "level", "visibility": "private"}).status_code == 302
    signature = Signature.objects.get()
    assert signature.visibility == "private"
    assert signature.name == "" and signature.email == ""
    tally = Tally.objects.get(letter=letter)
    assert (tally.anonymous, tally.private, tally.verified) == (0, 1, 1)


def test_confirmation_mail_repeats_level_for_each_level(client, make_letter, deliver):
    for level, words in [
        ("public", "Public:"),
        ("anonymous", "Anonymous:"),
        ("private", "Private:"),
    ]:
        letter = make_letter()
        values = markers(level)
        client.post(reverse("sign", args=[letter.slug]), {**values, "visibility": level})
        client.post(link_in(deliver()[-1], "/confirm/"))
        assert words in deliver()[-1].body


# --- employer verification -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("ann@example.com", "example.com"),
        ("ann@eng.example.com", "example.com"),
        ("ann@EXAMPLE.COM", "example.com"),
        ("ann+letters@example.com", "example.com"),
        ("ann@example.org", "example.org"),
        ("ann@example.com.evil.org", ""),
        ("ann@notexample.com", ""),
        ("ann@example.co", ""),
        ("example.com@evil.org", ""),
    ],
)
def test_employer_domain_matching(address, domain):
    letter = Letter(employer_domains="example.com\nexample.org")
    assert letter.employer_domain_for(address) == domain


def test_verified_employee_is_shown_and_counted_at_any_level(client, letter, deliver):
    sign_and_verify(client, letter, "anonymous", set(), deliver)
    signature = Signature.objects.get()
    assert signature.is_verified_employee and signature.employer_domain == "example.com"
    html = client.get(letter.get_absolute_url()).content.decode()
    assert "verified employee" in html
    assert Tally.objects.get(letter=letter).employees == 1


def test_outside_address_is_not_a_verified_employee(client, letter, deliver):
    values = markers("outside")
    values["email"] = "someone@gmail.example.net"
    client.post(reverse("sign", args=[letter.slug]), {**values, "visibility": "public"})
    client.post(link_in(deliver()[-1], "/confirm/"))
    assert not Signature.objects.get().is_verified_employee


def test_employees_only_letter_refuses_other_addresses_on_the_form(client, make_letter):
    letter = make_letter(employer_domains="example.com", employees_only=True)
    response = client.post(
        reverse("sign", args=[letter.slug]),
        {"name": "A", "email": "a@example.com.evil.org", "visibility": "public"},
    )
    assert response.status_code == 400
    assert "Only employees may sign" in response.content.decode()
    assert not Signature.objects.exists()


def test_form_warns_that_work_mail_may_be_read(client, letter):
    html = client.get(letter.get_absolute_url()).content.decode()
    assert "may be read by your employer" in html
    assert "erased once you confirm" in html


def test_letter_offers_only_its_levels(client, make_letter):
    letter = make_letter(allow_public=False)
    html = client.get(letter.get_absolute_url()).content.decode()
    assert 'value="public"' not in html
    response = client.post(
        reverse("sign", args=[letter.slug]),
        {"name": "A", "email": "a@example.net", "visibility": "public"},
    )
    assert response.status_code == 400


def test_disposable_addresses_are_refused_when_the_letter_says_so(client, letter):
    response = client.post(
        reverse("sign", args=[letter.slug]),
        {"name": "A", "email": "a@mailinator.com", "visibility": "public"},
    )
    assert response.status_code == 400
    assert "disposable" in response.content.decode()


# --- data minimisation ---------------------------------------------------------------------


def test_pending_signatures_are_purged_after_the_configured_days(client, letter, settings):
    settings.PENDING_SIGNATURE_DAYS = 7
    client.post(
        reverse("sign", args=[letter.slug]),
        {"name": "Old", "email": "old@example.net", "visibility": "public"},
    )
    client.post(
        reverse("sign", args=[letter.slug]),
        {"name": "New", "email": "new@example.net", "visibility": "public"},
    )
    Signature.objects.filter(email="old@example.net").update(
        created_at=timezone.now() - timedelta(days=8)
    )
    call_command("purge_pending")
    assert list(Signature.objects.values_list("email", flat=True)) == ["new@example.net"]
    Signature.objects.update(created_at=timezone.now() - timedelta(days=8))
    from petition import tasks

    assert tasks.purge_pending_signatures.apply().get() == 1
    assert not Signature.objects.exists()


def test_verified_signatures_are_never_purged(client, letter, deliver):
    sign_and_verify(client, letter, "public", set(), deliver)
    Signature.objects.update(created_at=timezone.now() - timedelta(days=30))
    assert services.purge_pending_signatures() == 0


def test_no_raw_ip_is_stored_anywhere(client, letter, deliver):
    client.defaults["REMOTE_ADDR"] = "203.0.113.77"
    sign_and_verify(client, letter, "public", set(), deliver)
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608
            for row in cursor.fetchall():
                assert "203.0.113.77" not in " ".join(str(v) for v in row), table


# --- the logs of the other processes: Celery worker, beat, management commands -------------------


class SinkRefusingEachRecipientOnce(SmtpSink):
    """Answers "450 mailbox busy" to the first RCPT of each address: the relay puts the mail off
    and logs it, and the server's reply (which the log must not carry) holds the address."""

    def __init__(self):
        super().__init__()
        self.refused_once = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address not in self.refused_once:
            self.refused_once.add(address)
            return "450 4.2.1 Mailbox busy, try again"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def celery_beat_output(env: dict, schedule: Path, seconds: float = 6) -> str:
    """Run a real `celery beat` for a few seconds and return everything it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", f"--schedule={schedule}"]
        + ["--loglevel=INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    return out


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_hidden_detail_reaches_the_worker_or_beat_logs(
    client, make_letter, redis_server, tmp_path
):
    letter = make_letter(employer_domains="example.com")
    sink = SinkRefusingEachRecipientOnce()
    sink.start()
    worker = Worker(redis_server.url, sink.port, {"MAIL_RETRY_BACKOFF": "1"})
    worker.start()
    signers = {level: markers(level) for level in ("anonymous", "private")}
    try:
        with broker(redis_server.url):
            for level, values in signers.items():
                response = client.post(
                    reverse("sign", args=[letter.slug]), {**values, "visibility": level}
                )
                assert response.status_code == 302
                email = values["email"]
                mail = wait_for(lambda e=email: sink.texts(e), 60, what=f"{level} confirm mail")
                assert client.post(link_in(mail[0], "/confirm/")).status_code == 302
                wait_for(lambda e=email: len(sink.texts(e)) == 2, 60, what="confirmation mail")
        assert sink.refused_once >= {v["email"] for v in signers.values()}
        beat = celery_beat_output(worker.env, tmp_path / "celerybeat-schedule")
    finally:
        worker.stop()
        sink.stop()
    worker_log = "".join(worker.lines)
    assert "not sent yet" in worker_log, "the refused recipients were put off, and logged"
    for process, output in [("worker", worker_log), ("beat", beat)]:
        for level, values in signers.items():
            for field in ("name", "email", "affiliation", "team"):
                assert values[field] not in output, f"{level} {field} in {process} log:\n{output}"
            assert values["email"].split("@")[0] not in output
        # Both log through Django's LOGGING, whose handlers carry the redaction filter.
        assert " INFO celery." in output, f"{process} logs bypass Django's LOGGING:\n{output}"


def test_a_management_command_masks_addresses_in_its_log(tmp_path):
    values = markers("command")
    code = (
        "import logging; logging.getLogger('petition.tasks').warning("
        f"'refused %s', {values['email']!r})"
    )
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert "refused [email]" in output, output
    assert values["email"] not in output
