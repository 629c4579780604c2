"""What the tally page and the JSON API both read, as a visitor may see it (PRODUCT.md,
"Visibility"): a letter's counts from its Tally and DomainTally rows, and its listed signatures
and co-signers. No read here counts rows of the signature table."""

import logging

from django.core.cache import cache

from ..models import CoSignature, Letter, Signature, Tally
from .common import tally_of

# Named for the module these reads were first part of: the log lines keep the name operators
# filter on.
logger = logging.getLogger("petition.api")

# The live tally polls every ~2 s: one DB read per letter per this many seconds, whatever the
# number of readers.
COUNTS_CACHE_SECONDS = 2
DETAILS = ("job_title", "team", "affiliation", "city")


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
