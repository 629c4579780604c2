"""What the public sees of a signature moving: the letter's counts, its public log, its cached
pages. The other service modules move a signature; this one keeps the record of it exact."""

import functools

from django.db import transaction
from django.utils import timezone

from petition import pagecache, tlog
from petition.models import DailyTally, DomainTally, LetterVersion, Signature, Tally

from .milestones import note_milestones


def ensure_tally(letter_id: int) -> None:
    Tally.objects.get_or_create(letter_id=letter_id)


def count_and_log(
    signature: Signature, delta: int, kind: str, *, supersede_from: str | None = None, **extra
) -> int:
    """Move the counts by delta for a signature entering (+1) or leaving (-1) the count, and
    append the change to the letter's public log; returns the entry's index. `supersede_from`:
    log it as the old entries' withdrawal and a new signature instead (see supersede).

    The letter's tally, today's count and the text version's count are rows every change to the
    letter locks until COMMIT: they move in one statement with the log's index (tlog.allocate),
    and the milestone check usually reads nothing, so few round trips hold them."""
    letter_id = signature.letter_id
    counts = {"verified": delta, signature.visibility: delta}
    if signature.is_verified_employee:
        counts["employees"] = delta
    also = [add_statement(DailyTally, (letter_id, timezone.now().date(), delta))]
    if signature.version_id:
        also.append(
            (
                f"UPDATE {LetterVersion._meta.db_table} "  # noqa: S608 - fixed names
                "SET signature_count = signature_count + %s WHERE id = %s",
                [delta, signature.version_id],
            )
        )
    if signature.is_verified_employee:
        also.append(add_statement(DomainTally, (letter_id, signature.employer_domain, delta)))
    index, verified = tlog.allocate(letter_id, counts=counts, also=also)
    if delta > 0:
        # The organisers hear of each milestone the count passes.
        note_milestones(signature.letter, verified)
    if supersede_from is not None:
        return supersede(signature, old_level=supersede_from, index=index)
    return log(signature, kind, index=index, **extra)


def add_statement(model, row: tuple) -> tuple[str, list]:
    """INSERT ... ON CONFLICT DO UPDATE adding to a (letter, key) counter (DailyTally's day,
    DomainTally's domain), creating the row if need be. PostgreSQL and SQLite both speak it."""
    table = model._meta.db_table
    key = "day" if model is DailyTally else "domain"
    value = "change" if model is DailyTally else "count"
    return (
        f"INSERT INTO {table} (letter_id, {key}, {value}) VALUES (%s, %s, %s) "  # noqa: S608
        f"ON CONFLICT (letter_id, {key}) DO UPDATE SET {value} = {table}.{value} + %s",
        [*row, row[-1]],
    )


def new_ref(signature: Signature) -> None:
    """Give the signature a fresh salt and ref for its next entries, remembering the salt."""
    salt, signature.log_ref = tlog.new_ref(signature.public_id.bytes)
    fresh = {"salt": salt.hex(), "level": signature.visibility}
    signature.log_salts = [*signature.log_salts, fresh]


def logged_level(signature: Signature) -> str:
    """The level its current ref's entries show (it moves only with a new ref)."""
    return signature.log_salts[-1]["level"] if signature.log_salts else signature.visibility


def supersede(signature: Signature, *, old_level: str, index: int) -> int:
    """Log a level change as two entries that share nothing: the current ref's withdrawal at
    the level it already showed (at `index`, taken with the counts' move), then a plain `sign`
    under a fresh ref. Nothing in the log ties the new ref to the old one; only the signer's
    receipt, holding both salts, does. They are adjacent in the log (one transaction): see
    docs/public-log.md for what that still tells an observer."""
    log(signature, "withdraw", index=index, level=old_level)
    new_ref(signature)
    signature.save(update_fields=["log_ref", "log_salts"])
    return log(signature, "sign")


def log(
    signature: Signature,
    kind: str,
    *,
    index: int | None = None,
    also=None,
    level: str | None = None,
    **extra,
) -> int:
    """Append the signature's change to its letter's public log (same transaction). `also`
    makes, from the entry's index, statements to run with the entry's INSERT."""
    if index is None:
        index, _ = tlog.allocate(signature.letter_id)
    return tlog.append(
        letter=signature.letter,
        kind=kind,
        level=level or logged_level(signature),
        employee=signature.is_verified_employee,
        version=signature.version.number if signature.version_id else None,
        language=signature.language if signature.text_hash else None,
        text=signature.text_hash or None,
        ref=signature.log_ref,
        index=index,
        also=also(index) if also else (),
        **extra,
    )


def purge_pages(letter_id: int) -> None:
    """Once the change commits, delete the letter's cached pages: those it supersedes would keep
    what the signer took off (or a moderator hid) in the cache, in clear, until they expired."""
    transaction.on_commit(functools.partial(pagecache.purge, letter_id), robust=True)
