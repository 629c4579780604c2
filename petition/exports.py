"""Signer and co-signer lists for organisers, as CSV (streamed), XLSX and JSON.

What a row holds follows the visibility table in PRODUCT.md, whatever the filters:

- public: everything the signer gave (name, email, employer, job title, team, city);
- anonymous: name and email, to coordinate, and of the other details only those the signer
  ticked to show (the table grants organisers "name and email", not the unticked details);
- private: no name, no email (not even while the signature is pending and still holds them),
  only the ticked details.

A file for one level has only that level's columns: an export of private signatures has no
name or email column at all. Every text cell a spreadsheet could read as a formula (starting
with =, +, -, @, a tab or a carriage return) is prefixed with an apostrophe in CSV and XLSX.

Memory stays flat however long the list: rows come from a server-side cursor
(`.iterator(chunk_size=...)`) and CSV and JSON leave in chunks as they are made. XLSX is built
by openpyxl's write-only mode (rows go to a temporary file, not memory) and then sent.
"""

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.apps import apps
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .models import Letter, Level, Signature

# Rows fetched per round trip from the server-side cursor, and rows per chunk sent.
CHUNK_ROWS = 2000
SEND_ROWS = 500
XLSX_MAX_ROWS = 1_048_575  # a sheet's limit, less the header
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

BASE_COLUMNS = [
    "id",
    "signed_at",
    "verified_at",
    "status",
    "hidden",
    "hidden_reason",
    "level",
    "version",
    "verified_employee",
]
IDENTITY_COLUMNS = ["name", "email", "employer_domain", "wants_updates"]
DETAIL_COLUMNS = ["affiliation", "job_title", "team", "city"]

FIELDS = [
    "public_id",
    "created_at",
    "verified_at",
    "status",
    "is_hidden",
    "hidden_reason",
    "visibility",
    "version__number",
    "is_verified_employee",
    "name",
    "email",
    "employer_domain",
    "wants_updates",
    "affiliation",
    "job_title",
    "team",
    "city",
    "show_affiliation",
    "show_job_title",
    "show_team",
    "show_city",
]


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


def organiser_view(record: dict) -> dict:
    """One signature as the table lets organisers see it."""
    level = record["visibility"]
    row = {
        "id": str(record["public_id"]),
        "signed_at": _iso(record["created_at"]),
        "verified_at": _iso(record["verified_at"]),
        "status": record["status"],
        "hidden": record["is_hidden"],
        "hidden_reason": record["hidden_reason"],
        "level": level,
        "version": record["version__number"],
        "verified_employee": record["is_verified_employee"],
    }
    if level != Level.PRIVATE:
        row["name"] = record["name"]
        row["email"] = record["email"]
        row["employer_domain"] = record["employer_domain"]
        row["wants_updates"] = record["wants_updates"]
    everything = level == Level.PUBLIC
    for detail in DETAIL_COLUMNS:
        row[detail] = record[detail] if everything or record[f"show_{detail}"] else ""
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
            seen = organiser_view(dict(zip(FIELDS, record, strict=True)))
            yield [seen.get(column, "") for column in columns]

    return columns, rows()


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


def cosign_model():
    """CoSignature, once the co-signature feature (issue 4) is installed; None before."""
    try:
        return apps.get_model("petition", "CoSignature")
    except LookupError:
        return None


def cosignatures(letter: Letter, filters: Filters):
    """`status` is a co-signature status or "all"; level and version do not apply."""
    qs = cosign_model().objects.filter(letter=letter)
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
        for record in records:
            yield [_iso(v) if isinstance(v, datetime) else v for v in record]

    return list(COSIGN_COLUMNS), rows()


# Formats ------------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def _cell(value) -> str:
    """A value as spreadsheet text: booleans as yes/no, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


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
    """{...header, key: [{column: value, ...}, ...]}, in chunks; values as they are (JSON is not
    read as formulas)."""
    head = json.dumps(header, ensure_ascii=False)[:-1]
    parts = [head + (", " if header else "") + json.dumps(key) + ": ["]
    for n, row in enumerate(rows):
        parts.append(("," if n else "") + "\n" + json.dumps(dict(zip(columns, row, strict=True))))
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
        # openpyxl would store "=..." as a formula; neutralised text stays text.
        worksheet.append([ILLEGAL_CHARACTERS_RE.sub("", _cell(v)) for v in row])
    # Closed by the reader (_file_chunks) once sent.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(out)
    out.seek(0)
    return out


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def filename(letter: Letter, what: str, format: str) -> str:
    return f"{letter.slug}-{what}-{timezone.now():%Y%m%d-%H%M}.{format}"


def chunks(letter: Letter, what: str, format: str, filters: Filters) -> Iterator[bytes]:
    """The whole export as bytes, in chunks (XLSX in one file's worth of reads)."""
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


def _file_chunks(handle, size: int = 64 * 1024) -> Iterator[bytes]:
    with handle:
        while block := handle.read(size):
            yield block


def count(letter: Letter, what: str, filters: Filters) -> int:
    if what == "cosignatures":
        return cosignatures(letter, filters).count()
    return signatures(letter, filters).count()
