"""A Redis cache that turns Redis being down into cache misses instead of server errors, and
both cache backends with delete_prefix(), which deletes every entry whose key begins with a prefix
(the page cache deletes a letter's pages by it, see petition/pagecache.py).

Django's RedisCache raises on every call while Redis is unreachable, and code we do not own calls
the cache on ordinary pages (allauth keeps its login, sign-up and password-reset rate limits
there). With this backend a read is a miss, a write is skipped (an add() reports success) and a
warning is logged, so logging in, signing and reading stay up while Redis is away; the limits
kept in the cache are not enforced meanwhile (the same choice as lib/ratelimit.py). `incr`
still raises: a caller counting something must know the count is gone.
"""

import logging

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _soft(name: str, fallback):
    method = getattr(RedisCacheClient, name)

    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except UNREACHABLE as exc:
            logger.warning("cache %s skipped: Redis unreachable (%s)", name, type(exc).__name__)
            return fallback(*args) if callable(fallback) else fallback

    wrapper.__name__ = name
    return wrapper


class FailSoftRedisCacheClient(RedisCacheClient):
    get = _soft("get", lambda key, default: default)
    get_many = _soft("get_many", lambda keys: {})
    has_key = _soft("has_key", False)
    # "Stored": callers use add() as a lock or a once-only guard (allauth's rate limits lock
    # with it, and would otherwise wait a second and refuse); with nothing to coordinate with,
    # going ahead is the fail-open choice.
    add = _soft("add", True)
    set = _soft("set", None)
    set_many = _soft("set_many", None)
    touch = _soft("touch", False)
    delete = _soft("delete", False)
    delete_many = _soft("delete_many", None)
    clear = _soft("clear", False)


class FailSoftRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = FailSoftRedisCacheClient

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key that begins with `prefix`; returns how many. SCAN walks the whole
        keyspace (a few ms per 10,000 keys) without blocking Redis."""
        pattern = _glob_escape(self.make_and_validate_key(prefix)) + "*"
        deleted = 0
        try:
            client = self._cache.get_client(write=True)
            batch = []
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) == 500:
                    deleted += client.unlink(*batch)
                    batch = []
            if batch:
                deleted += client.unlink(*batch)
        except UNREACHABLE as exc:
            logger.warning(
                "cache delete_prefix skipped: Redis unreachable (%s)", type(exc).__name__
            )
        return deleted


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


class PrefixLocMemCache(LocMemCache):
    """The embedded default's in-process cache, with delete_prefix()."""

    def delete_prefix(self, prefix: str) -> int:
        made = self.make_and_validate_key(prefix)
        with self._lock:
            keys = [key for key in self._cache if key.startswith(made)]
            for key in keys:
                self._delete(key)
        return len(keys)
