"""Co-signatures: an organisation's admins co-sign a letter or withdraw, its organisers approve,
reject and pin. Who may act is decided by two fetches: `_cosignature_for_org_admin` for the
organisation's side, `common.letter_for_organiser` (the organiser workspace's) for the letter's."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Organisation
from lib import ratelimit

from .. import services
from ..forms.cosign import CosignForm, PinForm
from ..models import CoSignature, Letter
from .common import EDITORS, closed, letter_for_organiser, public_letter, too_many


def _cosignature_for_org_admin(request, letter: Letter, organisation_slug: str) -> CoSignature:
    """The letter's co-signature of an organisation the signed-in user is an admin of; a 404
    for any other organisation, whether it exists or not."""
    return get_object_or_404(
        CoSignature.objects.select_related("organisation"),
        letter=letter,
        organisation__in=Organisation.objects.administered_by(request.user),
        organisation__slug=organisation_slug,
    )


@login_required
@require_http_methods(["GET", "POST"])
def cosign(request, slug: str):
    """Co-sign for an organisation the user administers, and see its co-signatures' status."""
    letter = public_letter(slug)
    organisations = Organisation.objects.administered_by(request.user).order_by("name")
    mine = list(
        CoSignature.objects.filter(letter=letter, organisation__in=organisations)
        .select_related("organisation")
        .order_by("display_name")
    )
    # Those that already co-signed (or were refused) are not offered again; withdrawn may ask again.
    done = [c.organisation_id for c in mine if c.status != CoSignature.Status.WITHDRAWN]
    form = CosignForm(
        request.POST or None,
        organisations=organisations.exclude(pk__in=done),
        initial={"organisation": request.GET.get("org")},
    )
    status = 200
    if request.method == "POST":
        if not letter.takes_cosignatures:
            return closed(request, letter)
        if not ratelimit.allow_org_request(request, "cosign"):
            return too_many(request, letter)
        if form.is_valid():
            try:
                cosignature = services.cosign(
                    letter=letter,
                    organisation_id=form.cleaned_data["organisation"].pk,
                    user=request.user,
                    display_name=form.cleaned_data["display_name"],
                    statement=form.cleaned_data["statement"],
                )
            except services.CosignRefused:
                form.add_error("organisation", "The organisers declined this co-signature.")
            except services.NotOrganisationAdmin:
                raise Http404 from None
            except services.CosigningClosed:
                return closed(request, letter)
            else:
                if cosignature.status == CoSignature.Status.APPROVED:
                    messages.success(request, f"{cosignature.display_name} is listed.")
                else:
                    messages.success(
                        request,
                        f"Thank you: the organisers will review the co-signature of "
                        f"{cosignature.display_name}.",
                    )
                return redirect("cosign", slug=letter.slug)
        status = 400
    return render(
        request,
        "petition/cosign.html",
        {
            "letter": letter,
            "form": form,
            "cosignatures": mine,
            "has_organisations": organisations.exists(),
        },
        status=status,
    )


@login_required
@require_POST
def cosign_withdraw(request, slug: str):
    letter = public_letter(slug)
    cosignature = _cosignature_for_org_admin(request, letter, request.POST.get("organisation", ""))
    if services.withdraw_cosign(cosignature_id=cosignature.pk, by=request.user):
        messages.success(request, f"The co-signature of {cosignature.display_name} is withdrawn.")
    if request.POST.get("next") == "organisation":
        return redirect(cosignature.organisation)
    return redirect("cosign", slug=letter.slug)


@login_required
def cosigners_moderate(request, slug: str):
    """An organiser's list of the letter's co-signatures, by status, with what may be done."""
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    groups = {status: [] for status in CoSignature.Status.values}
    for cosignature in (
        CoSignature.objects.filter(letter=letter).select_related("organisation").in_reading_order()
    ):
        groups[cosignature.status].append(cosignature)
    return render(
        request,
        "petition/cosigners_moderate.html",
        {"letter": letter, "groups": groups},
    )


@login_required
@require_POST
def cosigner_action(request, slug: str, pk: int):
    """Approve, reject, pin or unpin one co-signature of the organiser's letter."""
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    cosignature = get_object_or_404(CoSignature, pk=pk, letter=letter)
    action = request.POST.get("action")
    if action == "approve":
        try:
            if services.approve_cosign(cosignature_id=cosignature.pk, by=request.user):
                messages.success(request, f"{cosignature.display_name} is listed.")
        except services.CosigningClosed:
            messages.error(request, "The letter is closed: co-signatures can no longer be added.")
    elif action == "reject":
        if services.reject_cosign(cosignature_id=cosignature.pk, by=request.user):
            messages.success(request, f"{cosignature.display_name} is not listed.")
    elif action in {"pin", "unpin"}:
        form = PinForm(request.POST if action == "pin" else {})
        if not form.is_valid():
            messages.error(request, "The position must be a whole number from 1 to 999.")
        else:
            services.pin_cosign(
                cosignature_id=cosignature.pk, position=form.cleaned_data["position"]
            )
    else:
        raise Http404
    return redirect("cosigners_moderate", slug=letter.slug)
