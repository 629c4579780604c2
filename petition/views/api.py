"""The public, read-only JSON API under /api/ (routes in petition/api_urls.py, described in the
OpenAPI document of views/openapi.py).

It shows what a visitor could read on the pages and nothing more (PRODUCT.md, "Visibility"):
a public signer's name and the details they ticked, "Anonymous" and the ticked details for an
anonymous one, and private signers only in the counts. Counts come from the Tally kept by the
write paths: no request here counts rows of the signature table.
"""

import functools

from django.conf import settings
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt

from ..models import CoSignature, Letter
from .common import tally_of
from .openapi import openapi_document
from .public_reads import (
    COUNTS_CACHE_SECONDS,
    cached_counts,
    employers,
    listed_cosignatures,
    listed_signatures,
    signature_entry,
    tally_counts,
)

LETTERS_PER_PAGE = 50
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
NOT_FOUND = "No such letter."


# --- plumbing ----------------------------------------------------------------------------------


def _json(data, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def _error(status: int, message: str) -> JsonResponse:
    return _json({"error": message}, status=status)


def public_get(view):
    """Read-only, readable from any origin: GET and HEAD answered with
    `Access-Control-Allow-Origin: *` (no credentials: cookies are never used cross-origin), a
    CORS preflight answered, any other method refused with a 405 (exempt from CSRF for that:
    nothing here changes state, so a forged request has nothing to forge)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response["Access-Control-Max-Age"] = "86400"
        elif request.method in ("GET", "HEAD"):
            response = view(request, *args, **kwargs)
        else:
            response = _error(405, "This API is read-only.")
        if response.status_code == 405 or request.method == "OPTIONS":
            response["Allow"] = ALLOWED_METHODS
        response["Access-Control-Allow-Origin"] = "*"
        return response

    return wrapper


def _page(request, paginator: Paginator, route: str, **kwargs):
    """The requested page, or an error response; `next`/`previous` are absolute links."""
    try:
        page = paginator.page(request.GET.get("page", 1))
    except PageNotAnInteger:
        return None, _error(400, "page must be a whole number.")
    except EmptyPage:
        return None, _error(404, "No such page.")
    base = settings.SITE_URL + reverse(route, kwargs=kwargs)

    def link(number):
        return f"{base}?page={number}"

    meta = {
        "count": paginator.count,
        "page": page.number,
        "pages": paginator.num_pages,
        "next": link(page.next_page_number()) if page.has_next() else None,
        "previous": link(page.previous_page_number()) if page.has_previous() else None,
    }
    return (page, meta), None


def _letter_summary(letter: Letter) -> dict:
    return {
        "slug": letter.slug,
        "title": letter.title,
        "addressee": letter.addressee,
        "status": letter.status,
        "goal": letter.goal,
        "deadline": letter.deadline,
        "published_at": letter.published_at,
        "closed_at": letter.closed_at,
        "url": settings.SITE_URL + letter.get_absolute_url(),
        "tally_url": settings.SITE_URL + reverse("tally", kwargs={"slug": letter.slug}),
        "counts": tally_counts(tally_of(letter)),
    }


def _listed_letter(slug: str) -> Letter | None:
    return Letter.objects.listed().select_related("tally").filter(slug=slug).first()


def cosigner_entry(cosignature: CoSignature) -> dict:
    """An approved co-signature as listed: the organisation's public face only (its name as
    listed, website and verified mark with the one domain it proved; never its members, other
    domains or who asked). The website only on the proven domain."""
    organisation = cosignature.organisation
    proven = organisation.verified_domain if organisation.is_verified else ""
    return {
        "name": cosignature.display_name,
        "website": organisation.public_website or None,
        "verified": organisation.is_verified,
        "verified_domain": proven or None,
        "signed_on": cosignature.decided_at.date() if cosignature.decided_at else None,
    }


# --- views -------------------------------------------------------------------------------------


@public_get
def letter_list(request):
    letters = Letter.objects.listed().select_related("tally").order_by("-published_at", "-pk")
    found, error = _page(request, Paginator(letters, LETTERS_PER_PAGE), "api_letters")
    if error:
        return error
    page, meta = found
    return _json({**meta, "results": [_letter_summary(letter) for letter in page]})


@public_get
def letter_detail(request, slug: str):
    letter = _listed_letter(slug)
    if letter is None:
        return _error(404, NOT_FOUND)
    return _json({**_letter_summary(letter), "body": letter.body, "employers": employers(letter)})


@public_get
@cache_control(public=True, max_age=COUNTS_CACHE_SECONDS)
def letter_counts(request, slug: str):
    payload = cached_counts(slug)
    if payload is None:
        return _error(404, NOT_FOUND)
    return _json(payload)


@public_get
def signature_list(request, slug: str):
    letter = _listed_letter(slug)
    if letter is None:
        return _error(404, NOT_FOUND)
    paginator = Paginator(listed_signatures(letter), settings.SIGNERS_PER_PAGE)
    # No COUNT(*) over the signature table: the tally knows how many are listed.
    tally = tally_of(letter)
    paginator.count = tally.public + tally.anonymous
    found, error = _page(request, paginator, "api_signatures", slug=letter.slug)
    if error:
        return error
    page, meta = found
    return _json({**meta, "results": [signature_entry(s) for s in page.object_list]})


@public_get
def cosigner_list(request, slug: str):
    letter = _listed_letter(slug)
    if letter is None:
        return _error(404, NOT_FOUND)
    cosignatures = listed_cosignatures(letter).only(
        "display_name",
        "decided_at",
        "organisation__website",
        "organisation__is_verified",
        "organisation__verified_domain",
    )
    paginator = Paginator(cosignatures, settings.SIGNERS_PER_PAGE)
    paginator.count = tally_of(letter).cosigners
    found, error = _page(request, paginator, "api_cosigners", slug=letter.slug)
    if error:
        return error
    page, meta = found
    return _json({**meta, "results": [cosigner_entry(c) for c in page.object_list]})


@public_get
def openapi(request):
    return _json(openapi_document())
