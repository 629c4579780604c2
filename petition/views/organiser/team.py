"""The organiser's team: who organises a letter and in which role, inviting someone (and
taking an invitation back), changing a role, removing an organiser, and accepting an invitation."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from lib import addresses, ratelimit

from ... import emails, services
from ...forms.organiser import InviteForm, RoleForm
from ...models import Organiser, OrganiserInvite
from ..common import EDITORS, OWNERS, letter_for_organiser, post_only, too_many

INVITE_MAX_AGE = 14 * 24 * 3600


@login_required
def team(request, slug: str, invite_form=None, status=200):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    is_owner = letter.role in OWNERS
    context = {
        "letter": letter,
        "is_owner": is_owner,
        "organisers": letter.organisers.select_related("user").order_by("pk"),
        "invites": letter.invites.filter(
            accepted_at__isnull=True, revoked_at__isnull=True
        ).order_by("-created_at"),
        "invite_form": invite_form or (InviteForm() if is_owner else None),
        "roles": Organiser.Role.choices,
    }
    return render(request, "petition/organiser/team.html", context, status=status)


@login_required
@post_only
def invite(request, slug: str):
    letter = letter_for_organiser(request, slug, roles=OWNERS)
    form = InviteForm(request.POST)
    if form.is_valid():
        if not ratelimit.allow_org_request(request, "team-invite", to=form.cleaned_data["email"]):
            return too_many(request, letter)
        try:
            services.invite_organiser(letter_id=letter.pk, actor=request.user, **form.cleaned_data)
        except services.WorkspaceError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("organiser:team", slug=letter.slug)
    return team(request, slug, invite_form=form, status=400)


@login_required
@post_only
def revoke_invite(request, slug: str, pk: int):
    """An owner takes back an invitation nobody has accepted yet."""
    letter = letter_for_organiser(request, slug, roles=OWNERS)
    invite = get_object_or_404(OrganiserInvite, pk=pk, letter=letter)
    if services.revoke_organiser_invite(
        letter_id=letter.pk, invite_id=invite.pk, actor=request.user
    ):
        messages.success(
            request,
            gettext("The invitation to %(email)s is withdrawn: its link no longer works.")
            % {"email": invite.email},
        )
    return redirect("organiser:team", slug=letter.slug)


@login_required
@post_only
def set_role(request, slug: str, pk: int):
    letter = letter_for_organiser(request, slug, roles=OWNERS)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.set_organiser_role(
                letter_id=letter.pk,
                organiser_id=pk,
                actor=request.user,
                role=form.cleaned_data["role"],
            )
        except services.WorkspaceError as exc:
            messages.error(request, str(exc))
    return redirect("organiser:team", slug=letter.slug)


@login_required
@post_only
def remove_organiser(request, slug: str, pk: int):
    letter = letter_for_organiser(request, slug, roles=OWNERS)
    try:
        services.remove_organiser(letter_id=letter.pk, organiser_id=pk, actor=request.user)
    except services.WorkspaceError as exc:
        messages.error(request, str(exc))
    if not Organiser.objects.filter(letter=letter, user=request.user).exists():
        return redirect("organiser:dashboard")
    return redirect("organiser:team", slug=letter.slug)


@login_required
@require_http_methods(["GET", "POST"])
def accept_invite(request, token: str):
    """An invitation link: shows the letter and a button; only the POST joins."""
    try:
        claim = signing.loads(token, salt=emails.INVITE_SALT, max_age=INVITE_MAX_AGE)
        invite = OrganiserInvite.objects.select_related("letter").get(pk=int(claim["i"]))
    except signing.SignatureExpired:
        return _bad_invite(request, "This invitation has expired: ask for a new one.", 410)
    except (signing.BadSignature, OrganiserInvite.DoesNotExist, KeyError, TypeError, ValueError):
        return _bad_invite(request, "This invitation link is not valid.", 400)
    if invite.revoked_at is not None:
        return _bad_invite(
            request, gettext("This invitation was withdrawn by the letter's owners."), 410
        )
    if request.method == "POST":
        try:
            services.accept_invite(invite_id=invite.pk, user=request.user)
        except services.InviteRevoked as exc:
            return _bad_invite(request, str(exc), 410)
        except services.WorkspaceError as exc:
            return _bad_invite(request, str(exc), 403)
        messages.success(request, f"You now help organise “{invite.letter.title}”.")
        return redirect("organiser:letter", slug=invite.letter.slug)
    if addresses.normalise_email(request.user.email) != addresses.normalise_email(invite.email):
        # Say nothing about the letter to an account the invitation was not sent to.
        return _bad_invite(
            request,
            "This invitation was sent to another address: sign in with the account for that "
            "address to accept it.",
            403,
        )
    return render(request, "petition/organiser/invite.html", {"invite": invite})


def _bad_invite(request, message: str, status: int):
    return render(
        request, "petition/organiser/bad_invite.html", {"message": message}, status=status
    )
