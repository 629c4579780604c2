"""Moderating a letter's signatures: the organiser's search over them, hiding one from the list
and the count (with a reason), and restoring it."""

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from lib import params

from ... import exports, services
from ...forms.organiser import HideForm, SignatureSearchForm
from ...models import Letter, Level, Signature
from ..common import EDITORS, letter_for_organiser, post_only

SIGNATURES_PER_PAGE = 50


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
    letter = letter_for_organiser(request, slug, roles=EDITORS)
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
@post_only
def hide(request, slug: str, public_id):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
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
@post_only
def restore(request, slug: str, public_id):
    letter = letter_for_organiser(request, slug, roles=EDITORS)
    signature = get_object_or_404(Signature, letter=letter, public_id=public_id)
    if services.restore_signature(
        letter_id=letter.pk, signature_id=signature.pk, actor=request.user
    ):
        messages.success(request, "Restored.")
    return _back_to_signatures(request, letter)
