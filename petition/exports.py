"""Signer and co-signer lists for organisers, as CSV (streamed), XLSX and JSON.

What a row holds follows the visibility table in PRODUCT.md, whatever the filters:

- public: everything the signer gave (name, email, employer, job title, team, city);
- anonymous: name and email, to coordinate, and of the other details only those the signer
  ticked to show (the table grants organisers "name and email", not the unticked details);
- private: no name, no email (not even while the signature is pending and still holds them),
  only the ticked details.

A file for one level has only that level's columns: an export of private signatures has no
name or email column at all. Every text cell a spreadsheet could read as a formula (starting
with =, +, -, @, a tab or a carriage return) is prefixed with an apostrophe in CSV. XLSX and JSON
are typed: texts as texts, numbers as numbers, times as times (UTC), yes/no as booleans. An XLSX
text cell is stored as text, never as a formula, so it needs no apostrophe (a formula-like one
is also marked "quote prefix", so editing it in a spreadsheet keeps it text). JSON has null
where the table hides a value, and "" only where the signer left a field empty.

Memory stays flat however long the list: rows come from a server-side cursor
(`.iterator(chunk_size=...)`) and CSV and JSON leave in chunks as they are made. XLSX is built
by openpyxl's write-only mode (rows go to a temporary file, not memory) and then sent.

On PostgreSQL the signature CSV is made by the database instead: the same queryset, its columns
turned into SQL expressions (`copy_columns`) that apply the same table, formats and formula rule,
is wrapped in `COPY (...) TO STDOUT WITH (FORMAT csv)` and its rows are passed on as they come,
byte for byte what `csv_chunks` makes of `signature_rows` (the tests compare the two). Python
work per row was what bounded a large export; other databases (SQLite for `make run`) keep the
Python path.
"""

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connections, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateTimeField,
    F,
    Func,
    Q,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, NullIf, Ord
from django.db.models.lookups import In
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .models import CoSignature, Letter, Level, Signature

# Rows fetched per round trip from the server-side cursor, and rows per chunk sent.
CHUNK_ROWS = 2000
SEND_ROWS = 500
XLSX_MAX_ROWS = 1_048_575  # a sheet's limit, less the header
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# The columns every file has, and the Signature field each shows.
BASE_SOURCES = {
    "id": "public_id",
    "signed_at": "created_at",
    "verified_at": "verified_at",
    "status": "status",
    "hidden": "is_hidden",
    "hidden_reason": "hidden_reason",
    "level": "visibility",
    "version": "version__number",
    # The language of the text the signer read (the letter's original, or a translation).
    "language": "language",
    "verified_employee": "is_verified_employee",
}
BASE_COLUMNS = list(BASE_SOURCES)
IDENTITY_COLUMNS = ["name", "email", "employer_domain", "wants_updates"]
DETAIL_COLUMNS = ["affiliation", "job_title", "team", "city"]
SOURCES = BASE_SOURCES | {column: column for column in IDENTITY_COLUMNS + DETAIL_COLUMNS}
# The levels at which organisers see every detail given; at the others, only the ticked ones.
DETAILS_IN_FULL = {Level.PUBLIC}

FIELDS = [*SOURCES.values(), *(f"show_{detail}" for detail in DETAIL_COLUMNS)]


@dataclass(frozen=True)
class Filters:
    status: str = "counted"  # counted, verified, hidden, pending, withdrawn, all
    level: str = ""  # a Level, or "" for all
    version: int | None = None
    signed_from: date | None = None
    signed_to: date | None = None

    def as_record(self) -> dict:
        """For the export log: only the filters that were set, as JSON."""
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(self).items()
            if value not in ("", None)
        }


def neutralise(value: str) -> str:
    """A text a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_START) else value


def columns_for(level: str) -> list[str]:
    if level == Level.PRIVATE:
        return BASE_COLUMNS + DETAIL_COLUMNS
    return BASE_COLUMNS + IDENTITY_COLUMNS + DETAIL_COLUMNS


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def signatures(letter: Letter, filters: Filters):
    qs = Signature.objects.filter(letter=letter)
    status = filters.status
    if status == "counted":
        qs = qs.counted()
    elif status == "verified":
        qs = qs.filter(status=Signature.Status.VERIFIED)
    elif status == "hidden":
        qs = qs.filter(is_hidden=True)
    elif status in (Signature.Status.PENDING, Signature.Status.WITHDRAWN):
        qs = qs.filter(status=status)
    if filters.level:
        qs = qs.filter(visibility=filters.level)
    if filters.version:
        qs = qs.filter(version__number=filters.version)
    if filters.signed_from:
        qs = qs.filter(created_at__gte=_day_start(filters.signed_from))
    if filters.signed_to:
        qs = qs.filter(created_at__lt=_day_start(filters.signed_to) + timedelta(days=1))
    return qs


def typed_view(record: dict) -> dict:
    """One signature as the table lets organisers see it, with its values' own types: the
    columns of its level (no name or email for a private one), and of the details only those
    it may show (None for the others).

    `copy_columns` says the same in SQL; change both together (the tests compare them)."""
    level = record["visibility"]
    row = {column: record[SOURCES[column]] for column in columns_for(level)}
    row["id"] = str(row["id"])
    everything = level in DETAILS_IN_FULL
    for detail in DETAIL_COLUMNS:
        if not (everything or record[f"show_{detail}"]):
            row[detail] = None
    return row


def organiser_view(record: dict) -> dict:
    """`typed_view` as the workspace's signature list shows it: times as text, "" for hidden."""
    row = typed_view(record)
    row["signed_at"] = _iso(row["signed_at"])
    row["verified_at"] = _iso(row["verified_at"])
    for detail in DETAIL_COLUMNS:
        if row[detail] is None:
            row[detail] = ""
    return row


def signature_rows(letter: Letter, filters: Filters) -> tuple[list[str], Iterator[list]]:
    """The columns, and the rows as lists in that order, read through a server-side cursor."""
    columns = columns_for(filters.level)

    def rows():
        records = (
            signatures(letter, filters)
            .order_by("pk")
            .values_list(*FIELDS)
            .iterator(chunk_size=CHUNK_ROWS)
        )
        for record in records:
            seen = typed_view(dict(zip(FIELDS, record, strict=True)))
            yield [seen.get(column) for column in columns]

    return columns, rows()


# The signature CSV by COPY (PostgreSQL) ---------------------------------------------------------


class _UTCSeconds(Func):
    """A timestamp as `_iso` writes it: ISO 8601 in UTC, to the second (cut, not rounded).
    A timestamp's text is ISO 8601 but for the T under the ISO DateStyle, which psycopg needs to
    read a timestamptz at all; this costs half what to_char() does."""

    template = (
        "REPLACE(DATE_TRUNC('second', %(expressions)s AT TIME ZONE 'UTC')::text, ' ', 'T')"
        " || '+00:00'"
    )
    output_field = TextField()


def _sql_cell(path: str):
    """The SQL for what `_cell` makes of a field's value; NULL for an empty cell, as COPY
    writes NULL as nothing and an empty string as ""."""
    field = _field(path)
    value = F(path)
    if isinstance(field, CharField | TextField):
        starts_a_formula = In(Ord(value), [ord(c) for c in FORMULA_START])  # ASCII(): cheap
        neutralised = Case(
            When(starts_a_formula, then=Concat(Value("'"), value)),
            default=value,
            output_field=TextField(),
        )
        return NullIf(neutralised, Value(""), output_field=TextField())
    if isinstance(field, BooleanField):
        return Case(
            When(Q((path, True)), then=Value("yes")),
            When(Q((path, False)), then=Value("no")),
            output_field=TextField(),
        )
    if isinstance(field, DateTimeField):
        return _UTCSeconds(value)
    # Numbers and UUIDs, as str() writes them; their text never starts like a formula.
    return Cast(value, TextField())


def _field(path: str):
    model = Signature
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model._meta.get_field(name)


def copy_columns(columns: list[str]) -> list:
    """`organiser_view` and `_cell` as SQL, one expression per column: a column is blank on the
    rows of a level whose file would not have it (name and email on private rows), a detail
    unless the level shows every detail or the signer ticked it."""
    expressions = []
    for column in columns:
        cell = _sql_cell(SOURCES[column])
        hidden_at = [level for level in Level if column not in columns_for(level)]
        if hidden_at:
            cell = Case(When(~Q(visibility__in=hidden_at), then=cell), output_field=TextField())
        if column in DETAIL_COLUMNS:
            shown = Q(visibility__in=DETAILS_IN_FULL) | Q((f"show_{column}", True))
            cell = Case(When(shown, then=cell), output_field=TextField())
        expressions.append(cell)
    return expressions


def copy_csv_chunks(letter: Letter, filters: Filters) -> Iterator[bytes]:
    """The signature CSV of `csv_chunks(*signature_rows(...))`, made by PostgreSQL.

    COPY sends each row as one message ("CopyData messages (always one per row)", in the
    protocol's documentation) ending in a newline; Python's csv ends rows with CRLF, so each
    row's last byte becomes CRLF here, and newlines inside quoted cells stay as they are.
    Nothing else is touched."""
    columns = columns_for(filters.level)
    queryset = signatures(letter, filters).order_by("pk").values_list(*copy_columns(columns))
    yield next(csv_chunks(columns, ()))  # the byte-order mark and the header
    connection = connections[queryset.db]
    select, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    # COPY takes no parameters: they are bound here as psycopg's client-side cursor binds them.
    statement = (
        f"COPY ({connection.ops.compose_sql(select, params)}) "
        "TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')"
    )
    # The stream runs after the view returned and may stop at any row (a client going away
    # closes this generator): the copy is then cancelled on the server, and the transaction
    # (a savepoint inside one) rolled back, so the connection is left as it was found.
    with (
        transaction.atomic(using=queryset.db),
        connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        rows = []
        for row in copy:
            rows.append(row[:-1])
            if len(rows) == SEND_ROWS:
                rows.append(b"")
                yield b"\r\n".join(rows)
                rows = []
        if rows:
            rows.append(b"")
            yield b"\r\n".join(rows)


# Co-signatures ----------------------------------------------------------------------------------

COSIGN_COLUMNS = [
    "organisation",
    "listed_as",
    "statement",
    "status",
    "requested_at",
    "decided_at",
    "withdrawn_at",
    "contact_email",
]
COSIGN_FIELDS = [
    "organisation__name",
    "display_name",
    "statement",
    "status",
    "requested_at",
    "decided_at",
    "withdrawn_at",
    "requested_by__email",
]


def cosignatures(letter: Letter, filters: Filters):
    """`status` is a co-signature status or "all"; level and version do not apply."""
    qs = CoSignature.objects.filter(letter=letter)
    if filters.status not in ("", "all"):
        qs = qs.filter(status=filters.status)
    if filters.signed_from:
        qs = qs.filter(requested_at__gte=_day_start(filters.signed_from))
    if filters.signed_to:
        qs = qs.filter(requested_at__lt=_day_start(filters.signed_to) + timedelta(days=1))
    return qs


def cosignature_rows(letter: Letter, filters: Filters) -> tuple[list[str], Iterator[list]]:
    """Co-signatures are an organisation's public act, listed in full, with the address of the
    member who asked, so the organisers can coordinate with the organisation."""

    def rows():
        records = (
            cosignatures(letter, filters)
            .order_by("pk")
            .values_list(*COSIGN_FIELDS)
            .iterator(chunk_size=CHUNK_ROWS)
        )
        yield from (list(record) for record in records)

    return list(COSIGN_COLUMNS), rows()


# Formats ------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def _cell(value) -> str:
    """A value as CSV text: booleans as yes/no, times in ISO 8601, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    return neutralise(str(value))


def _json_value(value):
    """What json.dumps cannot write itself: times, as ISO 8601 in UTC."""
    if isinstance(value, datetime):
        return _iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def csv_chunks(columns: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """The CSV, in chunks of SEND_ROWS rows, UTF-8 with a byte-order mark for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(columns)
    for n, row in enumerate(rows, 1):
        writer.writerow([_cell(v) for v in row])
        if n % SEND_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def json_chunks(
    header: dict, key: str, columns: list[str], rows: Iterable[list]
) -> Iterator[bytes]:
    """{...header, key: [{column: value, ...}, ...]}, in chunks; values typed as they are (JSON is
    not read as formulas), null where hidden, times in ISO 8601."""
    head = json.dumps(header, ensure_ascii=False)[:-1]
    parts = [head + (", " if header else "") + json.dumps(key) + ": ["]
    for n, row in enumerate(rows):
        record = dict(zip(columns, row, strict=True))
        parts.append(("," if n else "") + "\n" + json.dumps(record, default=_json_value))
        if len(parts) >= SEND_ROWS:
            yield "".join(parts).encode()
            parts = []
    parts.append("\n]}\n")
    yield "".join(parts).encode()


def write_xlsx(columns: list[str], rows: Iterable[list], sheet: str):
    """The workbook in a temporary file (kept in memory only while small), positioned at 0."""
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append(columns)
    for row in rows:
        worksheet.append([_xlsx_value(worksheet, v) for v in row])
    # Closed by the reader (_file_chunks) once sent.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(out)
    out.seek(0)
    return out


def _xlsx_value(worksheet, value):
    """A typed cell: numbers and booleans as they are, times as Excel times in UTC (Excel has
    no time zones), texts as text cells, never formulas."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if value is None or isinstance(value, bool | int | float):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if not text.startswith(FORMULA_START):
        return text
    # openpyxl stores a text starting with "=" as a formula: this one is a text cell, and
    # marked so that a spreadsheet keeps it text when someone edits it.
    cell = WriteOnlyCell(worksheet, text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def filename(letter: Letter, what: str, format: str) -> str:
    return f"{letter.slug}-{what}-{timezone.now():%Y%m%d-%H%M}.{format}"


def chunks(letter: Letter, what: str, format: str, filters: Filters) -> Iterator[bytes]:
    """The whole export as bytes, in chunks (XLSX in one file's worth of reads)."""
    if (format, what) == ("csv", "signatures") and _on_postgresql():
        return copy_csv_chunks(letter, filters)
    columns, rows = (cosignature_rows if what == "cosignatures" else signature_rows)(
        letter, filters
    )
    if format == "csv":
        return csv_chunks(columns, rows)
    if format == "json":
        header = {"letter": letter.slug, "title": letter.title, "exported_at": _iso(timezone.now())}
        return json_chunks(header, what, columns, rows)
    if format == "xlsx":
        return _file_chunks(write_xlsx(columns, rows, sheet=what.capitalize()))
    raise ValueError(f"unknown export format {format!r}")


def _on_postgresql() -> bool:
    return connections[Signature.objects.db].vendor == "postgresql"


def _file_chunks(handle, size: int = 64 * 1024) -> Iterator[bytes]:
    with handle:
        while block := handle.read(size):
            yield block


def count(letter: Letter, what: str, filters: Filters) -> int:
    if what == "cosignatures":
        return cosignatures(letter, filters).count()
    return signatures(letter, filters).count()
