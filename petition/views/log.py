"""The public log's read endpoints, for any client: key, checkpoint, entries and proofs (routes in
petition/log_urls.py, described in views/openapi.py).

Plain function views with plain-text or JSON answers; bad parameters get a 400 with a message.
"""

import base64
import functools
from collections.abc import Sequence

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from lib import merkle

from .. import tlog

MAX_ENTRIES = 1000


class BadParameter(ValueError):
    pass


def _cors(response: HttpResponse, max_age: int, *, immutable: bool = False) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = f"public, max-age={max_age}" + (", immutable" if immutable else "")
    return response


def _bad(message: str) -> JsonResponse:
    return _cors(JsonResponse({"error": message}, status=400), 0)


def _int(request, name: str, *, minimum: int = 0, maximum: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        raise BadParameter(f"missing parameter {name!r}")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise BadParameter(f"{name} must be a whole number")
    value = int(raw)
    if not minimum <= value <= maximum:
        raise BadParameter(f"{name} must be between {minimum} and {maximum}")
    return value


class NoLetter(Exception):
    pass


def _log(slug: str, keys: Sequence[merkle.Key] = ()) -> tuple[int, int, dict]:
    """The listed letter's id, its log size and the stored nodes among ``keys``, in one query."""
    found = tlog.listed_log(slug, keys)
    if found is None:
        raise NoLetter
    return found


def _json_404(view):
    """The log's endpoints answer an unknown letter with JSON, like the rest of the API."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NoLetter:
            return _cors(JsonResponse({"error": "No such letter."}, status=404), 0)

    return wrapper


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@require_safe
def key(request):
    return _cors(HttpResponse(tlog.signer().vkey() + "\n", content_type="text/plain"), 3600)


@require_safe
@_json_404
def checkpoint(request, slug: str):
    found = tlog.listed_checkpoint(slug)
    if found is None:
        raise NoLetter
    letter_id, note = found
    if note is None:  # nothing signed yet: sign the log as it stands
        note = tlog.checkpoint(letter_id=letter_id).note
    return _cors(HttpResponse(note, content_type="text/plain; charset=utf-8"), 5)


@require_safe
@_json_404
def entries(request, slug: str):
    letter_id, size, _ = _log(slug)
    try:
        start = _int(request, "start", maximum=size)
        end = _int(request, "end", minimum=start, maximum=2**63 - 1)
    except BadParameter as exc:
        return _bad(f"{exc} (the log has {size} entries)")
    # Past the end of the log, or more than a page: the entries there are, as clients expect.
    end = min(end, size, start + MAX_ENTRIES)
    items = [{"index": i, "data": _b64(data)} for i, data in tlog.entries(letter_id, start, end)]
    # A full page never changes again: a year, immutable, so a CDN keeps it for good. A page
    # that reaches the log's end may still grow.
    if end - start == MAX_ENTRIES:
        return _cors(JsonResponse({"entries": items}), 31536000, immutable=True)
    return _cors(JsonResponse({"entries": items}), 5)


# The proofs read the letter, its log size and the proof's nodes in one query, so the nodes are
# named before the size is known: from the parameters checked against the largest size there
# could be. Then they are checked against the log's real size, with the messages a client
# sees; a request that fails either check fetched no nodes or is refused before using them.
LARGEST = 2**63 - 1  # PostgreSQL's bigint, the type of PublicLogEntry.index


def _inclusion_parameters(request, current: int) -> tuple[int, int]:
    size = _int(request, "size", minimum=1, maximum=current)
    index = _int(request, "index", maximum=size - 1)
    return index, size


def _consistency_parameters(request, current: int) -> tuple[int, int]:
    new = _int(request, "to", maximum=current)
    old = _int(request, "from", maximum=new)
    return old, new


@require_safe
@_json_404
def inclusion(request, slug: str):
    try:
        keys = merkle.inclusion_keys(*_inclusion_parameters(request, LARGEST))
    except BadParameter:
        keys = []
    _, current, nodes = _log(slug, keys)
    try:
        index, size = _inclusion_parameters(request, current)
    except BadParameter as exc:
        return _bad(f"{exc} (the log has {current} entries)")
    path = merkle.inclusion_proof(index, size, lambda _keys: nodes)
    return _cors(
        JsonResponse({"index": index, "size": size, "path": [_b64(h) for h in path]}), 86400
    )


@require_safe
@_json_404
def consistency(request, slug: str):
    try:
        keys = merkle.consistency_keys(*_consistency_parameters(request, LARGEST))
    except BadParameter:
        keys = []
    _, current, nodes = _log(slug, keys)
    try:
        old, new = _consistency_parameters(request, current)
    except BadParameter as exc:
        return _bad(f"{exc} (the log has {current} entries)")
    path = merkle.consistency_proof(old, new, lambda _keys: nodes)
    return _cors(JsonResponse({"from": old, "to": new, "path": [_b64(h) for h in path]}), 86400)
