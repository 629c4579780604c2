from django.conf import settings
from django.core import checks
from django.core.cache import caches


@checks.register(checks.Tags.caches)
def page_cache_can_purge(app_configs, **kwargs):
    """A withdrawal deletes the letter's cached pages by key prefix (petition/pagecache.py)."""
    if hasattr(caches["default"], "delete_prefix"):
        return []
    return [
        checks.Error(
            "The default cache cannot delete a letter's pages: a withdrawn signer's details "
            "would stay in it until they expired.",
            hint="Use config.cache.FailSoftRedisCache or config.cache.PrefixLocMemCache.",
            id="undersigned.E001",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def production_parts(app_configs, **kwargs):
    """The embedded defaults are for a laptop: say so when a deployment still uses them."""
    problems = []
    backend = settings.MAILERS.get("default", {}).get("BACKEND", "")
    if backend.endswith("ConsoleBackend"):
        problems.append(
            checks.Warning(
                "Mail is printed to the console: no signer will receive a confirmation link.",
                hint="Set EMAIL_URL, e.g. smtp://user:password@host:587?tls=1.",
                id="undersigned.W001",
            )
        )
    if not settings.REDIS_URL:
        problems.append(
            checks.Warning(
                "No REDIS_URL: tasks run inside web requests and rate limits are per process.",
                hint="Set REDIS_URL, e.g. redis://host:6379/0, and run a Celery worker and beat.",
                id="undersigned.W002",
            )
        )
    if not settings.LOG_SIGNING_KEY:
        problems.append(
            checks.Warning(
                "No LOG_SIGNING_KEY: the public log is signed with a key made under VAR_DIR; "
                "lose that folder and auditors will see a new key.",
                hint="Run `manage.py generate_log_key` and keep the key in a secret store.",
                id="undersigned.W003",
            )
        )
    return problems
