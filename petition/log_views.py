"""The public log's read endpoints, for any client: key, checkpoint, entries and proofs.

Plain function views with plain-text or JSON answers; bad parameters get a 400 with a message.
"""

import base64
import functools
import json
import uuid
from collections.abc import Sequence

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods, require_safe

from lib import merkle, params, signed_note

from . import tlog
from .models import Letter, LogEntry

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
LARGEST = 2**63 - 1  # PostgreSQL's bigint, the type of LogEntry.index


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


# --- "Check my signature" ------------------------------------------------------------------


# A receipt holds one entry per level its signature has had: a handful at most.
MAX_RECEIPT_LENGTH = 20000
MAX_EARLIER = 20
NOT_A_RECEIPT = "This is not a receipt: paste it exactly as you got it."


class BadReceipt(ValueError):
    pass


def _receipt_entries(letter: Letter, text: str) -> list[tuple[int, str]]:
    """The (index, ref) of every entry a receipt claims, oldest first, each proven to be the
    signature's own (ref = SHA-256(salt || id)). Raises BadReceipt with the reason."""
    try:
        receipt = params.json_value(text, max_length=MAX_RECEIPT_LENGTH)
        if not isinstance(receipt, dict):
            raise params.BadValue("not an object")
        earlier = receipt.get("earlier", [])
        if not isinstance(earlier, list) or len(earlier) > MAX_EARLIER:
            raise params.BadValue("earlier is not a short list")
        id_bytes = uuid.UUID(str(receipt["id"])).bytes
        claimed = [*earlier, receipt]
        items = [
            (
                params.whole_number(item["index"], name="index"),
                bytes.fromhex(item["salt"]),
                str(item["ref"]),
            )
            for item in claimed
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadReceipt(NOT_A_RECEIPT) from exc
    if receipt.get("letter") != letter.slug:
        raise BadReceipt("This receipt is for another letter.")
    if any(tlog.ref_for(salt, id_bytes) != ref for _index, salt, ref in items):
        raise BadReceipt("The receipt does not hold together: its ref does not match.")
    indexes = [index for index, _salt, _ref in items]
    if indexes != sorted(set(indexes)):
        raise BadReceipt("The receipt does not hold together: its entries are out of order.")
    return [(index, ref) for index, _salt, ref in items]


def _prove_included(letter: Letter, entries: list[tuple[int, str]]) -> int:
    """Check each entry is a `sign` with its ref, included in the latest signed checkpoint;
    returns the checkpoint's size. Raises BadReceipt."""
    found = {
        row.index: row
        for row in LogEntry.objects.filter(letter=letter, index__in=[i for i, _ in entries])
    }
    for index, ref in entries:
        row = found.get(index)
        if row is None or row.ref != ref or json.loads(bytes(row.data))["kind"] != "sign":
            raise BadReceipt("No signature with this receipt is in the log.")
    latest = tlog.latest_checkpoint(letter)
    _origin, size, root = signed_note.parse_checkpoint(tlog.signer().verifier().verify(latest.note))
    if entries[-1][0] >= size:
        raise BadReceipt("Your entry is newer than the latest checkpoint: try again in a minute.")
    for index, _ref in entries:
        path = tlog.inclusion_proof(letter, index, size)
        leaf = merkle.leaf_hash(bytes(found[index].data))
        if not merkle.verify_inclusion(leaf, index, size, path, root):
            raise BadReceipt("The inclusion proof failed: please tell the organisers.")
    return size


def _check_receipt(letter: Letter, text: str) -> dict:
    """Verify a receipt on the server: refs, entries, inclusion in the latest signed checkpoint,
    and that every entry from before a level change has been withdrawn since."""
    try:
        entries = _receipt_entries(letter, text)
        size = _prove_included(letter, entries)
    except BadReceipt as exc:
        return {"ok": False, "message": str(exc)}
    for index, ref in entries[:-1]:
        if tlog.status_of(letter, ref, index)["counted"]:
            return {
                "ok": False,
                "message": f"Entry {index}, from before a change of level, still counts: "
                "please tell the organisers.",
            }
    index, ref = entries[-1]
    status = tlog.status_of(letter, ref, index)
    message = (
        f"Your signature is entry {index} of the log, included in the signed checkpoint of "
        f"{size} entries."
    )
    if len(entries) > 1:
        earlier = ", ".join(str(i) for i, _ref in entries[:-1])
        message += f" Before your change of level it was entry {earlier}, withdrawn since."
    if not status["counted"]:
        message += f" It has since been {PAST[status['events'][-1]['kind']]} and is not counted."
    return {"ok": True, "counted": status["counted"], "size": size, "message": message}


PAST = {"withdraw": "withdrawn", "hide": "hidden by a moderator", "uncosign": "withdrawn"}


@require_http_methods(["GET", "POST"])
def check(request, slug: str):
    letter = get_object_or_404(Letter.objects.listed(), slug=slug)
    result = None
    receipt = request.POST.get("receipt", "")
    if request.method == "POST":
        result = _check_receipt(letter, receipt)
    return render(
        request,
        "petition/check.html",
        {"letter": letter, "result": result, "receipt": receipt},
        status=400 if result and not result["ok"] else 200,
    )
