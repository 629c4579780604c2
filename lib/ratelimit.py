"""Fixed-window rate limits in the cache (Redis when configured), shared by every web process.

Keys hold a keyed hash of the IP or address, never the raw value, and expire with their window.
If the cache is unreachable the limit is not enforced: refusing signers because Redis blinked
would lose exactly what the product promises to keep.
"""

import functools
import hashlib
import hmac
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCacheClient

logger = logging.getLogger(__name__)

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse(rate: str) -> tuple[int, int]:
    """ "5/h" -> (5, 3600); "10/5m" -> (10, 300)."""
    count, _, period = rate.partition("/")
    number = period[:-1] or "1"
    return int(count), int(number) * UNITS[period[-1]]


def _digest(value: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def hit(scope: str, value: str, rate: str) -> bool:
    """Count one attempt; True while the attempts in this window are within the rate."""
    limit, window = parse(rate)
    bucket = int(time.time() // window)
    key = f"rl:{scope}:{_digest(value)}:{bucket}"
    try:
        return _incr(key, window + 1) <= limit
    except Exception:  # noqa: BLE001 - any cache failure means "not enforced"
        logger.warning("rate limit %s not enforced: cache unavailable", scope)
        return True


@functools.cache
def _redis(client: RedisCacheClient):
    """One redis.Redis per process on the cache's write pool (Django builds a new one, about
    0.4 ms of Python, on every call)."""
    return client.get_client(write=True)


def _incr(key: str, timeout: int) -> int:
    """Add one to the key's count, creating it to expire in `timeout` seconds. On Redis one round
    trip (INCR, and EXPIRE NX in the same pipeline) instead of add() then incr(): it runs twice
    on every signature."""
    client = getattr(cache, "_cache", None)
    if isinstance(client, RedisCacheClient):
        full_key = cache.make_and_validate_key(key)
        pipe = _redis(client).pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, timeout, nx=True)
        count, _ = pipe.execute()
        return count
    cache.add(key, 0, timeout=timeout)
    return cache.incr(key)


def client_ip(request) -> str:
    # Behind the proxy given in docker-compose, REMOTE_ADDR is the proxy; trust the header only
    # when the operator says so.
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


# --- Organisation requests: co-signing, creating an organisation, inviting someone ---------------


def allow_org_request(request, scope: str, *, to: str = "") -> bool:
    """Count one organisation request (co-sign, create an organisation, invite someone) per IP,
    per account address and, for an invitation, per invited address (so nobody's inbox can be
    flooded through the site); False once any is over ORG_REQUEST_LIMIT."""
    rate = settings.ORG_REQUEST_LIMIT
    allowed = hit(f"{scope}-ip", client_ip(request), rate)
    allowed = hit(f"{scope}-email", request.user.email.lower(), rate) and allowed
    if to:
        allowed = hit(f"{scope}-to", to.strip().lower(), rate) and allowed
    return allowed
