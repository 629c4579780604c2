"""The "check my signature" page: a signer pastes their receipt and the server verifies it
against the letter's public log."""

import json
import uuid

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from lib import merkle, params, signed_note

from .. import tlog
from ..models import Letter, PublicLogEntry
from .common import public_letter

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
        for row in PublicLogEntry.objects.filter(letter=letter, index__in=[i for i, _ in entries])
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
    letter = public_letter(slug)
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
