"""/healthz and /readyz, for load balancers and container health checks.

/healthz: the process is up and answers; nothing else is touched, so a database outage never
gets every web process restarted. /readyz: this process can serve real traffic: the database
answers, Redis answers (when configured), every migration this code knows is applied, and the
log signing key can sign and is the key the stored log was signed with. Otherwise 503 with a JSON
body naming the failed check in fixed words: never an exception's text, which may name hosts,
users or paths.

Answered by a middleware placed first, before host validation and the HTTPS redirect: a load
balancer probes each process by its address, over plain HTTP, with whatever Host header it has.
"""

import functools
import logging

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

from lib import signed_note
from petition import tlog
from petition.models import Checkpoint

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 1.0


def _database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


@functools.cache
def _migrations_applied() -> bool:
    """Cached once true: what this code needs stays applied while the process lives (a newer
    release's migrations only add to it)."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def _migrations() -> str:
    if _migrations_applied():
        return "ok"
    _migrations_applied.cache_clear()
    raise NotReady("migrations not applied")


def _log_key() -> str:
    signer = tlog.signer()
    latest = Checkpoint.objects.order_by("-pk").values_list("note", flat=True).first()
    if latest is not None:
        try:
            signer.verifier().verify(latest)
        except signed_note.NoteError:
            raise NotReady("log signing key does not match the stored log") from None
    return "ok"


class NotReady(Exception):
    pass


CHECKS = {
    "database": (_database, "database unreachable"),
    "redis": (_redis, "redis unreachable"),
    "migrations": (_migrations, "migrations not checked"),
    "log_signing_key": (_log_key, "log signing key unusable"),
}


def readiness() -> tuple[bool, dict[str, str]]:
    results = {}
    for name, (check, failure) in CHECKS.items():
        try:
            results[name] = check()
        except NotReady as exc:
            results[name] = str(exc)
        except Exception as exc:
            # The exception's class only: its message may carry a host, a user or a key.
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = failure
    ready = all(value in {"ok", "not configured"} for value in results.values())
    return ready, results


def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request) -> JsonResponse:
    ready, checks = readiness()
    if ready:
        return JsonResponse({"status": "ready", "checks": checks})
    return JsonResponse({"status": "unavailable", "checks": checks}, status=503)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None or request.method not in {"GET", "HEAD"}:
            return self.get_response(request)
        response = probe(request)
        response["Cache-Control"] = "no-store"
        return response
