"""An organisation's own page: its staff (accounts' part) and the letters it co-signs or asked to.
Its URL (orgs/<slug>/), name ("organisation") and template are the organisation pages'; it lives
here because it lists co-signatures, and accounts imports nothing from petition."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.organisation_views import organisation_for_member, organisation_page

from ..models import CoSignature


@login_required
def organisation_detail(request, slug: str):
    organisation = organisation_for_member(request, slug)
    cosignatures = (
        CoSignature.objects.filter(organisation=organisation)
        .select_related("letter")
        .order_by("-requested_at")
    )
    return render(
        request,
        "accounts/organisation_detail.html",
        {**organisation_page(organisation), "cosignatures": cosignatures},
    )
