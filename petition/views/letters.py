"""The home page and a letter's page: its text in the reader's language, its signers a page at
a time, its co-signers, and the sign form. Served from the page cache (petition/pagecache.py)
whenever the request allows."""

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.translation import get_language

from .. import pagecache, translations
from ..forms.signing import SignForm
from ..models import CoSignature, Letter, Signature
from .one_click import account_context, one_click_email, profile_initial


def letter_context(letter: Letter, page_number) -> dict:
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
        # The organisations that co-signed, listed under the signers.
        "cosigners": _cosigners(letter),
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
    context = letter_context(letter, page_number)
    initial = {**profile_initial(request.user), "language": context["text"].language}
    context["form"] = SignForm(
        letter=letter,
        initial=initial,
        one_click_email=one_click_email(request.user),
    )
    context.update(account_context(request, letter))
    context.update(extra)
    return render(request, "petition/letter.html", context)
