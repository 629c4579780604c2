"""Audit a letter's public log over HTTP, as any outsider would, trusting only the published key."""

import base64
import json
import random
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lib import merkle, signed_note
from petition.tlog import ENTRY_KEYS, KINDS

PAGE = 1000
# The counts a replay of the log makes that a delivery states and the site shows.
COUNT_KEYS = ["verified", "public", "anonymous", "private", "employees", "cosigners"]


class AuditFailure(CommandError):
    pass


def _is_text_commitment(entry: dict) -> bool:
    """`text` is the hex SHA-256 of the text read (docs/public-log.md), `language` its code."""
    text, language = entry.get("text"), entry.get("language")
    return (
        isinstance(text, str)
        and len(text) == 64
        and all(c in "0123456789abcdef" for c in text)
        and isinstance(language, str)
        and 0 < len(language) <= 10
    )


class _Site:
    """The site's public API, read over HTTP as any outsider would."""

    def __init__(self, base: str):
        self.base = base

    def get(self, path: str) -> bytes:
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as response:  # noqa: S310
                return response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise AuditFailure(f"could not fetch {path}: {exc}") from exc

    def get_json(self, path: str) -> dict:
        try:
            return json.loads(self.get(path))
        except ValueError as exc:
            raise AuditFailure(f"{path} did not answer JSON") from exc


def _fetch_entries(site: _Site, log: str, size: int) -> list[bytes]:
    """The log's first `size` entries, a page at a time, each at the index it claims."""
    entries: list[bytes] = []
    while len(entries) < size:
        start = len(entries)
        page = site.get_json(f"{log}/entries?start={start}&end={min(size, start + PAGE)}")
        items = page.get("entries", [])
        if not items:
            raise AuditFailure(f"the log served no entry at index {start} (size {size})")
        for item in items:
            if item["index"] != len(entries):
                raise AuditFailure(
                    f"entry index {item['index']} out of order: expected {len(entries)}"
                )
            entries.append(base64.b64decode(item["data"]))
    return entries[:size]


class Command(BaseCommand):
    help = (
        "Check a letter's public log at BASE_URL: the checkpoint's signature against the published "
        "key, the root recomputed from every entry, inclusion proofs, consistency with the "
        "checkpoint seen last time (kept under var/auditlog/), and that every withdraw or hide "
        "undoes an earlier sign at the level that sign showed (a level change is a withdrawal "
        "and a new sign under a fresh ref). Prints the counts; exits non-zero on any mismatch. "
        "Given a delivery's URL (https://host/d/CODE/) instead, also checks the delivery: its "
        "checkpoint's signature, that the log's first entries hash to its root and replay to its "
        "counts, and that today's log extends it."
    )

    def add_arguments(self, parser):
        parser.add_argument("base_url", help="the site, or a delivery's URL")
        parser.add_argument("slug", nargs="?", help="the letter (omit with a delivery's URL)")
        parser.add_argument("--proofs", type=int, default=200, help="inclusion proofs to check")
        parser.add_argument("--state-dir", default=None)
        parser.add_argument("--key", default=None, help="a vkey you trust, instead of fetching it")

    def handle(self, *args, base_url, slug, proofs, state_dir, key, **options):
        delivery = None
        if slug is None:
            base, delivery = self._delivery(base_url)
            slug = delivery["letter"]
        else:
            base = base_url.rstrip("/")
        site = _Site(base)
        log = f"/api/letters/{urllib.parse.quote(slug)}/log"
        verifier, size, root = self._check_checkpoint(site, log, slug, key)
        entries = _fetch_entries(site, log, size)
        store = self._check_root(entries, size, root)
        self._check_inclusion(site, log, entries, size, root, proofs)
        state_path = self._state_path(state_dir, base, slug)
        self._check_consistency(site, log, state_path, store, size, root)
        counts = self._replay(entries, slug)
        self.stdout.write("counts: " + json.dumps(counts, sort_keys=True))
        self._compare_with_site(site.get_json, slug, counts)
        if delivery is not None:
            self._check_delivery(delivery, verifier, entries, store, root, site.get_json, log, slug)
        self.stdout.write(self.style.SUCCESS("audit passed"))

    def _check_checkpoint(self, site, log: str, slug: str, key: str | None):
        """The letter's checkpoint, its signature checked against the key given or published:
        the verifier, and the size and root it signs."""
        vkey = key or site.get("/api/log/key").decode().strip()
        try:
            verifier = signed_note.Verifier.from_vkey(vkey)
            text = verifier.verify(site.get(f"{log}/checkpoint").decode())
            origin, size, root = signed_note.parse_checkpoint(text)
        except signed_note.NoteError as exc:
            raise AuditFailure(f"checkpoint signature check failed: {exc}") from exc
        if not origin.endswith(f"/letters/{slug}"):
            raise AuditFailure(f"checkpoint origin {origin!r} is not this letter's")
        self.stdout.write(
            f"checkpoint: {origin}, {size} entries, root {base64.b64encode(root).decode()}"
        )
        return verifier, size, root

    def _check_root(self, entries: list[bytes], size: int, root: bytes) -> merkle.MemoryStore:
        """Every entry, recomputing the tree: it must hash to the signed root."""
        store = merkle.MemoryStore()
        store.extend(entries)
        if store.root() != root:
            raise AuditFailure(
                "root mismatch: the entries served do not hash to the signed checkpoint's root "
                "(an entry was edited, removed, added or reordered)"
            )
        self.stdout.write(f"root: recomputed from {size} entries, matches")
        return store

    def _check_inclusion(self, site, log, entries, size: int, root: bytes, proofs: int) -> None:
        """Inclusion proofs, from the server, against the signed root: every entry of a small
        log, else a random sample of them and the last."""
        indexes = (
            list(range(size))
            if size <= proofs
            else sorted(
                random.sample(range(size), proofs - 1) + [size - 1]  # noqa: S311
            )
        )
        for index in indexes:
            proof = site.get_json(f"{log}/inclusion?index={index}&size={size}")
            path = [base64.b64decode(h) for h in proof["path"]]
            if not merkle.verify_inclusion(
                merkle.leaf_hash(entries[index]), index, size, path, root
            ):
                raise AuditFailure(f"inclusion proof for entry {index} does not verify")
        self.stdout.write(f"inclusion: {len(indexes)} proofs verify")

    def _check_consistency(self, site, log, state_path: Path, store, size: int, root) -> None:
        """Consistency with the checkpoint seen last time, kept in state_path, which then keeps
        this one."""
        if state_path.exists():
            seen = json.loads(state_path.read_text())
            old_size, old_root = seen["size"], base64.b64decode(seen["root"])
            if size < old_size:
                raise AuditFailure(
                    f"the log shrank: checkpoint of {size} entries after one of {old_size}"
                )
            if store.root(old_size) != old_root:
                raise AuditFailure(
                    f"history rewritten: the first {old_size} entries no longer hash to the root "
                    "seen last time"
                )
            proof = site.get_json(f"{log}/consistency?from={old_size}&to={size}")
            path = [base64.b64decode(h) for h in proof["path"]]
            if not merkle.verify_consistency(old_size, size, old_root, root, path):
                raise AuditFailure(f"consistency proof from {old_size} to {size} does not verify")
            self.stdout.write(f"consistency: with the checkpoint of {old_size} seen before, ok")
        state_path.parent.mkdir(parents=True, exist_ok=True)
        state_path.write_text(json.dumps({"size": size, "root": base64.b64encode(root).decode()}))

    def _delivery(self, url: str) -> tuple[str, dict]:
        """The site's base URL and the delivery's JSON, from a delivery's public URL."""
        parts = urllib.parse.urlsplit(url)
        path = parts.path.rstrip("/")
        if "/d/" not in path or parts.scheme not in ("http", "https"):
            raise CommandError("give the site's URL and a letter's slug, or a delivery's URL")
        site = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        base = site + path.rsplit("/d/", 1)[0]
        try:
            with urllib.request.urlopen(f"{site}{path}/delivery.json", timeout=30) as response:  # noqa: S310
                return base, json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise AuditFailure(f"could not read the delivery at {url}: {exc}") from exc

    def _check_delivery(self, delivery, verifier, entries, store, head_root, get_json, log, slug):
        """The delivery's checkpoint is signed, the log's first entries hash to its root and
        replay to its counts, and the current head extends it."""
        try:
            origin, size, root = signed_note.parse_checkpoint(
                verifier.verify(delivery["checkpoint"]["note"])
            )
        except (signed_note.NoteError, KeyError, TypeError) as exc:
            raise AuditFailure(f"delivery: checkpoint signature check failed: {exc}") from exc
        claimed = delivery["checkpoint"]
        if not origin.endswith(f"/letters/{slug}"):
            raise AuditFailure(f"delivery: checkpoint origin {origin!r} is not this letter's")
        if claimed.get("size") != size or claimed.get("root") != base64.b64encode(root).decode():
            raise AuditFailure(
                "delivery: the size or root it states is not its signed checkpoint's"
            )
        if size > len(entries) or store.root(size) != root:
            raise AuditFailure(f"delivery: the log's first {size} entries do not hash to its root")
        proof = get_json(f"{log}/consistency?from={size}&to={len(entries)}")
        path = [base64.b64decode(h) for h in proof["path"]]
        if not merkle.verify_consistency(size, len(entries), root, head_root, path):
            raise AuditFailure(f"delivery: consistency proof from {size} does not verify")
        counts = self._replay(entries[:size], slug)
        stated = delivery.get("counts", {})
        differ = [k for k in COUNT_KEYS if stated.get(k) != counts[k]]
        if differ:
            raise AuditFailure(
                "delivery: its counts differ from the log's on " + ", ".join(differ) + f": it "
                f"states {stated}, the log replays to {counts}"
            )
        self.stdout.write(
            f"delivery {delivery.get('code')}: checkpoint of {size} entries signed, extended by "
            f"today's log, counts match: {counts['verified']} signatures"
        )

    def _compare_with_site(self, get_json, slug: str, counts: dict) -> None:
        """Set the replayed counts beside the ones the site shows. A difference is reported, not
        fatal: the checkpoint may trail the live tally by up to a minute."""
        try:
            shown = get_json(f"/api/letters/{urllib.parse.quote(slug)}/counts")["counts"]
        except (AuditFailure, KeyError, TypeError):
            self.stdout.write("site counts: not available")
            return
        differ = [k for k in COUNT_KEYS if shown.get(k) != counts.get(k)]
        if differ:
            self.stdout.write(
                "site counts differ on " + ", ".join(differ) + f": the site shows {shown} "
                "(a checkpoint can trail the live tally by up to a minute; audit again)"
            )
        else:
            self.stdout.write("site counts: the tally the site shows matches the log")

    def _state_path(self, state_dir, base: str, slug: str) -> Path:
        folder = Path(state_dir) if state_dir else Path(settings.VAR_DIR) / "auditlog"
        host = urllib.parse.urlsplit(base).netloc.replace(":", "_")
        return folder / f"{host}__{slug}.json"

    @staticmethod
    def _check_same_level(seq: int, entry: dict, counted: dict | None) -> None:
        """A ref shows one level for good: a level change is a withdrawal and a new `sign` under
        a fresh ref, so an undo that named another level than its sign would tie the signer's
        old level to the new one. (`relevel` entries, from logs written before, did that
        openly; they are replayed, and counted under entries_by_kind.)"""
        if counted is None or entry["kind"] == "relevel":
            return
        if entry.get("level") != counted.get("level"):
            raise AuditFailure(
                f"entry {seq} ({entry['kind']}) shows level {entry.get('level')!r} for a ref "
                f"signed at {counted.get('level')!r}: a ref must keep its level"
            )

    def _replay(self, entries: list[bytes], slug: str) -> dict:
        """Replay the entries: every undo must undo something counted; return the counts."""
        live: dict[str, dict] = {}  # ref -> the entry that counts it
        hidden: dict[str, dict] = {}
        kinds: Counter = Counter()
        for seq, raw in enumerate(entries):
            entry = _read_entry(seq, raw, slug)
            kind, ref = entry.get("kind"), entry.get("ref")
            if kind not in KINDS:
                raise AuditFailure(f"entry {seq} has unknown kind {kind!r}")
            kinds[kind] += 1
            self._check_same_level(seq, entry, live.get(ref) or hidden.get(ref))
            _apply(seq, entry, live, hidden)
        return _counts(live, kinds)


def _read_entry(seq: int, raw: bytes, slug: str) -> dict:
    """Entry `seq` of the letter's log, parsed: canonical JSON, with the keys an entry may hold,
    the seq and letter it claims its own."""
    try:
        entry = json.loads(raw)
    except ValueError as exc:
        raise AuditFailure(f"entry {seq} is not JSON") from exc
    if raw != json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode():
        raise AuditFailure(f"entry {seq} is not canonical JSON")
    if set(entry) - ENTRY_KEYS:
        raise AuditFailure(f"entry {seq} holds unexpected keys {sorted(set(entry) - ENTRY_KEYS)}")
    if "text" in entry and not _is_text_commitment(entry):
        raise AuditFailure(f"entry {seq} has a malformed text hash or language")
    if entry.get("seq") != seq or entry.get("letter") != slug:
        raise AuditFailure(f"entry {seq} claims seq {entry.get('seq')} of {entry.get('letter')!r}")
    return entry


def _apply(seq: int, entry: dict, live: dict[str, dict], hidden: dict[str, dict]) -> None:
    """Apply one entry to the refs counted (`live`) and hidden, refusing an undo that undoes
    nothing."""
    kind, ref = entry["kind"], entry.get("ref")
    if kind in ("sign", "cosign"):
        if ref in live or ref in hidden:
            raise AuditFailure(f"entry {seq} signs ref {ref[:12]}… a second time")
        live[ref] = entry
    elif kind in ("withdraw", "uncosign"):
        if ref in live:
            del live[ref]
        elif ref in hidden and kind == "withdraw":
            del hidden[ref]  # a hidden signature withdrawn by its signer
        else:
            raise AuditFailure(f"entry {seq} ({kind}) undoes no earlier sign")
    elif kind == "hide":
        if ref not in live:
            raise AuditFailure(f"entry {seq} (hide) undoes no earlier sign")
        hidden[ref] = live.pop(ref)
    elif kind == "restore":
        if ref not in hidden:
            raise AuditFailure(f"entry {seq} (restore) restores nothing hidden")
        # The mark may have lapsed or been renewed while hidden: the restore says which.
        live[ref] = {
            **hidden.pop(ref),
            "level": entry["level"],
            "employee": entry.get("employee"),
        }
    elif kind == "employment":
        if ref not in live:
            raise AuditFailure(f"entry {seq} (employment) marks nothing counted")
        live[ref] = {**live[ref], "employee": entry.get("employee")}
    elif kind == "relevel":
        if ref not in live:
            raise AuditFailure(f"entry {seq} (relevel) moves nothing counted")
        live[ref] = {**live[ref], "level": entry["level"]}


def _counts(live: dict[str, dict], kinds: Counter) -> dict:
    """The counts the refs still counted make, as the site shows them, and the entries by kind."""
    signatures = [e for e in live.values() if e["kind"] == "sign"]
    levels = Counter(e["level"] for e in signatures)
    return {
        "verified": len(signatures),
        "public": levels.get("public", 0),
        "anonymous": levels.get("anonymous", 0),
        "private": levels.get("private", 0),
        "employees": sum(1 for e in signatures if e.get("employee")),
        "cosigners": sum(1 for e in live.values() if e["kind"] == "cosign"),
        "entries_by_kind": dict(kinds),
    }
