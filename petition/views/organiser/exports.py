"""Exports of a letter's signatures and co-signatures (CSV or a spreadsheet), streamed, and the
log of every export made."""

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render

from ... import exports, services
from ...forms.organiser import ExportForm
from ...models import ExportRecord, Letter
from ..common import EDITORS, letter_for_organiser, may_edit, post_only

COSIGN_STATUSES = [
    ("approved", "Approved"),
    ("pending", "Waiting for approval"),
    ("rejected", "Rejected"),
    ("withdrawn", "Withdrawn"),
    ("all", "All"),
]


def _cosign_form(data=None):
    form = ExportForm(data, prefix="co")
    form.fields["status"].choices = COSIGN_STATUSES
    form.fields["status"].initial = "approved"
    for name in ("level", "version"):
        del form.fields[name]
    form.fields["signed_from"].label = "Asked on or after"
    form.fields["signed_to"].label = "Asked on or before"
    return form


@login_required
def export_page(request, slug: str, form=None, cosign_form=None, status=200):
    """The export forms (editors) and the log of every export made (all organisers)."""
    letter = letter_for_organiser(request, slug)
    may_export = may_edit(letter)
    context = {
        "letter": letter,
        "may_export": may_export,
        "form": form or (ExportForm() if may_export else None),
        "cosign_form": cosign_form or (_cosign_form() if may_export else None),
        "records": ExportRecord.objects.filter(letter=letter)
        .select_related("user")
        .order_by("-created_at", "-pk")[:200],
    }
    return render(request, "petition/organiser/exports.html", context, status=status)


@login_required
@post_only
def export_download(request, slug: str):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    what = "cosignatures" if request.POST.get("what") == "cosignatures" else "signatures"
    form = _cosign_form(request.POST) if what == "cosignatures" else ExportForm(request.POST)
    if not form.is_valid():
        return _export_error(request, slug, what, form)
    data = form.cleaned_data
    filters = exports.Filters(
        status=data["status"],
        level=data.get("level") or "",
        version=data.get("version"),
        signed_from=data.get("signed_from"),
        signed_to=data.get("signed_to"),
    )
    format = data["format"]
    rows = exports.count(letter, what, filters)
    if format == "xlsx" and rows > exports.XLSX_MAX_ROWS:
        form.add_error("format", "Too many rows for a spreadsheet: choose CSV.")
        return _export_error(request, slug, what, form)
    # Recorded before a byte leaves: an export is in the log even if the download breaks off.
    services.record_export(
        letter=letter,
        user=request.user,
        what=what,
        format=format,
        filters=filters.as_record(),
        rows=rows,
    )
    return export_response(letter, what, format, filters)


def _export_error(request, slug: str, what: str, form):
    if what == "cosignatures":
        return export_page(request, slug, cosign_form=form, status=400)
    return export_page(request, slug, form=form, status=400)


def export_response(letter: Letter, what: str, format: str, filters) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        exports.chunks(letter, what, format, filters), content_type=exports.CONTENT_TYPES[format]
    )
    name = exports.filename(letter, what, format)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    # Ask a proxy in front (nginx) to pass the chunks on as they come instead of buffering them.
    response["X-Accel-Buffering"] = "no"
    return response
