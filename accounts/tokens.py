"""Signed, salted, time-limited tokens for organisation invitation links."""

from django.conf import settings
from django.core import signing

INVITE = "accounts.invite"


class InvalidToken(Exception):
    """Tampered, foreign, malformed or expired."""


def make_invite(*, invite_id: int, email_hash: str) -> str:
    # A prefix of the address's hash ties the link to the invitation as it was mailed.
    return signing.dumps({"i": invite_id, "h": email_hash[:16]}, salt=INVITE, compress=False)


def read_invite(token: str) -> tuple[int, str]:
    try:
        payload = signing.loads(token, salt=INVITE, max_age=settings.ORGANISATION_INVITE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise InvalidToken("This invitation has expired: ask for a new one.") from exc
    except (signing.BadSignature, ValueError, TypeError, UnicodeError) as exc:
        raise InvalidToken("This invitation link is not valid.") from exc
    try:
        return int(payload["i"]), str(payload["h"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("This invitation link is not valid.") from exc
