"""Each letter's public, append-only log of what it counts.

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
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Min, OuterRef, Subquery
from django.utils import timezone

from lib import merkle, signed_note

from . import jobs
from .models import Checkpoint, Letter, LogNode, PublicLogEntry, Tally

logger = logging.getLogger(__name__)

KINDS = (
    "sign",
    "withdraw",
    "hide",
    "restore",
    "relevel",
    # A counted signature's verified-employee mark lapsed (employee false) or was proven again.
    "employment",
    "cosign",
    "uncosign",
)
# Every key an entry may hold; nothing else ever goes in (the leak tests check this list).
ENTRY_KEYS = {
    "kind",
    "letter",
    "seq",
    "level",
    "employee",
    "version",
    # The language of the text the signer read and its hash (models.text_hash): which exact
    # text the entry counts a signature for. Absent from entries older than translations.
    "language",
    "text",
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


# Tally columns a change may move in the statement that takes the log's next index.
COUNT_COLUMNS = ("verified", "public", "anonymous", "private", "employees", "cosigners")

Statement = tuple[str, list]


def _in_one_round_trip(first: Statement, also: Sequence[Statement]) -> Statement | None:
    """`first` with the `also` statements joined to it as data-modifying CTEs, on PostgreSQL:
    one round trip, one snapshot (so `also` must not read rows another transaction may have
    just committed: they write, with upserts or UPDATEs, which see the latest rows). None where
    the database cannot (SQLite, the embedded default): run them one after another."""
    if connection.vendor != "postgresql" or not also:
        return None
    ctes = ", ".join(f"also_{n} AS ({sql})" for n, (sql, _) in enumerate(also))
    params = [value for _, values in also for value in values]
    return f"WITH {ctes} {first[0]}", params + first[1]


def _execute(cursor, first: Statement, also: Sequence[Statement]):
    joined = _in_one_round_trip(first, also)
    if joined is not None:
        cursor.execute(*joined)
        return
    for statement in also:
        cursor.execute(*statement)
    cursor.execute(*first)


def allocate(
    letter_id: int, *, counts: dict[str, int] | None = None, also: Sequence[Statement] = ()
) -> tuple[int, int]:
    """Take the letter's next log index, moving its tally's counts in the same UPDATE, and run
    `also` (the day's, version's and domain's counters) in the same round trip. Returns the
    index and the verified count after the change.

    The tally row is the letter's hot row: every change to its count locks it until COMMIT, so
    what runs between this statement and the commit bounds how many changes a second one letter
    can take. This is one statement instead of one per counter."""
    counts = counts or {}
    unknown = set(counts) - set(COUNT_COLUMNS)
    assert not unknown, unknown
    moves = "".join(f", {column} = {column} + %s" for column in counts)
    update = (
        f"UPDATE {Tally._meta.db_table} SET log_size = log_size + 1{moves} "  # noqa: S608
        "WHERE letter_id = %s RETURNING log_size, verified",
        [*counts.values(), letter_id],
    )
    with connection.cursor() as cursor:
        _execute(cursor, update, also)
        row = cursor.fetchone()
    if row is None:  # a letter opened without publish(): no tally row yet
        Tally.objects.get_or_create(letter_id=letter_id)
        return allocate(letter_id, counts=counts, also=also)
    size, verified = row
    return size - 1, verified


def append(
    *,
    letter: Letter,
    kind: str,
    level: str,
    employee: bool,
    version: int | None,
    ref: str,
    language: str | None = None,
    text: str | None = None,
    reason: str | None = None,
    from_level: str | None = None,
    index: int | None = None,
    also: Sequence[Statement] = (),
) -> int:
    """Append one entry to the letter's log; must run inside the caller's transaction.

    `index` is one allocate() took in this transaction (None: take one now). `also` are
    statements to run in the same round trip as the entry's INSERT (the caller's writes that
    need the index, such as the receipt in the confirmation mail)."""
    assert kind in KINDS, kind
    if index is None:
        index, _ = allocate(letter.pk)
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
    if text is not None:
        entry["language"] = language
        entry["text"] = text
    if reason is not None:
        entry["reason"] = reason
    if from_level is not None:
        entry["from"] = from_level
    data = encode(entry)
    # A separate statement from allocate(): the left siblings were committed by the previous
    # append, perhaps while this transaction waited for the tally row, and only a statement
    # started after that wait sees them.
    nodes = merkle.nodes_to_add_batch(index, [merkle.leaf_hash(data)], get_nodes_for(letter.pk))
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(nodes))
    insert_nodes = (
        f'INSERT INTO {LogNode._meta.db_table} (letter_id, "level", "index", hash) '  # noqa: S608
        f"VALUES {rows}",
        [value for level, ix, h in nodes for value in (letter.pk, level, ix, h)],
    )
    insert_entry = (
        f'INSERT INTO {PublicLogEntry._meta.db_table} (letter_id, "index", data, ref) '  # noqa: S608
        "VALUES (%s, %s, %s, %s)",
        [letter.pk, index, data, ref],
    )
    with connection.cursor() as cursor:
        _execute(cursor, insert_nodes, [insert_entry, *also])
    transaction.on_commit(functools.partial(_schedule_checkpoint, letter.pk), robust=True)
    return index


def _schedule_checkpoint(letter_id: int) -> None:
    if jobs.run_inline():
        checkpoint(letter_id=letter_id)  # the embedded default: at once
        return
    # Coalesce a burst of appends into one checkpoint a few seconds later; the periodic job
    # covers anything this misses (a broker blip), within a minute.
    try:
        if cache.add(f"tlog:ckpt:{letter_id}", 1, timeout=settings.LOG_CHECKPOINT_DELAY):
            jobs.enqueue("make_checkpoint", letter_id, countdown=settings.LOG_CHECKPOINT_DELAY)
    except Exception:  # noqa: BLE001 - the periodic job will catch up
        logger.warning(
            "checkpoint of letter %s not scheduled; the periodic job will sign it", letter_id
        )


# --- Keys ----------------------------------------------------------------------------------


def key_name() -> str:
    return urlsplit(settings.SITE_URL).netloc


@functools.cache
def signer() -> signed_note.Signer:
    """The site's log key: LOG_SIGNING_KEY, or (embedded default) a key made under var/."""
    key = settings.LOG_SIGNING_KEY
    if not key:
        path = Path(settings.VAR_DIR) / "log-signing-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = signed_note.generate_private_key(key_name()) + "\n"
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
    return signed_note.Signer.from_private_key(key)


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
    note = signer().sign_note(signed_note.format_checkpoint(origin(letter), current, root))
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


def entries(letter_id: int, start: int, end: int) -> list[tuple[int, bytes]]:
    rows = PublicLogEntry.objects.filter(letter_id=letter_id, index__gte=start, index__lt=end)
    return [(row.index, bytes(row.data)) for row in rows.order_by("index").only("index", "data")]


# --- The public endpoints' reads, one statement each ----------------------------------------
#
# Proofs are the hot read of the log API (an auditor asks for thousands). Each is one statement
# here: the letter found by its slug, its log size and the proof's nodes, read in one snapshot
# (append writes the size and the nodes in one transaction, so they agree). Which letters are
# public is Letter.objects.listed()'s rule written out in SQL: every status but draft
# (tests/petition/test_log.py checks the two agree for every status). Nothing about the letter
# is cached between requests: staff can put a letter back to draft, rename or delete it in the
# admin, and finding it costs one index probe in a statement that runs anyway.


def listed_log(
    slug: str, keys: Sequence[merkle.Key]
) -> tuple[int, int, dict[merkle.Key, bytes]] | None:
    """The listed letter's id, its log size and which of the stored nodes ``keys`` exist;
    None if no listed letter has this slug."""
    letter, tally, node = Letter._meta.db_table, Tally._meta.db_table, LogNode._meta.db_table
    # One row a key: the letter's id and log size, the key, and its node's hash (NULL where none
    # is stored), each hash one probe of the (letter_id, level, index) index. Scalar subqueries
    # rather than joins: PostgreSQL plans them in half the time, which is most of its work here.
    # The keys are written into the SQL as numbers (`:d` takes nothing but ints, which merkle
    # computed): as 40-odd placeholders, psycopg would parse a new query text and adapt every
    # value on each request, a sixth of the view's CPU. No keys: one row that matches no node.
    values = ", ".join(f"({level:d}, {index:d})" for level, index in keys) or "(-1, -1)"
    with connection.cursor() as cursor:
        cursor.execute(
            f'WITH k("level", "index") AS (VALUES {values}) '  # noqa: S608
            "SELECT l.id, "
            f"COALESCE((SELECT t.log_size FROM {tally} AS t WHERE t.letter_id = l.id), 0), "
            'k."level", k."index", '
            f"(SELECT n.hash FROM {node} AS n WHERE n.letter_id = l.id "
            'AND n."level" = k."level" AND n."index" = k."index") '
            f"FROM {letter} AS l CROSS JOIN k WHERE l.slug = %s AND l.status <> %s",
            [slug, Letter.Status.DRAFT],
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    nodes = {(level, index): bytes(h) for _id, _size, level, index, h in rows if h is not None}
    return rows[0][0], rows[0][1], nodes


def listed_checkpoint(slug: str) -> tuple[int, str | None] | None:
    """The listed letter's id and its latest checkpoint's note (None if it has none yet);
    None if no listed letter has this slug."""
    letter, checkpoint_table = Letter._meta.db_table, Checkpoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.id, (SELECT c.note FROM {checkpoint_table} AS c "  # noqa: S608
            "WHERE c.letter_id = l.id ORDER BY c.size DESC LIMIT 1) "
            f"FROM {letter} AS l WHERE l.slug = %s AND l.status <> %s",
            [slug, Letter.Status.DRAFT],
        )
        return cursor.fetchone()


def signed_checkpoint(letter: Letter) -> Checkpoint | None:
    """The latest checkpoint signed so far, if any (signs none)."""
    return Checkpoint.objects.filter(letter=letter).order_by("-size").first()


def receipt(
    letter: Letter,
    *,
    index: int,
    salt: bytes,
    ref: str,
    identifier: str,
    checkpoint: Checkpoint | None = None,
    earlier: Sequence[dict] = (),
) -> dict:
    """What the signer keeps: the entry's index and ref with the salt that proves it theirs, and
    a signed checkpoint (`checkpoint`, else the latest, signed now if there is none yet).
    `earlier`: the {index, salt, ref} of the signature's entries before its level changes."""
    made = {
        "letter": letter.slug,
        "index": index,
        "id": identifier,
        "salt": salt.hex(),
        "ref": ref,
        "checkpoint": (checkpoint or latest_checkpoint(letter)).note,
    }
    if earlier:
        made["earlier"] = list(earlier)
    return made


def receipt_for_signature(letter: Letter, *, public_id, salts: Sequence[dict]) -> dict | None:
    """The receipt for a signature's whole history, rebuilt from the salts it kept: its current
    entry, and every earlier one (the `sign` entry is the first to carry each ref). None if it
    has no logged entry it holds the salt of."""
    identifier = public_id.bytes
    known = [
        (bytes.fromhex(item["salt"]), ref_for(bytes.fromhex(item["salt"]), identifier))
        for item in salts
        if item.get("salt")
    ]
    first = dict(
        PublicLogEntry.objects.filter(letter=letter, ref__in=[ref for _salt, ref in known])
        .values("ref")
        .annotate(first=Min("index"))
        .values_list("ref", "first")
    )
    items = [
        {"index": first[ref], "salt": salt.hex(), "ref": ref} for salt, ref in known if ref in first
    ]
    if not items:
        return None
    *earlier, current = items
    return receipt(
        letter,
        index=current["index"],
        salt=bytes.fromhex(current["salt"]),
        ref=current["ref"],
        identifier=str(public_id),
        earlier=earlier,
    )


def status_of(letter: Letter, ref: str, index: int) -> dict:
    """What became of a signed entry since: its later entries (withdraw, hide, restore...)."""
    later = PublicLogEntry.objects.filter(letter=letter, ref=ref, index__gt=index).order_by("index")
    events = [json.loads(bytes(row.data)) for row in later.only("data")]
    counted = True
    for event in events:
        if event["kind"] in ("withdraw", "hide", "uncosign"):
            counted = False
        elif event["kind"] == "restore":
            counted = True
    return {"counted": counted, "events": events}
