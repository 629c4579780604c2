"""Signed, salted, time-limited tokens for the links in mails.

A token names one signature and one letter; it is refused at another letter's URL, after its
age limit, or when it was made for another purpose (each purpose has its own salt). A manage
token also carries the signature's link generation: once a change is made through it (or any
other way), the signature's generation moves on and the token is refused.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

VERIFY = "petition.verify"
MANAGE = "petition.manage"
UNSUBSCRIBE = "petition.unsubscribe"  # stop the organisers' updates to a signer
REVERIFY = "petition.reverify"  # prove a work address again once its verification lapsed
# Links that confirm something the signer just asked for; the others manage a signature.
SHORT_LIVED = (VERIFY, REVERIFY)


class InvalidToken(Exception):
    """Tampered, foreign or malformed."""


class ExpiredToken(InvalidToken):
    pass


@dataclass(frozen=True)
class Claim:
    signature_id: int
    letter_id: int
    email_hash: str
    generation: int = 0


def make(
    purpose: str, *, signature_id: int, letter_id: int, email_hash: str, generation: int = 0
) -> str:
    # A prefix of the email hash ties the link to the address it was mailed to.
    payload = {"s": signature_id, "l": letter_id, "h": email_hash[:16]}
    if generation:
        payload["g"] = generation
    return signing.dumps(payload, salt=purpose, compress=False)


def stem(*, signature_id: int, letter_id: int, email_hash: str) -> str:
    """The part before the timestamp that every generation-0 token of a signature shares,
    whatever its purpose: it finds the signature's links in unsent mail."""
    return make(
        VERIFY, signature_id=signature_id, letter_id=letter_id, email_hash=email_hash
    ).split(":")[0]


def read(purpose: str, token: str, *, letter_id: int) -> Claim:
    max_age = (
        settings.SIGNATURE_TOKEN_MAX_AGE
        if purpose in SHORT_LIVED
        else settings.MANAGE_TOKEN_MAX_AGE
    )
    try:
        payload = signing.loads(token, salt=purpose, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ExpiredToken("This link has expired.") from exc
    except (signing.BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise InvalidToken("This link is not valid.") from exc
    if not isinstance(payload, dict) or payload.get("l") != letter_id:
        raise InvalidToken("This link is for another letter.")
    try:
        return Claim(
            int(payload["s"]), int(payload["l"]), str(payload["h"]), int(payload.get("g", 0))
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("This link is not valid.") from exc
