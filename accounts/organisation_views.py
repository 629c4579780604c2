"""Organisation pages: create, edit, staff (invite, roles), accept an invitation.

Every page of one organisation reaches it through `organisation_for_member`: a 404 for anyone
who is not a member (its members, domains and invitations are nobody else's business), a 403
for a member who is not an admin where an admin is needed. The organisation's own page lists its
co-signatures, so it is petition's (petition/views/organisation.py), through the same
fetch.
"""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lib import ratelimit

from . import services, tokens
from .forms import InviteForm, OrganisationForm, RoleForm
from .models import Membership, Organisation, OrganisationInvite


def organisation_for_member(request, slug: str, *, admin: bool = False) -> Organisation:
    """The organisation `slug`, if the signed-in user is a member (else a 404), with `is_admin`
    set; a 403 for a member who is not an admin when `admin` is asked for."""
    membership = (
        Membership.objects.select_related("organisation")
        .filter(organisation__slug=slug, user=request.user)
        .first()
    )
    if membership is None:
        raise Http404
    if admin and membership.role != Membership.Role.ADMIN:
        raise PermissionDenied
    organisation = membership.organisation
    organisation.is_admin = membership.role == Membership.Role.ADMIN
    return organisation


def organisation_page(organisation: Organisation) -> dict:
    """What the organisation's page shows of its staff: members, and for an admin the pending
    invitations and the invite form. The page itself (petition/views/organisation.py)
    adds the organisation's co-signatures."""
    members = organisation.memberships.select_related("user").order_by("-role", "user__email")
    invites = (
        organisation.invites.filter(accepted_at__isnull=True, revoked_at__isnull=True).order_by(
            "-created_at"
        )
        if organisation.is_admin
        else OrganisationInvite.objects.none()
    )
    return {
        "organisation": organisation,
        "members": members,
        "invites": invites,
        "invite_form": InviteForm(),
        "role_choices": Membership.Role.choices,
    }


@login_required
def organisation_list(request):
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("organisation")
        .order_by("organisation__name")
    )
    return render(request, "accounts/organisation_list.html", {"memberships": memberships})


@login_required
@require_http_methods(["GET", "POST"])
def organisation_create(request):
    if request.method == "POST" and not ratelimit.allow_org_request(request, "org-create"):
        return render(request, "429.html", status=429)
    form = OrganisationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        organisation = services.create_organisation(user=request.user, **form.cleaned_data)
        messages.success(request, f"{organisation.name} is created; you are its admin.")
        back = _return_to(request)
        if back:
            # Back to the page that sent them here (a letter's co-sign page), this one chosen.
            return redirect(f"{back}?{urlencode({'org': organisation.slug})}")
        return redirect(organisation)
    return render(
        request,
        "accounts/organisation_form.html",
        {"form": form, "organisation": None, "back": _return_to(request)},
        status=400 if request.method == "POST" else 200,
    )


def _return_to(request) -> str:
    """The same-site path in ?next= (without its query), or "" if there is none or it leads
    elsewhere."""
    target = request.GET.get("next", "")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return target.split("?", 1)[0].split("#", 1)[0]


@login_required
@require_http_methods(["GET", "POST"])
def organisation_edit(request, slug: str):
    organisation = organisation_for_member(request, slug, admin=True)
    form = OrganisationForm(request.POST or None, request.FILES or None, instance=organisation)
    if request.method == "POST" and form.is_valid():
        services.update_organisation(
            organisation=organisation,
            by=request.user,
            # A cleared logo comes back as False; the field stores "".
            **{name: form.cleaned_data[name] or "" for name in form.changed_data},
        )
        messages.success(request, "Saved.")
        return redirect(organisation)
    return render(
        request,
        "accounts/organisation_form.html",
        {"form": form, "organisation": organisation},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def organisation_invite_send(request, slug: str):
    organisation = organisation_for_member(request, slug, admin=True)
    form = InviteForm(request.POST)
    if not form.is_valid():
        for error in form.errors.values():
            messages.error(request, " ".join(error))
        return redirect(organisation)
    if not ratelimit.allow_org_request(request, "org-invite", to=form.cleaned_data["email"]):
        return render(request, "429.html", status=429)
    services.invite(
        organisation=organisation,
        email=form.cleaned_data["email"],
        role=form.cleaned_data["role"],
        by=request.user,
    )
    messages.success(request, f"An invitation is on its way to {form.cleaned_data['email']}.")
    return redirect(organisation)


@login_required
@require_POST
def organisation_invite_revoke(request, slug: str, pk: int):
    """An admin takes back an invitation nobody has accepted yet."""
    organisation = organisation_for_member(request, slug, admin=True)
    invite = get_object_or_404(OrganisationInvite, pk=pk, organisation=organisation)
    if services.revoke_invite(invite_id=invite.pk, by=request.user):
        messages.success(
            request,
            gettext("The invitation to %(email)s is withdrawn: its link no longer works.")
            % {"email": invite.email},
        )
    return redirect(organisation)


def _revoked(request):
    return render(
        request,
        "accounts/invite_bad.html",
        {"message": gettext("This invitation was withdrawn by the organisation.")},
        status=410,
    )


@login_required
@require_POST
def organisation_member(request, slug: str, pk: int):
    """An admin changes a member's role or removes them; any member may remove themself."""
    organisation = organisation_for_member(request, slug)
    membership = get_object_or_404(Membership, pk=pk, organisation=organisation)
    is_self = membership.user_id == request.user.pk
    if not organisation.is_admin and not (is_self and request.POST.get("action") == "remove"):
        raise PermissionDenied
    try:
        if request.POST.get("action") == "remove":
            services.remove_member(membership_id=membership.pk, by=request.user)
            messages.success(request, "Removed." if not is_self else "You left the organisation.")
            if is_self:
                return redirect("organisations")
        elif request.POST.get("action") == "role":
            form = RoleForm(request.POST)
            if not form.is_valid():
                raise Http404
            services.set_role(
                membership_id=membership.pk, role=form.cleaned_data["role"], by=request.user
            )
            messages.success(request, "Role changed.")
        else:
            raise Http404
    except services.LastAdmin:
        messages.error(request, "An organisation needs at least one admin: name another first.")
    return redirect(organisation)


@require_http_methods(["GET", "POST"])
def organisation_invite(request, token: str):
    """What the invitation link opens. Signed out: log in or sign up with the invited address.
    Signed in: a button accepts (mail scanners follow links, so GET changes nothing)."""
    try:
        invite = services.invite_from_token(*tokens.read_invite(token))
        if invite is None:
            raise tokens.InvalidToken("This invitation was withdrawn.")
    except tokens.InvalidToken as exc:
        return render(request, "accounts/invite_bad.html", {"message": str(exc)}, status=400)
    if invite.revoked_at is not None:
        return _revoked(request)
    context = {"invite": invite, "organisation": invite.organisation}
    if not request.user.is_authenticated:
        return render(request, "accounts/invite.html", context)
    context["can_accept"] = services.has_verified_address(request.user, invite.email)
    if request.method == "POST":
        try:
            services.accept_invite(invite_id=invite.pk, user=request.user)
        except services.InviteNotForYou:
            return render(request, "accounts/invite.html", context, status=403)
        except services.InviteRevoked:
            return _revoked(request)
        except services.InviteUsed:
            return render(
                request,
                "accounts/invite_bad.html",
                {"message": "This invitation has already been used."},
                status=400,
            )
        messages.success(request, f"You joined {invite.organisation.name}.")
        return redirect(invite.organisation)
    return render(request, "accounts/invite.html", context)


# What logo_path names a stored logo: a random id and the image's type.
LOGO_NAME = re.compile(r"[0-9a-f]{32}\.(png|jpg|jpeg|webp)")
LOGO_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


@require_GET
def organisation_logo(request, name: str):
    """A logo from the media storage (WhiteNoise serves static files only). Public, as the
    co-signer list shows it; only an organisation's current logo, never a replaced one."""
    path = f"organisation-logos/{name}"
    match = LOGO_NAME.fullmatch(name)
    if match is None or not Organisation.objects.filter(logo=path).exists():
        raise Http404
    try:
        handle = default_storage.open(path)
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=LOGO_TYPES[match.group(1)])
    # The name is new for every upload, so the file never changes under it.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
