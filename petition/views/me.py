"""The signer's own pages, signed in: their signatures (listed, level switched, withdrawn), the
download of everything held about them, and leaving (which may withdraw their signatures).

Their URLs (me/...) and templates (accounts/...) are those of the account pages they sit with;
they live here, with the signatures they act on, as accounts imports nothing from petition.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.db.models.deletion import ProtectedError, RestrictedError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.forms import DeleteAccountForm
from lib import ratelimit

from .. import services
from ..forms.signing import LEVEL_HELP
from ..models import Level, Signature

PRIVATE_NOT_LISTED = (
    "Private signatures are not listed here, and never will be: once confirmed, a private "
    "signature keeps no name, no email and no link to any account, so not even we can tell it "
    "is yours. To withdraw one, use the link in the mail that confirmed it."
)


def _my_signature(request, public_id) -> Signature:
    """A signature the signed-in user may manage: one linked to their account. Any other id,
    whoever it belongs to, is a 404."""
    return get_object_or_404(
        Signature.objects.select_related("letter", "version"),
        public_id=public_id,
        user=request.user,
    )


@login_required
def my_signatures(request):
    signatures = (
        Signature.objects.filter(user=request.user)
        .exclude(visibility=Level.PRIVATE)
        .select_related("letter", "version")
        .order_by("-created_at", "-pk")
    )
    return render(
        request,
        "accounts/my_signatures.html",
        {"signatures": signatures, "private_not_listed": PRIVATE_NOT_LISTED},
    )


@login_required
@require_http_methods(["GET", "POST"])
def my_signature_level(request, public_id, level: str):
    """Switch between public and anonymous either way, or to private (one way). GET asks."""
    signature = _my_signature(request, public_id)
    # Only a confirmed signature: a pending one may carry someone else's address, whose owner
    # was mailed the level it has now (the service refuses too).
    if (
        signature.status != Signature.Status.VERIFIED
        or level == signature.visibility
        or level not in signature.letter.levels
    ):
        raise Http404
    if request.method == "POST":
        services.switch_level(signature_id=signature.pk, user_id=request.user.pk, visibility=level)
        if level == Level.PRIVATE:
            # Says nothing about which letter: the message travels in a cookie.
            messages.success(
                request, "Your signature is now private and no longer linked to this account."
            )
        else:
            messages.success(
                request,
                f"Your signature on \u201c{signature.letter.title}\u201d is now {level}.",
            )
        return redirect("me_signatures")
    return render(
        request,
        "accounts/signature_confirm.html",
        {"signature": signature, "level": level, "level_sentence": LEVEL_HELP[level]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def my_signature_withdraw(request, public_id):
    signature = _my_signature(request, public_id)
    if signature.status == Signature.Status.WITHDRAWN:
        raise Http404
    if request.method == "POST":
        services.withdraw(signature_id=signature.pk)
        messages.success(
            request, f"Your signature on \u201c{signature.letter.title}\u201d is withdrawn."
        )
        return redirect("me_signatures")
    return render(request, "accounts/signature_confirm.html", {"signature": signature})


def _when(moment) -> str | None:
    return moment.isoformat() if moment else None


def _signature_data(s: Signature) -> dict:
    """One signature in the download, with everything it keeps."""
    return {
        "id": str(s.public_id),
        "letter": {
            "slug": s.letter.slug,
            "title": s.letter.title,
            "url": settings.SITE_URL + s.letter.get_absolute_url(),
        },
        "version": s.version.number if s.version else None,
        "level": s.visibility,
        "status": s.status,
        "name": s.name,
        "email": s.email,
        "affiliation": s.affiliation,
        "job_title": s.job_title,
        "team": s.team,
        "city": s.city,
        "shown_with_entry": {
            "affiliation": s.show_affiliation,
            "job_title": s.show_job_title,
            "team": s.show_team,
            "city": s.show_city,
        },
        "verified_employee": s.is_verified_employee,
        "employer_domain": s.employer_domain,
        "wants_updates": s.wants_updates,
        "hidden_by_moderators": s.is_hidden,
        "signed_at": _when(s.created_at),
        "verified_at": _when(s.verified_at),
        "withdrawn_at": _when(s.withdrawn_at),
    }


def _my_data(user) -> dict:
    """Everything held about the account and linked to it. Private signatures are linked to
    nothing, so they cannot be in it; the file says so."""
    signatures = (
        Signature.objects.filter(user=user)
        .select_related("letter", "version")
        .order_by("created_at", "pk")
    )
    return {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "email": user.email,
            "name": user.name,
            "affiliation": user.affiliation,
            "job_title": user.job_title,
            "city": user.city,
            "date_joined": _when(user.date_joined),
            "last_login": _when(user.last_login),
            "email_addresses": [
                {"email": a.email, "verified": a.verified, "primary": a.primary}
                for a in user.emailaddress_set.order_by("pk")
            ],
        },
        "signatures": [_signature_data(s) for s in signatures],
        "private_signatures": PRIVATE_NOT_LISTED,
    }


@login_required
def my_data(request):
    response = JsonResponse(_my_data(request.user), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="undersigned-my-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    """Leave: asks what to do with the signatures (keep as signed, or withdraw all)."""
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if not ratelimit.hit("account-delete", str(request.user.pk), "10/h"):
            return render(request, "petition/too_many.html", status=429)
        if form.is_valid():
            try:
                services.delete_account(
                    user_id=request.user.pk,
                    withdraw_signatures=form.cleaned_data["signatures"] == form.WITHDRAW,
                )
            except (ProtectedError, RestrictedError):
                form.add_error(
                    None,
                    "This account still owns letters or organisations. Hand them over to "
                    "another organiser, or ask us to close them, then come back.",
                )
            else:
                logout(request)
                messages.success(request, "Your account is deleted.")
                return redirect("home")
    active = Signature.objects.active().filter(user=request.user).exclude(visibility=Level.PRIVATE)
    return render(
        request,
        "accounts/delete.html",
        {
            "form": form,
            "signature_count": active.count(),
            "private_not_listed": PRIVATE_NOT_LISTED,
        },
        status=400 if request.method == "POST" else 200,
    )
