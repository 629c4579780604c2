from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from . import ratelimit, services, tokens
from .forms import EmailForm, LevelForm, SignForm
from .models import Letter, Signature, Tally


def _public_letter(slug: str) -> Letter:
    """A letter a visitor may see: open or closed, never a draft."""
    return get_object_or_404(Letter.objects.listed(), slug=slug)


def _letter_context(letter: Letter, page_number) -> dict:
    tally = Tally.objects.filter(letter=letter).first() or Tally(letter=letter)
    signers = (
        Signature.objects.listed()
        .filter(letter=letter)
        .order_by("-verified_at", "-pk")
        .only(
            "name", "visibility", "affiliation", "job_title", "team", "city", "show_affiliation",
            "show_job_title", "show_team", "show_city", "is_verified_employee", "verified_at",
        )
    )
    # Paginate without COUNT(*) over the signature table: the tally knows how many are listed.
    paginator = Paginator(signers, settings.SIGNERS_PER_PAGE)
    paginator.count = tally.public + tally.anonymous
    page = paginator.get_page(page_number)
    return {"letter": letter, "tally": tally, "page": page}


def home(request):
    letters = Letter.objects.open().select_related("tally").order_by("-published_at", "-pk")
    return render(request, "petition/home.html", {"letters": letters})


def letter_page(request, slug: str):
    letter = _public_letter(slug)
    context = _letter_context(letter, request.GET.get("page"))
    context["form"] = SignForm(letter=letter)
    return render(request, "petition/letter.html", context)


def _too_many(request, letter: Letter | None = None):
    return render(request, "petition/too_many.html", {"letter": letter}, status=429)


@require_POST
def sign(request, slug: str):
    letter = _public_letter(slug)
    if not letter.is_open:
        return render(request, "petition/closed.html", {"letter": letter}, status=403)
    form = SignForm(request.POST, letter=letter)
    if not ratelimit.hit("sign-ip", ratelimit.client_ip(request), settings.SIGN_LIMIT_PER_IP):
        return _too_many(request, letter)
    if form.is_bot:
        # Answer a bot as a person, so it learns nothing, and store nothing.
        return redirect("check_inbox", slug=letter.slug)
    if not form.is_valid():
        context = _letter_context(letter, None)
        context["form"] = form
        return render(request, "petition/letter.html", context, status=400)
    email = form.cleaned_data["email"]
    if not ratelimit.hit("sign-email", email, settings.SIGN_LIMIT_PER_EMAIL):
        return _too_many(request, letter)
    data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
    try:
        services.sign(letter=letter, **data)
    except services.SigningClosed:
        return render(request, "petition/closed.html", {"letter": letter}, status=403)
    return redirect("check_inbox", slug=letter.slug)


def check_inbox(request, slug: str):
    letter = _public_letter(slug)
    return render(request, "petition/check_inbox.html", {"letter": letter, "form": EmailForm()})


@require_POST
def resend(request, slug: str):
    letter = _public_letter(slug)
    form = EmailForm(request.POST)
    if not form.is_valid():
        return render(
            request, "petition/check_inbox.html", {"letter": letter, "form": form}, status=400
        )
    email = form.cleaned_data["email"]
    if not (
        ratelimit.hit("resend-ip", ratelimit.client_ip(request), settings.RESEND_LIMIT)
        and ratelimit.hit("resend-email", email, settings.RESEND_LIMIT)
    ):
        return _too_many(request, letter)
    services.resend(letter=letter, email=email)
    return redirect("check_inbox", slug=letter.slug)


def _signature_from_token(letter: Letter, purpose: str, token: str) -> Signature:
    claim = tokens.read(purpose, token, letter_id=letter.pk)
    signature = Signature.objects.filter(pk=claim.signature_id, letter=letter).first()
    if signature is None or not signature.email_hash.startswith(claim.email_hash):
        # A purged or withdrawn-and-deleted signature, or a token forged around another address.
        raise tokens.InvalidToken("This link no longer leads to a signature.")
    return signature


def _bad_link(request, letter: Letter, exc: tokens.InvalidToken):
    status = 410 if isinstance(exc, tokens.ExpiredToken) else 400
    return render(
        request, "petition/bad_link.html", {"letter": letter, "message": str(exc)}, status=status
    )


@require_http_methods(["GET", "POST"])
def verify(request, slug: str, token: str):
    letter = _public_letter(slug)
    try:
        signature = _signature_from_token(letter, tokens.VERIFY, token)
    except tokens.InvalidToken as exc:
        return _bad_link(request, letter, exc)
    if request.method == "GET":
        # Mail scanners follow links: only the button's POST confirms.
        return render(
            request, "petition/verify_confirm.html", {"letter": letter, "signature": signature}
        )
    if signature.status == Signature.Status.WITHDRAWN:
        return _bad_link(request, letter, tokens.InvalidToken("This signature was withdrawn."))
    if not letter.is_open and signature.status == Signature.Status.PENDING:
        return render(request, "petition/closed.html", {"letter": letter}, status=403)
    signature, receipt = services.verify(signature_id=signature.pk)
    if receipt is not None:
        request.session[f"receipt:{letter.slug}"] = receipt
    return redirect("thanks", slug=letter.slug)


def thanks(request, slug: str):
    letter = _public_letter(slug)
    receipt = request.session.get(f"receipt:{letter.slug}")
    share_url = settings.SITE_URL + letter.get_absolute_url()
    return render(
        request,
        "petition/thanks.html",
        {"letter": letter, "receipt": receipt, "share_url": share_url},
    )


@require_http_methods(["GET", "POST"])
def manage(request, slug: str, token: str):
    """What a signer's link opens: withdraw, or move to a more private level. POST only acts."""
    letter = _public_letter(slug)
    try:
        signature = _signature_from_token(letter, tokens.MANAGE, token)
    except tokens.InvalidToken as exc:
        return _bad_link(request, letter, exc)
    level_form = None
    if signature.status != Signature.Status.WITHDRAWN and signature.visibility != "private":
        level_form = LevelForm(current=signature.visibility)
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
                return redirect(request.path)
        else:
            raise Http404
    return render(
        request,
        "petition/manage.html",
        {"letter": letter, "signature": signature, "level_form": level_form},
        status=400 if request.method == "POST" else 200,
    )


@require_http_methods(["GET", "POST"])
def manage_request(request, slug: str):
    """A signer asks for a manage link by typing their address; the answer is always the same."""
    letter = _public_letter(slug)
    form = EmailForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(
                request, "petition/manage_request.html", {"letter": letter, "form": form}, 400
            )
        email = form.cleaned_data["email"]
        if not (
            ratelimit.hit("manage-ip", ratelimit.client_ip(request), settings.MANAGE_LIMIT)
            and ratelimit.hit("manage-email", email, settings.MANAGE_LIMIT)
        ):
            return _too_many(request, letter)
        services.request_manage_link(letter=letter, email=email)
        return render(request, "petition/manage_sent.html", {"letter": letter})
    return render(request, "petition/manage_request.html", {"letter": letter, "form": form})


