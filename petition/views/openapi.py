"""The OpenAPI 3.1 document of the public API: the JSON views (views/api.py, routes in
petition/api_urls.py) and the public log's (views/log.py, routes in petition/log_urls.py).

Each route is described in PATHS, and a test checks that every route is.
"""

from django.conf import settings

from .public_reads import DETAILS


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


# --- The public log: views/log.py, routes in petition/log_urls.py --------------------------------

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
