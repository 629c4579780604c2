"""The keys a test run may make up, put into the environment before the settings read them.

Production (DEBUG off, as the suite runs) refuses to start without SECRET_KEY and EMAIL_HASH_KEY;
a test run is not production, so it supplies both unless the environment gives them. They go
into the environment, not only into the settings, so the processes tests start (a Celery
worker, gunicorn, `manage.py` commands) inherit them.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("EMAIL_HASH_KEY", "test-email-hash-key-not-for-production")

# Under pytest-xdist each worker gets a Redis database of its own, as pytest-django gives it a
# PostgreSQL database of its own: a test that clears the cache must not clear another worker's
# rate limits and pages. Done once per worker: the processes a test starts (a Celery worker, a
# `manage.py` command) inherit the environment and may be given a Redis URL of their own.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if (
    _worker.startswith("gw")
    and os.environ.get("REDIS_URL")
    and "TEST_REDIS_PER_WORKER" not in os.environ
):
    _server, _, _db = os.environ["REDIS_URL"].rpartition("/")
    os.environ["REDIS_URL"] = f"{_server}/{int(_db or 0) + 1 + int(_worker[2:])}"
    os.environ["TEST_REDIS_PER_WORKER"] = _worker
