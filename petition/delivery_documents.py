"""A delivery's documents: PDFs (A4 and US Letter), a print-styled HTML page and a CSV.

Made from the delivery's frozen rows only. The names are read and laid out CHUNK at a time:
WeasyPrint lays out a whole document in memory, so the PDF is made of one document for the
letter and one per chunk of names (each starting at the right page number), joined with pypdf;
the HTML page and the CSV are written chunk by chunk. Memory stays bounded whatever the number
of names. WeasyPrint may fetch nothing but data: URLs (the letter's Markdown could name an
image on any host, which the server must not fetch).
"""

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator

import segno
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from pypdf import PdfReader, PdfWriter
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher

from .exports import neutralise
from .models import Delivery, DeliveryName, render_markdown

CHUNK = 2000
PAGE_SIZES = {"pdf_a4": "A4", "pdf_letter": "letter"}


def css_string(text: str) -> str:
    """`text` as a quoted CSS string, safe inside a <style> element."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\a ")
    return mark_safe('"' + escaped.replace("<", "\\3c ") + '"')  # noqa: S308 - escaped above


def name_chunks(delivery: Delivery) -> Iterator[list[tuple[str, str]]]:
    """The listed names, CHUNK at a time, in their frozen order (keyset pages, no OFFSET)."""
    start = 0
    while True:
        rows = list(
            DeliveryName.objects.filter(delivery=delivery, position__gte=start)
            .order_by("position")
            .values_list("position", "name", "details")[:CHUNK]
        )
        if not rows:
            return
        yield [(name, details) for _, name, details in rows]
        start = rows[-1][0] + 1


def _context(delivery: Delivery, page_size: str) -> dict:
    footer = gettext(
        "Public log checkpoint: %(size)s entries, root hash %(root)s · check it at %(url)s"
    ) % {
        "size": delivery.checkpoint_size,
        "root": delivery.checkpoint_root,
        "url": delivery.short_url,
    }
    return {
        "delivery": delivery,
        "page_size": page_size,
        "footer": footer,
        "footer_css": css_string(footer),
        "page_css": css_string(gettext("Page") + " "),
        "body_html": render_markdown(delivery.body),
        "qr": segno.make(delivery.short_url, error="m").svg_data_uri(scale=3, border=2),
        "leads": [o["name"] for o in delivery.organisations if o["lead"]],
        "others": [o["name"] for o in delivery.organisations if not o["lead"]],
    }


def _rows(chunk: list[tuple[str, str]], per_row: int = 3) -> list[list[tuple[str, str]]]:
    return [chunk[i : i + per_row] for i in range(0, len(chunk), per_row)]


STYLESHEET = settings.BASE_DIR / "static" / "css" / "delivery.css"


def _render(template: str, context: dict, target) -> int:
    document = HTML(
        string=render_to_string(template, context),
        url_fetcher=URLFetcher(allowed_protocols={"data"}),
    ).render(stylesheets=[CSS(filename=str(STYLESHEET))])
    document.write_pdf(target)
    return len(document.pages)


def write_pdf(
    delivery: Delivery, page_size: str, target, progress: Callable[[float], None]
) -> None:
    context = _context(delivery, page_size)
    writer = PdfWriter()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "part.pdf")
        pages = _render("petition/delivery/pdf_front.html", context, path)
        writer.append(PdfReader(path))
        total = max(1, delivery.names_count)
        done = 0
        for number, chunk in enumerate(name_chunks(delivery)):
            chunk_context = {
                **context,
                "rows": _rows(chunk),
                "first_chunk": number == 0,
                "start_page": pages + 1,
            }
            path = os.path.join(folder, f"part{number}.pdf")
            pages += _render("petition/delivery/pdf_names.html", chunk_context, path)
            writer.append(PdfReader(path))
            done += len(chunk)
            progress(done / total)
        writer.write(target)


def write_html(delivery: Delivery, target) -> None:
    context = _context(delivery, "A4")
    target.write(render_to_string("petition/delivery/print_head.html", context).encode())
    for number, chunk in enumerate(name_chunks(delivery)):
        html = render_to_string(
            "petition/delivery/_names.html",
            {**context, "rows": _rows(chunk), "first_chunk": number == 0},
        )
        target.write(html.encode())
    target.write(render_to_string("petition/delivery/print_tail.html", context).encode())


def write_csv(delivery: Delivery, target) -> None:
    """Exactly the listed names: name and the details each signer chose to show."""
    text = io.TextIOWrapper(target, encoding="utf-8", newline="")
    text.write("\ufeff")
    writer = csv.writer(text)
    writer.writerow([gettext("name"), gettext("details")])
    for chunk in name_chunks(delivery):
        writer.writerows([neutralise(name), neutralise(details)] for name, details in chunk)
    text.flush()
    text.detach()


def _save(delivery: Delivery, suffix: str, write: Callable) -> str:
    with tempfile.TemporaryFile() as handle:
        write(handle)
        handle.seek(0)
        name = f"deliveries/{delivery.letter.slug}-{delivery.code}{suffix}"
        return default_storage.save(name, File(handle, name=name))


def build_all(delivery: Delivery, progress: Callable[[int], None]) -> dict[str, str]:
    """Write every document; returns the storage name of each, by Delivery field."""
    files = {
        "csv": _save(delivery, ".csv", lambda h: write_csv(delivery, h)),
        "html": _save(delivery, ".html", lambda h: write_html(delivery, h)),
    }
    progress(10)
    for step, (field, size) in enumerate(PAGE_SIZES.items()):
        start = 10 + 45 * step

        def report(fraction: float, start: int = start) -> None:
            progress(min(99, start + int(45 * fraction)))

        suffix = f"-{size.lower()}.pdf"
        files[field] = _save(
            delivery, suffix, lambda h, s=size, r=report: write_pdf(delivery, s, h, r)
        )
    return files


def _progress(delivery_id: int, percent: int) -> None:
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.BUILDING).update(
        progress=percent
    )


def build(*, delivery_id: int) -> str:
    """Build the delivery's PDFs, print page and CSV from its frozen rows (idempotent)."""
    delivery = Delivery.objects.select_related("letter").get(pk=delivery_id)
    if delivery.status != Delivery.Status.BUILDING:
        return "already built"
    try:
        with translation.override(delivery.language):
            files = build_all(delivery, lambda percent: _progress(delivery_id, percent))
    except Exception:
        Delivery.objects.filter(pk=delivery_id).update(status=Delivery.Status.FAILED)
        raise
    for field, name in files.items():
        setattr(delivery, field, name)
    delivery.status = Delivery.Status.READY
    delivery.progress = 100
    delivery.save(update_fields=[*files, "status", "progress"])
    return "built"
