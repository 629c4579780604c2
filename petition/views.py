import json

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_http_methods, require_POST

from lib import addresses, ratelimit

from . import emails, pagecache, services, tlog, tokens, translations
from .forms import LEVEL_HELP, EmailForm, LevelForm, SignForm
from .models import CoSignature, Letter, Signature


def _public_letter(slug: str) -> Letter:
    """A letter a visitor may see: open or closed, never a draft."""
    return get_object_or_404(Letter.objects.listed(), slug=slug)


def _letter_context(letter: Letter, page_number) -> dict:
    """What the letter page shows, for a letter from pagecache.listed_letter (its tally and the
    states its fragments are keyed by are on it)."""
    tally = letter.tally
    signers = (
        Signature.objects.listed()
        .filter(letter=letter)
        .order_by("-verified_at", "-pk")
        .only(
            "name",
            "visibility",
            "affiliation",
            "job_title",
            "team",
            "city",
            "show_affiliation",
            "show_job_title",
            "show_team",
            "show_city",
            "is_verified_employee",
            "verified_at",
        )
    )
    # Paginate without COUNT(*) over the signature table: the tally knows how many are listed.
    paginator = Paginator(signers, settings.SIGNERS_PER_PAGE)
    paginator.count = tally.public + tally.anonymous
    page = paginator.get_page(page_number)
    # The reader's language when a current translation exists, else the original.
    texts = translations.texts(letter)
    return {
        "letter": letter,
        "tally": tally,
        "page": page,
        "cosigners": _cosigners(letter),  # issue 4
        "texts": texts,
        "text": texts.get(get_language()) or texts[letter.original_language],
    }


def _cosigners(letter: Letter):
    """The approved co-signers, as the letter's signature block lists them: one query, however
    many. Only what a reader sees is loaded (never an organisation's domains or description)."""
    return (
        CoSignature.objects.listed()
        .filter(letter=letter)
        .in_reading_order()
        .select_related("organisation")
        .only(
            "display_name",
            "statement",
            "organisation__website",
            "organisation__is_verified",
            "organisation__verified_domain",
            "organisation__logo",
        )
    )


def home(request):
    letters = Letter.objects.open().select_related("tally").order_by("-published_at", "-pk")
    return render(request, "petition/home.html", {"letters": letters})


def letter_page(request, slug: str):
    letter = pagecache.listed_letter(slug)
    if pagecache.servable(request):
        tally = letter.tally
        number = pagecache.page_number(request.GET.get("page"), tally.public + tally.anonymous)
        return pagecache.serve(
            request,
            f"letter:{letter.pk}:{number}:{letter.page_state}",
            lambda csrf_token: _render_letter(request, letter, number, csrf_token=csrf_token),
        )
    return pagecache.private(_render_letter(request, letter, request.GET.get("page")))


def _render_letter(request, letter: Letter, page_number, **extra):
    context = _letter_context(letter, page_number)
    initial = {**_profile_initial(request.user), "language": context["text"].language}
    context["form"] = SignForm(
        letter=letter,
        initial=initial,
        one_click_email=_one_click_email(request.user),
    )
    context.update(_account_context(request, letter))
    context.update(extra)
    return render(request, "petition/letter.html", context)


def _too_many(request, letter: Letter | None = None):
    return render(request, "petition/too_many.html", {"letter": letter}, status=429)


@require_POST
def sign(request, slug: str):
    letter = _public_letter(slug)
    if not letter.is_open:
        return render(request, "petition/closed.html", {"letter": letter}, status=403)
    form = SignForm(request.POST, letter=letter, one_click_email=_one_click_email(request.user))
    if not ratelimit.hit("sign-ip", ratelimit.client_ip(request), settings.SIGN_LIMIT_PER_IP):
        return _too_many(request, letter)
    if form.is_bot:
        # Answer a bot as a person, so it learns nothing, and store nothing.
        return redirect("check_inbox", slug=letter.slug)
    if not form.is_valid():
        context = _letter_context(pagecache.listed_letter(slug), None)
        context["form"] = form
        context.update(_account_context(request, letter))
        return render(request, "petition/letter.html", context, status=400)
    email = form.cleaned_data["email"]
    # The per-address limit stops mail to a stranger's inbox; a signed-in signer's own verified
    # address, signing one letter after another, is not one.
    one_click = services.has_verified_email(request.user, email)
    inbox = addresses.canonical_email(email)
    if not one_click and not ratelimit.hit("sign-email", inbox, settings.SIGN_LIMIT_PER_EMAIL):
        return _too_many(request, letter)
    data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
    if request.user.is_authenticated:
        return _sign_as_user(request, letter, data)
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
        and ratelimit.hit("resend-email", addresses.canonical_email(email), settings.RESEND_LIMIT)
    ):
        return _too_many(request, letter)
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
    letter = _public_letter(slug)
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
        return render(request, "petition/closed.html", {"letter": letter}, status=403)
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
    letter = _public_letter(slug)
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


@require_http_methods(["GET", "POST"])
def manage(request, slug: str, token: str):
    """What a signer's link opens: withdraw, or move to a more private level. POST only acts."""
    letter = _public_letter(slug)
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
        return _too_many(request, letter)
    services.request_reverification(signature_id=signature.pk, email=email)
    # The same answer whatever was typed: the link is only mailed to the address that signed.
    return render(request, "petition/reverify_sent.html", {"letter": letter})


@require_http_methods(["GET", "POST"])
def reverify(request, slug: str, token: str):
    """The link proving a work address again: a GET shows a button, a POST confirms."""
    letter = _public_letter(slug)
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


def _receipt_json(letter: Letter, signature: Signature) -> str:
    """The receipt for the signature's whole history (every level it has had), for its signer."""
    if signature.status != Signature.Status.VERIFIED:
        return ""
    found = tlog.receipt_for_signature(
        letter, public_id=signature.public_id, salts=signature.log_salts
    )
    return json.dumps(found, indent=1) if found else ""


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
            and ratelimit.hit(
                "manage-email", addresses.canonical_email(email), settings.MANAGE_LIMIT
            )
        ):
            return _too_many(request, letter)
        services.request_manage_link(letter=letter, email=email)
        return render(request, "petition/manage_sent.html", {"letter": letter})
    return render(request, "petition/manage_request.html", {"letter": letter, "form": form})


# --- Signer accounts (issue 11): one-click signing for signed-in signers -------------------------


def _one_click_email(user) -> str:
    """The address a signed-in user signs with in one click: their verified primary one."""
    if not user.is_authenticated:
        return ""
    address = EmailAddress.objects.filter(user=user, verified=True, primary=True).first()
    return address.email.lower() if address else ""


def _profile_initial(user) -> dict:
    email = _one_click_email(user)
    if not email:
        return {}
    fields = ("name", "affiliation", "job_title", "city")
    return {"email": email, **{field: getattr(user, field) for field in fields}}


def _account_context(request, letter: Letter) -> dict:
    """What the sign section says to a signed-in user: their signature here, if one is linked
    (private ones never are), or how one-click signing and employer verification work."""
    if not request.user.is_authenticated:
        return {}
    email = _one_click_email(request.user)
    return {
        "one_click_email": email,
        "one_click_is_work": bool(email and letter.employer_domain_for(email)),
        "my_signature": Signature.objects.active()
        .filter(letter=letter, user=request.user)
        .only("visibility", "status")
        .first(),
    }


def _sign_as_user(request, letter: Letter, data: dict):
    try:
        result = services.sign_as_user(letter=letter, user=request.user, **data)
    except services.SigningClosed:
        return render(request, "petition/closed.html", {"letter": letter}, status=403)
    if result.outcome == services.MAILED:
        return redirect("check_inbox", slug=letter.slug)
    if result.outcome == services.ALREADY:
        return render(
            request,
            "accounts/already_signed.html",
            {"letter": letter, "signature": result.signature},
        )
    return _thanks_after_verify(request, letter, result.receipt)


def _thanks_after_verify(request, letter: Letter, receipt: dict):
    """The thanks page with its receipt. A receipt is never kept in a signed-in session: that
    session row would tie the account to the signature, still there if it later turns private.
    It is shown once, here (and it is in the confirmation mail)."""
    if request.user.is_authenticated:
        return _thanks_page(request, letter, receipt)
    request.session[f"receipt:{letter.slug}"] = receipt
    return redirect("thanks", slug=letter.slug)


# --- Tally page and embeddable widget (issue 6) ------------------------------------------------

from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.html import format_html  # noqa: E402
from django.views.decorators.clickjacking import xframe_options_exempt  # noqa: E402
from django.views.decorators.csp import csp_override  # noqa: E402

from lib import charts  # noqa: E402

from . import api  # noqa: E402
from .models import Organiser  # noqa: E402

LATEST_SIGNERS = 10
LATEST_COSIGNERS = 20
# The widget is made to be framed by any site; every other page stays unframeable.
WIDGET_CSP = {**settings.SECURE_CSP, "frame-ancestors": ["*"]}


def _listed_letter_with_tally(slug: str) -> Letter:
    return get_object_or_404(Letter.objects.listed().select_related("tally"), slug=slug)


def tally(request, slug: str):
    """The count, progress, chart, breakdown and latest signers. A fixed number of queries
    whatever the number of signatures: everything is read from the tally rows."""
    letter = pagecache.listed_letter(slug)
    # The chart runs to today while the letter is open: a new day is a new page.
    end = timezone.now().date() if letter.is_open else (letter.closed_at or timezone.now()).date()
    if pagecache.servable(request):
        return pagecache.serve(
            request,
            f"tally:{letter.pk}:{end}:{letter.page_state}",
            lambda csrf_token: _render_tally(request, letter, end, csrf_token=csrf_token),
        )
    return pagecache.private(_render_tally(request, letter, end))


def _render_tally(request, letter: Letter, end, **extra):
    counts = api.counts(letter)
    days = list(letter.daily_tallies.values_list("day", "change"))
    is_organiser = (
        request.user.is_authenticated
        and Organiser.objects.filter(letter=letter, user=request.user).exists()
    )
    context = {
        "letter": letter,
        "counts": counts,
        "tally": counts["counts"],
        "percent": _percent(counts["counts"]["verified"], letter.goal),
        "chart": charts.signatures_svg(days, end=end),
        "days": _day_rows(days),
        "latest": [api.signature_entry(s) for s in api.listed_signatures(letter)[:LATEST_SIGNERS]],
        "cosigners": list(
            api.listed_cosignatures(letter).values_list("display_name", flat=True)[
                :LATEST_COSIGNERS
            ]
        ),
        "is_organiser": is_organiser,
        "embed_code": format_html(
            '<iframe src="{}" title="{}" width="320" height="180" loading="lazy"></iframe>',
            settings.SITE_URL + reverse("widget", kwargs={"slug": letter.slug}),
            f"Signatures: {letter.title}",
        ),
        "counts_url": reverse("api_counts", kwargs={"slug": letter.slug}),
        "share_url": settings.SITE_URL + reverse("tally", kwargs={"slug": letter.slug}),
        **extra,
    }
    return render(request, "petition/tally.html", context)


def _day_rows(days: list) -> list[dict]:
    """The chart's numbers as a table, newest day first."""
    changes = dict(days)
    rows = [
        {"day": day, "change": changes[day], "total": total}
        for day, total in charts.cumulative(days)
    ]
    return rows[::-1]


def _percent(verified: int, goal: int | None) -> int | None:
    return verified * 100 // goal if goal else None


@xframe_options_exempt
@csp_override(WIDGET_CSP)
def widget(request, slug: str):
    """The count and the goal, for organisers to embed in other sites with an iframe."""
    letter = _listed_letter_with_tally(slug)
    verified = api.tally_of(letter).verified
    context = {
        "letter": letter,
        "verified": verified,
        "percent": _percent(verified, letter.goal),
        "letter_url": settings.SITE_URL + letter.get_absolute_url(),
        "counts_url": reverse("api_counts", kwargs={"slug": letter.slug}),
    }
    return render(request, "petition/widget.html", context)


# --- Organiser workspace (issue 5): the text's versions, and stopping updates -----------------

from django.core.cache import cache  # noqa: E402

from lib import params  # noqa: E402
from lib.linediff import changes as _compute_diff  # noqa: E402

from .models import LetterTranslation, LetterVersion, render_markdown  # noqa: E402
from .worddiff import MARK  # noqa: E402
from .worddiff import changes as _compute_word_diff  # noqa: E402

# Rendering the largest, worst text allowed costs about 0.4 s of CPU (Markdown); a page renders
# at most this many once, and every later reader gets them from the cache.
VERSIONS_PER_PAGE = 3


def _diff(before: LetterVersion, after: LetterVersion) -> list[tuple[str, str]]:
    """What changed from one version to the next, computed once per pair: versions never change,
    so the pair's ids are the key for good (the cache fails soft: down, it is a miss)."""
    key = f"versions-diff:{before.pk}:{after.pk}"
    found = cache.get(key)
    if found is None:
        old = [f"# {before.title}", "", *before.body.splitlines()]
        new = [f"# {after.title}", "", *after.body.splitlines()]
        found = _compute_diff(old, new)
        cache.set(key, found, timeout=None)
    return found


def _word_diff(before: LetterVersion, after: LetterVersion) -> str:
    """The newer version's text with the words added and removed since the older marked,
    computed once per pair like _diff; the screen-reader words are added per request, in the
    reader's language."""
    key = f"versions-worddiff:{before.pk}:{after.pk}"
    found = cache.get(key)
    if found is None:
        old, new = _titled_html(before), _titled_html(after)
        found = "" if old == new else _compute_word_diff(old, new)
        cache.set(key, found, timeout=None)
    for tag, words in (("ins", gettext("added: ")), ("del", gettext("removed: "))):
        spoken = format_html(
            '<{} class="{}"><span class="visually-hidden">{}</span>', tag, MARK, words
        )
        found = found.replace(f'<{tag} class="{MARK}">', spoken)
    return found


def _titled_html(version: LetterVersion) -> str:
    return format_html("<h3>{}</h3>", version.title) + _version_html(version)


def _version_html(version: LetterVersion) -> str:
    """A version's text as HTML, rendered once for all processes: versions never change."""
    key = f"versions-html:{version.pk}"
    html = cache.get(key)
    if html is None:
        html = render_markdown(version.body)
        cache.set(key, html, timeout=None)
    return html


def letter_versions(request, slug: str):
    """The history of a letter's text, newest first, a few versions a page: each version, how
    many signed it, and what changed from the one before."""
    letter = _public_letter(slug)
    newest = letter.versions.order_by("-number")
    total = newest.count()
    pages = max(1, -(-total // VERSIONS_PER_PAGE))
    number = params.page(request.GET.get("page"), last=pages)
    start = (number - 1) * VERSIONS_PER_PAGE
    # One more than shown: the oldest shown needs the version before it for its diff.
    versions = list(newest[start : start + VERSIONS_PER_PAGE + 1])
    # The word diff of the rendered text by default; the line diff of the Markdown on request.
    view = "lines" if request.GET.get("view") == "lines" else "words"
    compare = _diff if view == "lines" else _word_diff
    # Each language's history: every translation of each version shown, newest first.
    translated: dict[int, list] = {}
    for row in LetterTranslation.objects.filter(version__in=versions).order_by("-id"):
        row.language_name = translations.language_name(row.language)
        translated.setdefault(row.version_id, []).append(row)
    history = [
        {
            "version": version,
            "html": _version_html(version),
            "changes": compare(versions[n + 1], version) if n + 1 < len(versions) else None,
            "translations": translated.get(version.pk, []),
        }
        for n, version in enumerate(versions[:VERSIONS_PER_PAGE])
    ]
    return render(
        request,
        "petition/versions.html",
        {
            "letter": letter,
            "history": history,
            "page": number,
            "pages": pages,
            "current": total,
            "original_language_name": translations.language_name(letter.original_language),
            "view": view,
        },
    )


@require_http_methods(["GET", "POST"])
def unsubscribe(request, slug: str, token: str):
    """The link in every update: a GET shows a button (mail scanners follow links), a POST stops
    further updates."""
    letter = _public_letter(slug)
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


# --- Not found (issue 8: abuse, faults and bad input) ------------------------------------------


def not_found(request, exception=None):
    """handler404: the API answers in JSON, as its schema says, even for a path that matches no
    route (a malformed slug, say); every other page gets the site's own 404."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"error": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
