"""Email addresses: one spelling per inbox, and the keyed hash that stands in for an address
wherever the address itself must not be kept."""

import hashlib
import hmac

from django.conf import settings


def normalise_email(email: str) -> str:
    return email.strip().lower()


# Providers known to deliver "first.last" and "firstlast" to one inbox; elsewhere a dot may make
# another mailbox, so it is kept.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def canonical_email(email: str) -> str:
    """One spelling per inbox, for "one signature per email" and per-address rate limits:
    lower case, no "+tag" in the local part (most providers deliver a+x@ to a@), and for Gmail
    no dots and one domain. Mail still goes to the address as typed."""
    local, _, domain = normalise_email(email).rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def _keyed(value: str) -> str:
    key = settings.EMAIL_HASH_KEY.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def email_hash(email: str) -> str:
    return _keyed(canonical_email(email))


def legacy_email_hash(email: str) -> str:
    """The hash rows made before canonical_email carry (of the trimmed, lower-case address):
    a private signer's address is erased, so those hashes cannot be recomputed."""
    return _keyed(normalise_email(email))


def email_hashes(email: str) -> list[str]:
    """Every hash an active signature of this address may carry: lookups match either."""
    return list(dict.fromkeys([email_hash(email), legacy_email_hash(email)]))
