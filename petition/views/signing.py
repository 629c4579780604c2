"""Signing a letter and what a signer's links open: the sign form, the check-your-inbox page
and its resend, confirming (or disowning) a signature, the thanks page with its receipt, the
manage link (withdraw, a more private level, proving a work address again), and stopping the
organisers' updates."""

import json

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from lib import addresses, ratelimit

from .. import emails, pagecache, services, tlog, tokens
from ..forms.signing import LEVEL_HELP, EmailForm, LevelForm, SignForm
from ..models import Letter, Signature
from .common import closed, public_letter, too_many
from .letters import letter_context
from .one_click import account_context, one_click_email


@require_POST
def sign(request, slug: str):
    letter = public_letter(slug)
    if not letter.is_open:
        return closed(request, letter)
    form = SignForm(request.POST, letter=letter, one_click_email=one_click_email(request.user))
    if not ratelimit.hit("sign-ip", ratelimit.client_ip(request), settings.SIGN_LIMIT_PER_IP):
        return too_many(request, letter)
    if form.is_bot:
        # Answer a bot as a person, so it learns nothing, and store nothing.
        return redirect("check_inbox", slug=letter.slug)
    if not form.is_valid():
        context = letter_context(pagecache.listed_letter(slug), None)
        context["form"] = form
        context.update(account_context(request, letter))
        return render(request, "petition/letter.html", context, status=400)
    email = form.cleaned_data["email"]
    # The per-address limit stops mail to a stranger's inbox; a signed-in signer's own verified
    # address, signing one letter after another, is not one.
    one_click = services.has_verified_email(request.user, email)
    inbox = addresses.canonical_email(email)
    if not one_click and not ratelimit.hit("sign-email", inbox, settings.SIGN_LIMIT_PER_EMAIL):
        return too_many(request, letter)
    data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
    if request.user.is_authenticated:
        return _sign_as_user(request, letter, data)
    try:
        services.sign(letter=letter, **data)
    except services.SigningClosed:
        return closed(request, letter)
    return redirect("check_inbox", slug=letter.slug)


def _sign_as_user(request, letter: Letter, data: dict):
    """One-click signing for a signed-in signer: with their verified address no mail is needed."""
    try:
        result = services.sign_as_user(letter=letter, user=request.user, **data)
    except services.SigningClosed:
        return closed(request, letter)
    if result.outcome == services.MAILED:
        return redirect("check_inbox", slug=letter.slug)
    if result.outcome == services.ALREADY:
        return render(
            request,
            "accounts/already_signed.html",
            {"letter": letter, "signature": result.signature},
        )
    return _thanks_after_verify(request, letter, result.receipt)


def check_inbox(request, slug: str):
    letter = public_letter(slug)
    return render(request, "petition/check_inbox.html", {"letter": letter, "form": EmailForm()})


@require_POST
def resend(request, slug: str):
    letter = public_letter(slug)
    form = EmailForm(request.POST)
    if not form.is_valid():
        return render(
            request, "petition/check_inbox.html", {"letter": letter, "form": form}, status=400
        )
    email = form.cleaned_data["email"]
    if not (
        ratelimit.hit("resend-ip", ratelimit.client_ip(request), settings.RESEND_LIMIT)
        and ratelimit.hit("resend-email", addresses.canonical_email(email), settings.RESEND_LIMIT)
    ):
        return too_many(request, letter)
    services.resend(letter=letter, email=email)
    return redirect("check_inbox", slug=letter.slug)


def _signature_from_token(letter: Letter, purpose: str, token: str) -> Signature:
    claim = tokens.read(purpose, token, letter_id=letter.pk)
    signature = (
        Signature.objects.filter(pk=claim.signature_id, letter=letter)
        .select_related("letter")
        .first()
    )
    if (
        signature is None
        or not signature.email_hash
        or not signature.email_hash.startswith(claim.email_hash)
    ):
        # A purged, disowned or withdrawn (and so erased) signature, or a token forged around
        # another address.
        raise tokens.InvalidToken(gettext("This link no longer leads to a signature."))
    if purpose == tokens.MANAGE and claim.generation != signature.link_generation:
        # A change was made since this link was mailed: ask for a new one.
        raise tokens.InvalidToken(gettext("This link has been used: ask for a new one."))
    return signature


def _bad_link(request, letter: Letter, exc: tokens.InvalidToken):
    status = 410 if isinstance(exc, tokens.ExpiredToken) else 400
    return render(
        request, "petition/bad_link.html", {"letter": letter, "message": str(exc)}, status=status
    )


@require_http_methods(["GET", "POST"])
def verify(request, slug: str, token: str):
    letter = public_letter(slug)
    try:
        signature = _signature_from_token(letter, tokens.VERIFY, token)
    except tokens.InvalidToken as exc:
        return _bad_link(request, letter, exc)
    if request.method == "GET":
        # Mail scanners follow links: only the button's POST confirms. The page shows what the
        # click confirms: whoever typed this address chose the name and level.
        context = {
            "letter": letter,
            "signature": signature,
            "level_sentence": LEVEL_HELP[signature.visibility],
        }
        return render(request, "petition/verify_confirm.html", context)
    if request.POST.get("action") == "not-me":
        return _not_me(request, letter, signature)
    if signature.status == Signature.Status.WITHDRAWN:
        return _bad_link(request, letter, tokens.InvalidToken("This signature was withdrawn."))
    if not letter.is_open and signature.status == Signature.Status.PENDING:
        return closed(request, letter)
    signature, receipt = services.verify_by_link(signature_id=signature.pk, user_id=request.user.pk)
    if receipt is not None:
        return _thanks_after_verify(request, letter, receipt)
    return redirect("thanks", slug=letter.slug)


def _not_me(request, letter: Letter, signature: Signature):
    """The "this wasn't me" button: delete the pending signature made with this address. The
    answer says nothing of what was typed; a confirmed one is withdrawn with its manage link."""
    if not services.disown_pending(signature_id=signature.pk):
        message = gettext(
            "This signature is already confirmed: use its manage link to withdraw it."
        )
        return _bad_link(request, letter, tokens.InvalidToken(message))
    return render(request, "petition/not_me.html", {"letter": letter})


def thanks(request, slug: str):
    letter = public_letter(slug)
    return _thanks_page(request, letter, request.session.get(f"receipt:{letter.slug}"))


def _thanks_page(request, letter: Letter, receipt: dict | None):
    share_url = settings.SITE_URL + letter.get_absolute_url()
    return render(
        request,
        "petition/thanks.html",
        {
            "letter": letter,
            "receipt_json": json.dumps(receipt, indent=1) if receipt else "",
            "share_url": share_url,
        },
    )


def _thanks_after_verify(request, letter: Letter, receipt: dict):
    """The thanks page with its receipt. A receipt is never kept in a signed-in session: that
    session row would tie the account to the signature, still there if it later turns private.
    It is shown once, here (and it is in the confirmation mail)."""
    if request.user.is_authenticated:
        return _thanks_page(request, letter, receipt)
    request.session[f"receipt:{letter.slug}"] = receipt
    return redirect("thanks", slug=letter.slug)


@require_http_methods(["GET", "POST"])
def manage(request, slug: str, token: str):
    """What a signer's link opens: withdraw, or move to a more private level. POST only acts."""
    letter = public_letter(slug)
    try:
        signature = _signature_from_token(letter, tokens.MANAGE, token)
    except tokens.InvalidToken as exc:
        return _bad_link(request, letter, exc)
    level_form = reverify_form = None
    # A pending signature keeps the level its address was mailed about until confirmed.
    if signature.status == Signature.Status.VERIFIED and signature.visibility != "private":
        level_form = LevelForm(current=signature.visibility)
    if _may_reverify(signature):
        reverify_form = EmailForm()
    context = {
        "letter": letter,
        "signature": signature,
        "receipt_json": _receipt_json(letter, signature),
    }
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "withdraw":
            services.withdraw(signature_id=signature.pk)
            return render(request, "petition/withdrawn.html", {"letter": letter})
        if action == "level" and level_form is not None:
            level_form = LevelForm(request.POST, current=signature.visibility)
            if level_form.is_valid():
                services.change_level(
                    signature_id=signature.pk, visibility=level_form.cleaned_data["visibility"]
                )
                # This link is spent: the page moves to the signature's fresh one.
                signature.refresh_from_db()
                return redirect(emails.manage_path(signature))
        elif action == "reverify" and reverify_form is not None:
            reverify_form = EmailForm(request.POST)
            if reverify_form.is_valid():
                return _request_reverification(request, letter, signature, reverify_form)
        else:
            raise Http404
    context.update(level_form=level_form, reverify_form=reverify_form)
    return render(
        request, "petition/manage.html", context, status=400 if request.method == "POST" else 200
    )


def _may_reverify(signature: Signature) -> bool:
    """A confirmed signature whose work address was proven once and whose mark has lapsed."""
    return (
        signature.status == Signature.Status.VERIFIED
        and not signature.is_verified_employee
        and signature.employee_verified_at is not None
    )


def _request_reverification(request, letter: Letter, signature: Signature, form: EmailForm):
    email = form.cleaned_data["email"]
    if not (
        ratelimit.hit("manage-ip", ratelimit.client_ip(request), settings.MANAGE_LIMIT)
        and ratelimit.hit("manage-email", addresses.canonical_email(email), settings.MANAGE_LIMIT)
    ):
        return too_many(request, letter)
    services.request_reverification(signature_id=signature.pk, email=email)
    # The same answer whatever was typed: the link is only mailed to the address that signed.
    return render(request, "petition/reverify_sent.html", {"letter": letter})


def _receipt_json(letter: Letter, signature: Signature) -> str:
    """The receipt for the signature's whole history (every level it has had), for its signer."""
    if signature.status != Signature.Status.VERIFIED:
        return ""
    found = tlog.receipt_for_signature(
        letter, public_id=signature.public_id, salts=signature.log_salts
    )
    return json.dumps(found, indent=1) if found else ""


@require_http_methods(["GET", "POST"])
def reverify(request, slug: str, token: str):
    """The link proving a work address again: a GET shows a button, a POST confirms."""
    letter = public_letter(slug)
    try:
        signature = _signature_from_token(letter, tokens.REVERIFY, token)
    except tokens.InvalidToken as exc:
        return _bad_link(request, letter, exc)
    done = signature.is_verified_employee
    if request.method == "POST":
        services.reverify_employee(signature_id=signature.pk)
        signature.refresh_from_db()
        done = signature.is_verified_employee
    return render(
        request,
        "petition/reverify.html",
        {"letter": letter, "done": done, "posted": request.method == "POST"},
    )


@require_http_methods(["GET", "POST"])
def manage_request(request, slug: str):
    """A signer asks for a manage link by typing their address; the answer is always the same."""
    letter = public_letter(slug)
    form = EmailForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(
                request, "petition/manage_request.html", {"letter": letter, "form": form}, 400
            )
        email = form.cleaned_data["email"]
        if not (
            ratelimit.hit("manage-ip", ratelimit.client_ip(request), settings.MANAGE_LIMIT)
            and ratelimit.hit(
                "manage-email", addresses.canonical_email(email), settings.MANAGE_LIMIT
            )
        ):
            return too_many(request, letter)
        services.request_manage_link(letter=letter, email=email)
        return render(request, "petition/manage_sent.html", {"letter": letter})
    return render(request, "petition/manage_request.html", {"letter": letter, "form": form})


@require_http_methods(["GET", "POST"])
def unsubscribe(request, slug: str, token: str):
    """The link in every update: a GET shows a button (mail scanners follow links), a POST stops
    further updates."""
    letter = public_letter(slug)
    try:
        signature = _signature_from_token(letter, tokens.UNSUBSCRIBE, token)
    except tokens.InvalidToken as exc:
        return _bad_link(request, letter, exc)
    done = False
    if request.method == "POST":
        services.unsubscribe(signature_id=signature.pk)
        done = True
    return render(
        request,
        "petition/unsubscribe.html",
        {"letter": letter, "done": done or not signature.wants_updates},
    )
