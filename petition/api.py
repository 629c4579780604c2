"""The public, read-only JSON API under /api/, and its OpenAPI 3.1 document.

It shows what a visitor could read on the pages and nothing more (PRODUCT.md, "Visibility"):
a public signer's name and the details they ticked, "Anonymous" and the ticked details for an
anonymous one, and private signers only in the counts. Counts come from the Tally kept by the
write paths: no request here counts rows of the signature table.

The routes are at the end of this module (`urlpatterns`, included under api/ by config/urls.py);
each one is described in PATHS, and a test checks that every route is.
"""

import functools
import logging

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import HttpResponse, JsonResponse
from django.urls import path, reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt

from .models import CoSignature, Letter, Signature, Tally

logger = logging.getLogger(__name__)

# The live tally polls every ~2 s: one DB read per letter per this many seconds, whatever the
# number of readers.
COUNTS_CACHE_SECONDS = 2
LETTERS_PER_PAGE = 50
DETAILS = ("job_title", "team", "affiliation", "city")
ALLOWED_METHODS = "GET, HEAD, OPTIONS"


# --- reads shared with the tally page ----------------------------------------------------------


def tally_of(letter: Letter) -> Tally:
    """The letter's Tally (select_related("tally") makes this free), or zeros before the first."""
    try:
        return letter.tally
    except Tally.DoesNotExist:
        return Tally(letter=letter)


def tally_counts(tally: Tally) -> dict:
    return {
        "verified": tally.verified,
        "public": tally.public,
        "anonymous": tally.anonymous,
        "private": tally.private,
        "employees": tally.employees,
        "cosigners": tally.cosigners,
    }


def employers(letter: Letter) -> list[dict]:
    """Verified employees per employer domain: the letter's domains (zero included), and any
    domain that still counts someone after the organisers changed the list."""
    found = dict(letter.domain_tallies.filter(count__gt=0).values_list("domain", "count"))
    for domain in letter.domains:
        found.setdefault(domain, 0)
    ordered = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return [{"domain": domain, "count": count} for domain, count in ordered]


def counts(letter: Letter) -> dict:
    """Everything the live tally shows, read from the Tally and DomainTally rows."""
    tally = tally_of(letter)
    return {
        "letter": letter.slug,
        "status": letter.status,
        "goal": letter.goal,
        "counts": tally_counts(tally),
        "employers": employers(letter),
        "updated_at": tally.updated_at,
    }


def cached_counts(slug: str) -> dict | None:
    """counts() for a listed letter, from the cache for a couple of seconds; None if no such
    letter. A cache that is down only costs the DB read: the answer is served all the same."""
    if len(slug) > Letter._meta.get_field("slug").max_length:
        return None  # no letter has such a slug; and the cache key stays short
    key = f"tally:counts:{slug}"
    cache_up = True
    try:
        payload = cache.get(key)
    except Exception:  # noqa: BLE001 - any cache failure falls back to the database
        logger.warning("counts cache unavailable, reading the database")
        payload, cache_up = None, False
    if payload is not None:
        return payload
    letter = Letter.objects.listed().select_related("tally").filter(slug=slug).first()
    if letter is None:
        return None
    payload = counts(letter)
    if cache_up:
        try:
            cache.set(key, payload, COUNTS_CACHE_SECONDS)
        except Exception:  # noqa: BLE001
            logger.warning("counts cache unavailable, not stored")
    return payload


def signature_entry(signature: Signature) -> dict:
    """One listed signature as the public may see it. Never called for a private one (they are
    not listed); a name only for the public level; only the details the signer ticked."""
    return {
        "name": signature.display_name,
        "level": signature.visibility,
        "details": {
            field: getattr(signature, field)
            for field in DETAILS
            if getattr(signature, f"show_{field}") and getattr(signature, field)
        },
        "verified_employee": signature.is_verified_employee,
        "signed_on": signature.verified_at.date() if signature.verified_at else None,
    }


def listed_signatures(letter: Letter):
    """The public and anonymous entries of a letter, newest first (the sig_listed_idx order)."""
    return (
        Signature.objects.listed()
        .filter(letter=letter)
        .order_by("-verified_at", "-pk")
        .only(
            "name", "visibility", "verified_at", "is_verified_employee",
            *DETAILS, *(f"show_{field}" for field in DETAILS),
        )
    )  # fmt: skip


def listed_cosignatures(letter: Letter):
    """Approved co-signatures, pinned first, then in reading order (as under the letter)."""
    return (
        CoSignature.objects.listed()
        .filter(letter=letter)
        .in_reading_order()
        .select_related("organisation")
    )


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


NOT_FOUND = "No such letter."


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


# --- the OpenAPI document ----------------------------------------------------------------------


def _nullable(schema: dict) -> dict:
    return {**schema, "type": [schema["type"], "null"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _paged(item: str) -> dict:
    return {
        "type": "object",
        "required": ["count", "page", "pages", "next", "previous", "results"],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 1},
            "next": _nullable({"type": "string", "format": "uri"}),
            "previous": _nullable({"type": "string", "format": "uri"}),
            "results": {"type": "array", "items": _ref(item)},
        },
        "additionalProperties": False,
    }


DATETIME = {"type": "string", "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Counts": {
        "type": "object",
        "description": "Only verified, non-withdrawn, non-hidden signatures count.",
        "required": ["verified", "public", "anonymous", "private", "employees", "cosigners"],
        "properties": {
            "verified": {**COUNT, "description": "Every counted signature."},
            "public": COUNT,
            "anonymous": COUNT,
            "private": {**COUNT, "description": "Counted, never listed."},
            "employees": {**COUNT, "description": "Verified employees, at any level."},
            "cosigners": {**COUNT, "description": "Approved organisations."},
        },
        "additionalProperties": False,
    },
    "Employer": {
        "type": "object",
        "required": ["domain", "count"],
        "properties": {"domain": {"type": "string"}, "count": COUNT},
        "additionalProperties": False,
    },
    "LetterSummary": {
        "type": "object",
        "required": [
            "slug",
            "title",
            "addressee",
            "status",
            "goal",
            "deadline",
            "published_at",
            "closed_at",
            "url",
            "tally_url",
            "counts",
        ],
        "properties": {
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "addressee": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "goal": _nullable({"type": "integer", "minimum": 1}),
            "deadline": _nullable(DATETIME),
            "published_at": _nullable(DATETIME),
            "closed_at": _nullable(DATETIME),
            "url": {"type": "string", "format": "uri"},
            "tally_url": {"type": "string", "format": "uri"},
            "counts": _ref("Counts"),
        },
    },  # fmt: skip
    "Letter": {
        "allOf": [
            _ref("LetterSummary"),
            {
                "type": "object",
                "required": ["body", "employers"],
                "properties": {
                    "body": {"type": "string", "description": "The text, in Markdown."},
                    "employers": {"type": "array", "items": _ref("Employer")},
                },
            },
        ]
    },
    "LetterCounts": {
        "type": "object",
        "required": ["letter", "status", "goal", "counts", "employers", "updated_at"],
        "properties": {
            "letter": {"type": "string", "description": "The letter's slug."},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "goal": _nullable({"type": "integer", "minimum": 1}),
            "counts": _ref("Counts"),
            "employers": {"type": "array", "items": _ref("Employer")},
            "updated_at": _nullable(DATETIME),
        },
        "additionalProperties": False,
    },
    "Signature": {
        "type": "object",
        "description": (
            "A listed signature. Public signers are shown by name, anonymous ones as "
            '"Anonymous"; either with only the details they chose to show. Private '
            "signatures are never listed: they are in the counts only."
        ),
        "required": ["name", "level", "details", "verified_employee", "signed_on"],
        "properties": {
            "name": {"type": "string"},
            "level": {"type": "string", "enum": ["public", "anonymous"]},
            "details": {
                "type": "object",
                "properties": {field: {"type": "string"} for field in DETAILS},
                "additionalProperties": False,
            },
            "verified_employee": {"type": "boolean"},
            "signed_on": _nullable({"type": "string", "format": "date"}),
        },
        "additionalProperties": False,
    },
    "CoSigner": {
        "type": "object",
        "description": "An organisation whose co-signature the organisers approved.",
        "required": ["name", "website", "verified", "verified_domain", "signed_on"],
        "properties": {
            "name": {"type": "string", "description": "The organisation's name as listed."},
            "website": _nullable(
                {
                    "type": "string",
                    "format": "uri",
                    "description": "Only when it is on the verified domain.",
                }
            ),
            "verified": {
                "type": "boolean",
                "description": (
                    "The organisation proved it controls verified_domain, and nothing more: the "
                    "name is not checked by this mark."
                ),
            },
            "verified_domain": _nullable(
                {
                    "type": "string",
                    "description": "The domain the organisation proved it controls.",
                }
            ),
            "signed_on": _nullable({"type": "string", "format": "date"}),
        },
        "additionalProperties": False,
    },
    "LetterPage": _paged("LetterSummary"),
    "SignaturePage": _paged("Signature"),
    "CoSignerPage": _paged("CoSigner"),
}

SLUG = {
    "name": "slug",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
}
PAGE = {
    "name": "page",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "default": 1},
}
NOT_FOUND_RESPONSE = _json_response("No such letter (or page).", _ref("Error"))
BAD_PAGE_RESPONSE = _json_response("The page is not a whole number.", _ref("Error"))

# One entry per route; add yours here (the test in tests/petition/test_api.py checks both ways).
PATHS = {
    "/api/letters": {
        "get": {
            "operationId": "listLetters",
            "summary": "Letters open or closed for signatures, newest first",
            "parameters": [PAGE],
            "responses": {
                "200": _json_response("A page of letters.", _ref("LetterPage")),
                "400": BAD_PAGE_RESPONSE,
                "404": NOT_FOUND_RESPONSE,
            },
        }
    },
    "/api/letters/{slug}": {
        "get": {
            "operationId": "getLetter",
            "summary": "A letter: its text and counts",
            "parameters": [SLUG],
            "responses": {
                "200": _json_response("The letter.", _ref("Letter")),
                "404": NOT_FOUND_RESPONSE,
            },
        }
    },
    "/api/letters/{slug}/counts": {
        "get": {
            "operationId": "getCounts",
            "summary": "A letter's counts (cached for a couple of seconds; cheap to poll)",
            "parameters": [SLUG],
            "responses": {
                "200": _json_response("The counts.", _ref("LetterCounts")),
                "404": NOT_FOUND_RESPONSE,
            },
        }
    },
    "/api/letters/{slug}/signatures": {
        "get": {
            "operationId": "listSignatures",
            "summary": "Public and anonymous signatures, newest first",
            "parameters": [SLUG, PAGE],
            "responses": {
                "200": _json_response("A page of signatures.", _ref("SignaturePage")),
                "400": BAD_PAGE_RESPONSE,
                "404": NOT_FOUND_RESPONSE,
            },
        }
    },
    "/api/letters/{slug}/cosigners": {
        "get": {
            "operationId": "listCoSigners",
            "summary": "Organisations that co-signed, pinned ones first, then alphabetically",
            "parameters": [SLUG, PAGE],
            "responses": {
                "200": _json_response("A page of co-signers.", _ref("CoSignerPage")),
                "400": BAD_PAGE_RESPONSE,
                "404": NOT_FOUND_RESPONSE,
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}


# --- The public log (issue 10): petition/log_views.py, routes in petition/log_urls.py -----------

SCHEMAS["LogEntries"] = {
    "type": "object",
    "required": ["entries"],
    "properties": {
        "entries": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["index", "data"],
                "properties": {
                    "index": COUNT,
                    "data": {
                        "type": "string",
                        "contentEncoding": "base64",
                        "description": "The entry's bytes: canonical JSON (UTF-8, sorted keys).",
                    },
                },
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}
HASHES = {"type": "array", "items": {"type": "string", "contentEncoding": "base64"}}
SCHEMAS["InclusionProof"] = {
    "type": "object",
    "required": ["index", "size", "path"],
    "properties": {"index": COUNT, "size": COUNT, "path": HASHES},
    "additionalProperties": False,
}
SCHEMAS["ConsistencyProof"] = {
    "type": "object",
    "required": ["from", "to", "path"],
    "properties": {"from": COUNT, "to": COUNT, "path": HASHES},
    "additionalProperties": False,
}


def _query(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 0},
    }


def _text_response(description: str) -> dict:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


BAD_LOG_PARAMETER = _json_response("A parameter is missing or out of range.", _ref("Error"))
PATHS.update(
    {
        "/api/log/key": {
            "get": {
                "operationId": "getLogKey",
                "summary": "The site's log verifier key, one line in the signed-note vkey format",
                "responses": {"200": _text_response("name+keyid+base64(0x01 || Ed25519 key)")},
            }
        },
        "/api/letters/{slug}/log/checkpoint": {
            "get": {
                "operationId": "getLogCheckpoint",
                "summary": "The latest signed checkpoint (C2SP tlog-checkpoint, signed note)",
                "parameters": [SLUG],
                "responses": {
                    "200": _text_response("The signed checkpoint."),
                    "404": NOT_FOUND_RESPONSE,
                },
            }
        },
        "/api/letters/{slug}/log/entries": {
            "get": {
                "operationId": "getLogEntries",
                "summary": "Entries start <= index < end, at most 1,000 a page",
                "parameters": [
                    SLUG,
                    _query("start", "first index"),
                    _query("end", "past the last"),
                ],
                "responses": {
                    "200": _json_response("The entries.", _ref("LogEntries")),
                    "400": BAD_LOG_PARAMETER,
                    "404": NOT_FOUND_RESPONSE,
                },
            }
        },
        "/api/letters/{slug}/log/inclusion": {
            "get": {
                "operationId": "getLogInclusionProof",
                "summary": "RFC 6962 audit path of entry `index` in the tree of `size` entries",
                "parameters": [SLUG, _query("index", "the entry"), _query("size", "tree size")],
                "responses": {
                    "200": _json_response("The proof.", _ref("InclusionProof")),
                    "400": BAD_LOG_PARAMETER,
                    "404": NOT_FOUND_RESPONSE,
                },
            }
        },
        "/api/letters/{slug}/log/consistency": {
            "get": {
                "operationId": "getLogConsistencyProof",
                "summary": "RFC 6962 consistency proof between tree sizes `from` and `to`",
                "parameters": [SLUG, _query("from", "older size"), _query("to", "newer size")],
                "responses": {
                    "200": _json_response("The proof.", _ref("ConsistencyProof")),
                    "400": BAD_LOG_PARAMETER,
                    "404": NOT_FOUND_RESPONSE,
                },
            }
        },
    }
)


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Undersigned public API",
            "version": "1",
            "description": (
                "Read-only. Every endpoint answers GET from any origin (CORS), without "
                "credentials. It shows what the public pages show and nothing more."
            ),
        },
        "servers": [{"url": settings.SITE_URL}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }


# --- routes (included under api/ by config/urls.py) --------------------------------------------

urlpatterns = [
    path("letters", letter_list, name="api_letters"),
    path("letters/<slug:slug>", letter_detail, name="api_letter"),
    path("letters/<slug:slug>/counts", letter_counts, name="api_counts"),
    path("letters/<slug:slug>/signatures", signature_list, name="api_signatures"),
    path("letters/<slug:slug>/cosigners", cosigner_list, name="api_cosigners"),
    path("openapi.json", openapi, name="api_openapi"),
]
