"""Deliveries: prepared and published in the organiser workspace, read and checked by anyone.

Organiser views reach the letter through the workspace's one permission helper. The public page
exists only once a delivery is marked delivered, on a letter readers may see.
"""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from .. import deliveries
from ..forms.deliveries import MarkDeliveredForm, PrepareDeliveryForm
from ..models import Delivery, Letter
from .common import letter_for_organiser, may_edit, post_only, public_letter

FILES = {"a4.pdf": "pdf_a4", "letter.pdf": "pdf_letter", "print.html": "html", "names.csv": "csv"}
BUILDING_REFRESH_SECONDS = 2


@login_required
@require_http_methods(["GET", "POST"])
def organiser_list(request, slug: str):
    letter = letter_for_organiser(request, slug)
    can_edit = may_edit(letter)
    form = PrepareDeliveryForm(request.POST or None, initial={"addressee": letter.addressee})
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            delivery = deliveries.prepare(
                letter_id=letter.pk, actor=request.user, **form.cleaned_data
            )
            messages.success(request, _("Delivery prepared: its documents are being made."))
            return redirect("organiser:delivery", slug=letter.slug, code=delivery.code)
        status = 400
    context = {
        "letter": letter,
        "may_edit": can_edit,
        "form": form,
        "deliveries": letter.deliveries.order_by("-created_at"),
    }
    return render(request, "petition/organiser/deliveries.html", context, status=status)


def _safe_only(view):
    """require_safe, but after the organiser check: someone who does not organise the letter
    gets the same 404 from every one of its URLs, whatever the method."""

    @functools.wraps(view)
    def wrapper(request, slug: str, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            letter_for_organiser(request, slug)
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return view(request, slug, *args, **kwargs)

    return wrapper


def _delivery(letter: Letter, code: str) -> Delivery:
    return get_object_or_404(Delivery, letter=letter, code=code)


def _detail(request, letter: Letter, delivery: Delivery, form=None, status: int = 200):
    context = {
        "letter": letter,
        "delivery": delivery,
        "may_edit": may_edit(letter),
        "form": form or MarkDeliveredForm(initial={"delivered_to": delivery.addressee}),
        "refresh": BUILDING_REFRESH_SECONDS if delivery.status == Delivery.Status.BUILDING else 0,
    }
    return render(request, "petition/organiser/delivery.html", context, status=status)


@login_required
@_safe_only
def organiser_detail(request, slug: str, code: str):
    letter = letter_for_organiser(request, slug)
    return _detail(request, letter, _delivery(letter, code))


def _file_response(delivery: Delivery, name: str) -> FileResponse:
    field = FILES.get(name)
    stored = getattr(delivery, field) if field else None
    if not stored:
        raise Http404
    download = f"{delivery.letter.slug}-{delivery.code}-{name}"
    return FileResponse(
        stored.open("rb"), as_attachment=not name.endswith(".html"), filename=download
    )


@login_required
@_safe_only
def organiser_file(request, slug: str, code: str, name: str):
    letter = letter_for_organiser(request, slug)
    return _file_response(_delivery(letter, code), name)


@login_required
@post_only
def mark_delivered(request, slug: str, code: str):
    letter = letter_for_organiser(request, slug)
    if not may_edit(letter):
        raise PermissionDenied
    delivery = _delivery(letter, code)
    form = MarkDeliveredForm(request.POST)
    if not form.is_valid():
        return _detail(request, letter, delivery, form=form, status=400)
    data = form.cleaned_data
    done = deliveries.mark_delivered(
        delivery_id=delivery.pk,
        actor=request.user,
        delivered_to=data["delivered_to"],
        update_subject=data["subject"] if data["tell_signers"] else "",
        update_body=data["body"] if data["tell_signers"] else "",
    )
    if not done:
        messages.error(request, _("Only a ready delivery not yet delivered can be marked so."))
        return redirect("organiser:delivery", slug=letter.slug, code=delivery.code)
    messages.success(request, _("Marked as delivered: its public page is live."))
    return redirect(delivery)


# --- Public ---------------------------------------------------------------------------------


def _delivered(code: str) -> Delivery:
    return get_object_or_404(
        Delivery.objects.select_related("letter").filter(
            delivered_at__isnull=False, letter__in=Letter.objects.listed()
        ),
        code=code,
    )


@require_safe
def public_page(request, code: str):
    delivery = _delivered(code)
    check_messages = {
        "ok": _(
            "Verified in your browser: the site signed this checkpoint, its entries replay to "
            "every count above, and the log today still contains it"
        ),
        "failed": _("Check failed"),
        "checking": _("Checking…"),
    }
    context = {"delivery": delivery, "letter": delivery.letter, "check_messages": check_messages}
    return render(request, "petition/delivery/public.html", context)


@require_safe
def public_json(request, code: str):
    response = JsonResponse(deliveries.summary(_delivered(code)))
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def public_file(request, code: str, name: str):
    return _file_response(_delivered(code), name)


@require_safe
def letter_deliveries(request, slug: str):
    letter = public_letter(slug)
    delivered = letter.deliveries.filter(delivered_at__isnull=False).order_by("-delivered_at")
    return render(
        request, "petition/delivery/list.html", {"letter": letter, "deliveries": delivered}
    )
