"""The organiser workspace: letters an account manages, and everything done to them.

Every view reaches its letter through `_letter_for_organiser`, so "may this account touch this
letter, in this role" is decided in one place. A visitor who is not an organiser of the letter
gets a 404 (the letter may be a draft nobody else should know of); an organiser whose role is
too small for the action gets a 403.
"""

import functools
import secrets
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods

from lib import addresses, params, ratelimit

from . import emails, exports, services
from .forms import (
    ExportForm,
    HideForm,
    InviteForm,
    LetterSettingsForm,
    LetterTextForm,
    RoleForm,
    SignatureSearchForm,
    UpdateForm,
)
from .models import (
    AuditEvent,
    ExportRecord,
    Letter,
    Level,
    Mail,
    Organiser,
    OrganiserInvite,
    Signature,
    Tally,
    Update,
    render_markdown,
)

Role = Organiser.Role
# Who may do what. Viewers see the figures only.
ALL_ROLES = frozenset({Role.OWNER, Role.EDITOR, Role.VIEWER})
EDITORS = frozenset({Role.OWNER, Role.EDITOR})  # edit, publish, moderate, export, send updates
OWNERS = frozenset({Role.OWNER})  # and manage the team


def _letter_for_organiser(request, slug: str, *, roles=ALL_ROLES) -> Letter:
    """The letter `slug` if the signed-in account organises it in one of `roles`.

    404 for anyone who is not an organiser of this letter (signed out included), 403 for an
    organiser whose role does not allow the action. The organiser's role is set on the letter
    as `letter.role`, for templates that hide what the role cannot do.
    """
    if not request.user.is_authenticated:
        raise Http404
    membership = (
        Organiser.objects.select_related("letter", "letter__tally")
        .filter(letter__slug=slug, user=request.user)
        .first()
    )
    if membership is None:
        raise Http404
    if membership.role not in roles:
        raise PermissionDenied
    letter = membership.letter
    letter.role = membership.role
    return letter


def _post_only(view):
    """require_POST, but after the organiser check: someone who does not organise the letter
    gets the same 404 from every one of its URLs, whatever the method."""

    @functools.wraps(view)
    def wrapper(request, slug: str, *args, **kwargs):
        if request.method != "POST":
            _letter_for_organiser(request, slug)
            return HttpResponseNotAllowed(["POST"])
        return view(request, slug, *args, **kwargs)

    return wrapper


# --- Letters ----------------------------------------------------------------------------------

INVITE_MAX_AGE = 14 * 24 * 3600
SIGNATURES_PER_PAGE = 50


def _tally(letter: Letter) -> Tally:
    try:
        return letter.tally
    except Tally.DoesNotExist:
        return Tally(letter=letter)


def _may_edit(letter: Letter) -> bool:
    return letter.role in EDITORS


@login_required
def dashboard(request):
    """My letters: every letter the account organises, with its figures from the Tally."""
    memberships = (
        Organiser.objects.filter(user=request.user)
        .select_related("letter", "letter__tally")
        .order_by("-letter__created_at", "-pk")
    )
    rows = [(m, m.letter, _tally(m.letter)) for m in memberships]
    return render(request, "petition/organiser/dashboard.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def create(request):
    form = LetterTextForm(request.POST or None)
    preview = None
    if request.method == "POST":
        if not form.is_valid():
            return _letter_form(request, form, None, None, status=400)
        if "preview" in request.POST:
            preview = render_markdown(form.cleaned_data["body"])
        else:
            letter = services.create_letter(user=request.user, **form.cleaned_data)
            messages.success(request, "Draft saved. Check the settings, then publish it.")
            return redirect("organiser:letter", slug=letter.slug)
    return _letter_form(request, form, None, preview)


def _letter_form(request, form, letter, preview, status=200):
    return render(
        request,
        "petition/organiser/letter_form.html",
        {"form": form, "letter": letter, "preview": preview},
        status=status,
    )


@login_required
def overview(request, slug: str):
    """A letter's figures (all organisers) and what the account's role may do with it."""
    letter = _letter_for_organiser(request, slug)
    context = {
        "letter": letter,
        "tally": _tally(letter),
        "may_edit": _may_edit(letter),
        "domains": letter.domain_tallies.filter(count__gt=0).order_by("-count", "domain")[:20],
        "days": list(letter.daily_tallies.order_by("-day")[:14]),
        "versions": letter.versions.order_by("-number"),
        "milestones": letter.milestones.all(),
        "sending": letter.updates.filter(status=Update.Status.SENDING).order_by("-pk"),
    }
    return render(request, "petition/organiser/overview.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, slug: str):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    initial = {"title": letter.title, "addressee": letter.addressee, "body": letter.body}
    form = LetterTextForm(request.POST or None, initial=initial)
    preview = None
    if request.method == "POST":
        if not form.is_valid():
            return _letter_form(request, form, letter, None, status=400)
        if "preview" in request.POST:
            preview = render_markdown(form.cleaned_data["body"])
        else:
            new_version = services.edit_letter(
                letter_id=letter.pk, actor=request.user, **form.cleaned_data
            )
            if new_version:
                messages.success(request, "Saved as a new version; earlier signatures are kept.")
            else:
                messages.success(request, "Saved.")
            return redirect("organiser:letter", slug=letter.slug)
    return _letter_form(request, form, letter, preview)


@login_required
@require_http_methods(["GET", "POST"])
def letter_settings(request, slug: str):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    form = LetterSettingsForm(request.POST or None, instance=letter)
    if request.method == "POST":
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in LetterSettingsForm.Meta.fields}
            changed = services.change_settings(letter_id=letter.pk, actor=request.user, **fields)
            messages.success(request, "Settings saved." if changed else "Nothing changed.")
            return redirect("organiser:letter", slug=letter.slug)
        letter.refresh_from_db()
        letter.role = Organiser.objects.get(letter=letter, user=request.user).role
    return render(
        request,
        "petition/organiser/settings.html",
        {"letter": letter, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@_post_only
def publish(request, slug: str):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    if letter.status != Letter.Status.DRAFT:
        messages.info(request, "This letter is already published.")
    elif letter.deadline is not None and letter.deadline <= timezone.now():
        messages.error(request, "The deadline has passed: move or clear it in the settings first.")
    else:
        services.publish(letter_id=letter.pk, actor=request.user)
        messages.success(request, "Published: the letter is open for signatures.")
    return redirect("organiser:letter", slug=letter.slug)


@login_required
@_post_only
def close(request, slug: str):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    if services.close(letter_id=letter.pk, actor=request.user):
        messages.success(request, "Closed: the letter takes no more signatures.")
    return redirect("organiser:letter", slug=letter.slug)


@login_required
@_post_only
def reopen(request, slug: str):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    try:
        services.reopen(letter_id=letter.pk, actor=request.user)
    except services.WorkspaceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Reopened: the letter takes signatures again.")
    return redirect("organiser:letter", slug=letter.slug)


# --- Team -------------------------------------------------------------------------------------


@login_required
def team(request, slug: str, invite_form=None, status=200):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
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
@_post_only
def invite(request, slug: str):
    letter = _letter_for_organiser(request, slug, roles=OWNERS)
    form = InviteForm(request.POST)
    if form.is_valid():
        if not ratelimit.allow_org_request(request, "team-invite", to=form.cleaned_data["email"]):
            return render(request, "petition/too_many.html", {"letter": letter}, status=429)
        try:
            services.invite_organiser(letter_id=letter.pk, actor=request.user, **form.cleaned_data)
        except services.WorkspaceError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("organiser:team", slug=letter.slug)
    return team(request, slug, invite_form=form, status=400)


@login_required
@_post_only
def revoke_invite(request, slug: str, pk: int):
    """An owner takes back an invitation nobody has accepted yet."""
    letter = _letter_for_organiser(request, slug, roles=OWNERS)
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
@_post_only
def set_role(request, slug: str, pk: int):
    letter = _letter_for_organiser(request, slug, roles=OWNERS)
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
@_post_only
def remove_organiser(request, slug: str, pk: int):
    letter = _letter_for_organiser(request, slug, roles=OWNERS)
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


# --- Moderation -------------------------------------------------------------------------------


def _search(letter: Letter, status: str, q: str):
    qs = Signature.objects.filter(letter=letter)
    if status == "counted":
        qs = qs.counted()
    elif status == "hidden":
        qs = qs.filter(is_hidden=True)
    elif status in (Signature.Status.PENDING, Signature.Status.WITHDRAWN):
        qs = qs.filter(status=status)
    if q:
        # Match only what organisers may see (PRODUCT.md): no private signer's name or email,
        # and an employer only where the signer is public or ticked it.
        identity = ~Q(visibility=Level.PRIVATE) & (Q(name__icontains=q) | Q(email__icontains=q))
        employer = Q(affiliation__icontains=q) & (
            Q(visibility=Level.PUBLIC) | Q(show_affiliation=True)
        )
        qs = qs.filter(identity | employer)
    return qs


# An organiser's search terms are names and addresses: they travel in a POST and are kept in the
# organiser's session under a random token, which is all the results' URL (and so the access log,
# the browser's history and a referer) holds. The last few searches are kept, and only for a while.
SEARCHES_KEY = "signature_searches"
SEARCHES_KEPT = 10
SEARCH_SECONDS = 3600


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def signatures(request, slug: str):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    answer = 200
    if request.method == "POST":
        form = SignatureSearchForm(request.POST)
        if form.is_valid():
            token = _remember_search(request, letter, form.cleaned_data)
            base = reverse("organiser:signatures", kwargs={"slug": letter.slug})
            return redirect(f"{base}?search={token}")
        # The errors are shown at the form's fields, over the whole list.
        criteria, answer = {"q": "", "status": "counted"}, 400
    else:
        criteria = _recalled_search(request, letter)
        form = SignatureSearchForm(initial=criteria)
    status, q = criteria["status"], criteria["q"]
    page = params.page(request.GET.get("page"), last=params.LARGEST // (SIGNATURES_PER_PAGE + 1))
    start = (page - 1) * SIGNATURES_PER_PAGE
    records = list(
        _search(letter, status, q)
        .order_by("-pk")
        .values("pk", *exports.FIELDS)[start : start + SIGNATURES_PER_PAGE + 1]
    )
    has_next = len(records) > SIGNATURES_PER_PAGE
    rows = [
        {**exports.organiser_view(r), "public_id": r["public_id"]}
        for r in records[:SIGNATURES_PER_PAGE]
    ]
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("q", None)
    here = query.copy()
    if page > 1:
        here["page"] = str(page)
    context = {
        "letter": letter,
        "form": form,
        "rows": rows,
        "page": page,
        "has_next": has_next,
        "query": query.urlencode(),
        "hide_form": HideForm(),
        "here": f"{request.path}?{here.urlencode()}" if here else request.path,
    }
    return render(request, "petition/organiser/signatures.html", context, status=answer)


def _remember_search(request, letter: Letter, cleaned: dict) -> str:
    now = timezone.now().timestamp()
    kept = {
        token: search
        for token, search in request.session.get(SEARCHES_KEY, {}).items()
        if now - search["at"] < SEARCH_SECONDS
    }
    token = secrets.token_urlsafe(9)
    kept[token] = {
        "letter": letter.pk,
        "q": cleaned["q"].strip(),
        "status": cleaned["status"] or "counted",
        "at": now,
    }
    request.session[SEARCHES_KEY] = dict(list(kept.items())[-SEARCHES_KEPT:])
    return token


def _recalled_search(request, letter: Letter) -> dict:
    """The search named by ?search=, else the list by ?status= alone (no search term ever
    comes from the URL)."""
    search = request.session.get(SEARCHES_KEY, {}).get(request.GET.get("search", ""))
    fresh = search and timezone.now().timestamp() - search["at"] < SEARCH_SECONDS
    if fresh and search["letter"] == letter.pk:
        return {"q": search["q"], "status": search["status"]}
    form = SignatureSearchForm({"status": request.GET.get("status", "")})
    status = form.cleaned_data["status"] if form.is_valid() else ""
    return {"q": "", "status": status or "counted"}


def _back_to_signatures(request, letter: Letter):
    target = request.POST.get("next", "")
    base = reverse("organiser:signatures", kwargs={"slug": letter.slug})
    return redirect(target if target.startswith(base) else base)


@login_required
@_post_only
def hide(request, slug: str, public_id):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    signature = get_object_or_404(Signature, letter=letter, public_id=public_id)
    form = HideForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a reason to hide a signature.")
    elif services.hide_signature(
        letter_id=letter.pk,
        signature_id=signature.pk,
        actor=request.user,
        reason=form.cleaned_data["reason"],
        note=form.cleaned_data["note"],
    ):
        messages.success(request, "Hidden: the signature is off the list and out of the count.")
    else:
        messages.info(request, "Only a verified signature that is not hidden can be hidden.")
    return _back_to_signatures(request, letter)


@login_required
@_post_only
def restore(request, slug: str, public_id):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    signature = get_object_or_404(Signature, letter=letter, public_id=public_id)
    if services.restore_signature(
        letter_id=letter.pk, signature_id=signature.pk, actor=request.user
    ):
        messages.success(request, "Restored.")
    return _back_to_signatures(request, letter)


@login_required
def audit(request, slug: str):
    letter = _letter_for_organiser(request, slug)
    events = (
        AuditEvent.objects.filter(letter=letter)
        .select_related("actor")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    return render(request, "petition/organiser/audit.html", {"letter": letter, "page": page})


# --- Exports ----------------------------------------------------------------------------------

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
    letter = _letter_for_organiser(request, slug)
    may_export = _may_edit(letter)
    has_cosign = exports.cosign_model() is not None
    context = {
        "letter": letter,
        "may_export": may_export,
        "form": form or (ExportForm() if may_export else None),
        "cosign_form": cosign_form or (_cosign_form() if may_export and has_cosign else None),
        "records": ExportRecord.objects.filter(letter=letter)
        .select_related("user")
        .order_by("-created_at", "-pk")[:200],
    }
    return render(request, "petition/organiser/exports.html", context, status=status)


@login_required
@_post_only
def export_download(request, slug: str):
    letter = _letter_for_organiser(request, slug, roles=EDITORS)
    what = "cosignatures" if request.POST.get("what") == "cosignatures" else "signatures"
    if what == "cosignatures" and exports.cosign_model() is None:
        raise Http404
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


# --- Updates to signers -----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def updates(request, slug: str):
    """Write an update, preview it, then confirm the number of signers it will mail."""
    letter = _letter_for_organiser(request, slug)
    may_send = _may_edit(letter)
    form = UpdateForm(request.POST or None, initial={"key": uuid.uuid4()}) if may_send else None
    preview = None
    confirming = False
    status = 200
    if request.method == "POST":
        if not may_send:
            raise PermissionDenied
        if not form.is_valid():
            status = 400
        elif "preview" in request.POST:
            preview = render_markdown(form.cleaned_data["body"])
        elif "confirm" in request.POST:
            update, created = services.send_update(
                letter_id=letter.pk, actor=request.user, **form.cleaned_data
            )
            if created:
                messages.success(
                    request,
                    ngettext("Sending to %(n)s signer.", "Sending to %(n)s signers.", update.total)
                    % {"n": intcomma(update.total)},
                )
            else:
                messages.info(
                    request,
                    gettext("This update is already queued: it was not sent a second time."),
                )
            return redirect("organiser:update", slug=letter.slug, pk=update.pk)
        elif "send" in request.POST:
            confirming = True
            preview = render_markdown(form.cleaned_data["body"])
    context = {
        "letter": letter,
        "may_send": may_send,
        "form": form,
        "preview": preview,
        "confirming": confirming,
        "recipients": services.update_recipients(letter.pk).count() if may_send else None,
        "updates": letter.updates.select_related("created_by").order_by("-created_at"),
        "bounces": Mail.objects.filter(letter=letter, failed_at__isnull=False).order_by(
            "-failed_at"
        )[:50],
    }
    return render(request, "petition/organiser/updates.html", context, status=status)


def _update_for_organiser(request, slug: str, pk: int, *, roles=ALL_ROLES) -> tuple:
    letter = _letter_for_organiser(request, slug, roles=roles)
    update = get_object_or_404(Update.objects.select_related("created_by"), letter=letter, pk=pk)
    return letter, update


@login_required
def update_detail(request, slug: str, pk: int):
    letter, update = _update_for_organiser(request, slug, pk)
    context = {"letter": letter, "update": update, "may_send": _may_edit(letter)}
    return render(request, "petition/organiser/update.html", context)


@login_required
@_post_only
def pause_update(request, slug: str, pk: int):
    letter, update = _update_for_organiser(request, slug, pk, roles=EDITORS)
    if services.pause_update(update_id=update.pk, actor=request.user):
        messages.success(request, gettext("Paused: no more mail goes out until you resume."))
    return redirect("organiser:update", slug=letter.slug, pk=update.pk)


@login_required
@_post_only
def resume_update(request, slug: str, pk: int):
    letter, update = _update_for_organiser(request, slug, pk, roles=EDITORS)
    if services.resume_update(update_id=update.pk, actor=request.user):
        messages.success(request, gettext("Resumed: sending carries on where it stopped."))
    return redirect("organiser:update", slug=letter.slug, pk=update.pk)
