"""Each letter's public, append-only log of what it counts (issue 10).

Every change to a count appends one entry, in the transaction that makes the change. Entries
are canonical JSON with no identity: kind, level, verified employment, text version, the hour,
and `ref`, SHA-256(salt || signature id) where only the signer holds the salt (in their
receipt). The entries are the leaves of an RFC 6962 Merkle tree whose complete subtrees are
stored (LogNode), so roots and proofs take O(log n) reads; checkpoints are C2SP tlog-checkpoints
signed as C2SP signed notes with the site's Ed25519 key.
"""

import functools
import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from . import merkle, notes
from .models import Checkpoint, Letter, LogEntry, LogNode, Tally

logger = logging.getLogger(__name__)

KINDS = ("sign", "withdraw", "hide", "restore", "relevel", "cosign", "uncosign")
# Every key an entry may hold; nothing else ever goes in (the leak tests check this list).
ENTRY_KEYS = {
    "kind",
    "letter",
    "seq",
    "level",
    "employee",
    "version",
    "hour",
    "ref",
    "reason",
    "from",
}
HIDE_REASONS = ("spam", "impostor", "duplicate", "abuse", "other")


def new_ref(identifier: bytes) -> tuple[bytes, str]:
    """A fresh salt and the ref it makes with the signature's identifier."""
    salt = os.urandom(32)
    return salt, hashlib.sha256(salt + identifier).hexdigest()


def ref_for(salt: bytes, identifier: bytes) -> str:
    return hashlib.sha256(salt + identifier).hexdigest()


def encode(entry: dict) -> bytes:
    """Canonical JSON: UTF-8, keys sorted, no spaces."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def hour(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:00Z")


def _get_nodes(letter_id: int, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    if not keys:
        return {}
    pairs = ", ".join(["(%s, %s)"] * len(keys))
    params = [letter_id] + [value for key in keys for value in key]
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "level", "index", "hash" FROM {LogNode._meta.db_table} '  # noqa: S608
            f'WHERE letter_id = %s AND ("level", "index") IN ({pairs})',
            params,
        )
        return {(level, index): bytes(value) for level, index, value in cursor.fetchall()}


def get_nodes_for(letter_id: int):
    return functools.partial(_get_nodes, letter_id)


def append(
    *,
    letter: Letter,
    kind: str,
    level: str,
    employee: bool,
    version: int | None,
    ref: str,
    reason: str | None = None,
    from_level: str | None = None,
) -> int:
    """Append one entry to the letter's log; must run inside the caller's transaction."""
    assert kind in KINDS, kind
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Tally._meta.db_table} SET log_size = log_size + 1 "  # noqa: S608
            "WHERE letter_id = %s RETURNING log_size",
            [letter.pk],
        )
        (size,) = cursor.fetchone()
    index = size - 1
    entry = {
        "kind": kind,
        "letter": letter.slug,
        "seq": index,
        "level": level,
        "employee": employee,
        "version": version,
        "hour": hour(timezone.now()),
        "ref": ref,
    }
    if reason is not None:
        entry["reason"] = reason
    if from_level is not None:
        entry["from"] = from_level
    data = encode(entry)
    LogEntry.objects.create(letter_id=letter.pk, index=index, data=data, ref=ref)
    nodes = merkle.nodes_to_add_batch(index, [merkle.leaf_hash(data)], get_nodes_for(letter.pk))
    LogNode.objects.bulk_create(
        [LogNode(letter_id=letter.pk, level=lv, index=ix, hash=h) for lv, ix, h in nodes]
    )
    transaction.on_commit(functools.partial(_schedule_checkpoint, letter.pk), robust=True)
    return index


def _schedule_checkpoint(letter_id: int) -> None:
    from . import tasks

    if tasks.make_checkpoint.app.conf.task_always_eager:
        checkpoint(letter_id=letter_id)  # the embedded default: at once
        return
    # Coalesce a burst of appends into one checkpoint a few seconds later; the periodic job
    # covers anything this misses (a broker blip), within a minute.
    try:
        if cache.add(f"tlog:ckpt:{letter_id}", 1, timeout=settings.LOG_CHECKPOINT_DELAY):
            tasks.make_checkpoint.apply_async(
                (letter_id,), countdown=settings.LOG_CHECKPOINT_DELAY, retry=False
            )
    except Exception:  # noqa: BLE001 - the periodic job will catch up
        logger.warning(
            "checkpoint of letter %s not scheduled; the periodic job will sign it", letter_id
        )


# --- Keys ----------------------------------------------------------------------------------


def key_name() -> str:
    return urlsplit(settings.SITE_URL).netloc


@functools.cache
def signer() -> notes.Signer:
    """The site's log key: LOG_SIGNING_KEY, or (embedded default) a key made under var/."""
    key = settings.LOG_SIGNING_KEY
    if not key:
        path = Path(settings.VAR_DIR) / "log-signing-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = notes.generate_private_key(key_name()) + "\n"
            # Written aside then linked into place, so processes starting together agree on one
            # key and none ever reads half a file.
            temporary = path.with_name(f".{path.name}.{os.getpid()}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(fresh)
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        key = path.read_text().strip()
    return notes.Signer.from_private_key(key)


def origin(letter: Letter) -> str:
    return f"{key_name()}/letters/{letter.slug}"


# --- Checkpoints and proofs ----------------------------------------------------------------


def size(letter_id: int) -> int:
    return Tally.objects.filter(letter_id=letter_id).values_list("log_size", flat=True).first() or 0


def checkpoint(*, letter_id: int) -> Checkpoint:
    """Sign the letter's current tree, unless the latest checkpoint already covers it."""
    letter = Letter.objects.get(pk=letter_id)
    latest = Checkpoint.objects.filter(letter_id=letter_id).order_by("-size").first()
    current = size(letter_id)
    if latest is not None and latest.size >= current:
        return latest
    root = merkle.root(current, get_nodes_for(letter_id))
    note = signer().sign_note(notes.format_checkpoint(origin(letter), current, root))
    try:
        with transaction.atomic():
            return Checkpoint.objects.create(letter=letter, size=current, root=root, note=note)
    except IntegrityError:  # another worker signed the same size first
        return Checkpoint.objects.get(letter=letter, size=current)


def latest_checkpoint(letter: Letter) -> Checkpoint:
    found = Checkpoint.objects.filter(letter=letter).order_by("-size").first()
    return found if found is not None else checkpoint(letter_id=letter.pk)


def checkpoint_stale_letters() -> int:
    """Sign a checkpoint for every letter whose log grew past its latest checkpoint."""
    from django.db.models import Max, OuterRef, Subquery

    latest = (
        Checkpoint.objects.filter(letter=OuterRef("letter"))
        .values("letter")
        .annotate(m=Max("size"))
        .values("m")
    )
    stale = Tally.objects.annotate(signed=Subquery(latest)).filter(log_size__gt=0)
    count = 0
    for tally in stale.only("letter_id", "log_size"):
        if tally.signed is None or tally.signed < tally.log_size:
            checkpoint(letter_id=tally.letter_id)
            count += 1
    return count


def inclusion_proof(letter: Letter, index: int, tree_size: int) -> list[bytes]:
    return merkle.inclusion_proof(index, tree_size, get_nodes_for(letter.pk))


def consistency_proof(letter: Letter, old: int, new: int) -> list[bytes]:
    return merkle.consistency_proof(old, new, get_nodes_for(letter.pk))


def entries(letter: Letter, start: int, end: int) -> list[tuple[int, bytes]]:
    rows = LogEntry.objects.filter(letter=letter, index__gte=start, index__lt=end).order_by("index")
    return [(row.index, bytes(row.data)) for row in rows.only("index", "data")]


def receipt(letter: Letter, *, index: int, salt: bytes, ref: str, identifier: str) -> dict:
    return {
        "letter": letter.slug,
        "index": index,
        "id": identifier,
        "salt": salt.hex(),
        "ref": ref,
        "checkpoint": latest_checkpoint(letter).note,
    }


def status_of(letter: Letter, ref: str, index: int) -> dict:
    """What became of a signed entry since: its later entries (withdraw, hide, restore...)."""
    later = LogEntry.objects.filter(letter=letter, ref=ref, index__gt=index).order_by("index")
    events = [json.loads(bytes(row.data)) for row in later.only("data")]
    counted = True
    for event in events:
        if event["kind"] in ("withdraw", "hide", "uncosign"):
            counted = False
        elif event["kind"] == "restore":
            counted = True
    return {"counted": counted, "events": events}
