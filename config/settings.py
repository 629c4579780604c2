"""Undersigned's one settings file. Production is other values, given through the environment.

Every variable is listed in .env.example. Unset, the project runs on an embedded default:
SQLite under var/, Celery tasks run inline, mail is printed to the console.
"""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Set the environment variable {name}.")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # Persistent connections, checked before use so a restarted PostgreSQL is survived.
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            # Behind PgBouncer in transaction mode a cursor declared in one transaction is gone
            # in the next: querysets' .iterator() then reads in chunks on the client instead.
            "DISABLE_SERVER_SIDE_CURSORS": env_bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False),
            "OPTIONS": options,
        }
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path),
            # Tuned for concurrent web requests, as Django's and SQLite's documentation advise:
            # readers never wait for the writer (WAL), a commit does not wait for the disk
            # (NORMAL is safe under WAL: a power cut may lose the last commits, never corrupt),
            # and a writing transaction takes the write lock when it begins (IMMEDIATE) so it
            # waits up to `timeout` seconds for it, instead of failing at once with "database
            # is locked" when it upgrades a read to a write half-way through.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
            },
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported.")


def mailer_from_url(url: str) -> dict:
    """smtp://user:password@host:port?tls=1 (STARTTLS), smtps://... (implicit TLS), or console:"""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "console":
        return {"BACKEND": "petition.mailbackends.ConsoleBackend"}
    if parts.scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(f"EMAIL_URL scheme {parts.scheme!r} is not supported.")
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname or "localhost",
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": parts.scheme == "smtps",
            "use_tls": query.get("tls", "0") in {"1", "true"},
            "timeout": int(query.get("timeout", "10")),
        },
    }


def env_secret(name: str) -> str:
    """A key production cannot run without: one an outsider could know would let them forge
    links, so there is no default, and a blank line in an env file counts as unset."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"Set the environment variable {name} (DEBUG is off, so this is production). "
            "Make one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return value


DEBUG = env_bool("DEBUG", False)
# SECRET_KEY signs sessions and the links in mails. EMAIL_HASH_KEY keys the hash of each
# signer's address that refuses a second signature and that every link carries; it is kept apart
# so a new SECRET_KEY (sessions, links) never orphans those hashes, and so knowing one key is not
# enough to forge a manage link. Rotating SECRET_KEY: put the old one in SECRET_KEY_FALLBACKS for
# as long as its links should keep working.
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-use-in-production")
    EMAIL_HASH_KEY = os.environ.get("EMAIL_HASH_KEY", "").strip() or SECRET_KEY
else:
    SECRET_KEY = env_secret("SECRET_KEY")
    EMAIL_HASH_KEY = env_secret("EMAIL_HASH_KEY")
    if EMAIL_HASH_KEY == SECRET_KEY:
        raise ImproperlyConfigured(
            "EMAIL_HASH_KEY must differ from SECRET_KEY: make another one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The name every mail and page signs with; the domain is SITE_URL's.
SITE_NAME = env_str("SITE_NAME", "Undersigned")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not ALLOWED_HOSTS:
    ALLOWED_HOSTS = [urlsplit(SITE_URL).hostname]
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "accounts.admin_site.AdminConfig",  # django.contrib.admin on a site with a throttled log-in
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "accounts",
    "petition",
]

MIDDLEWARE = [
    # First of all: /healthz and /readyz answer load balancers probing by address over HTTP,
    # before host validation and the HTTPS redirect (config/health.py).
    "config.health.HealthMiddleware",
    # Outermost: a database too busy to answer in time is a 503 "please try again", never a 500.
    "config.busy.DatabaseBusyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After the session and the user: the language comes from the URL's prefix, then the
    # switcher's cookie, then the account's preference, then Accept-Language.
    "config.locale.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "config.locale.languages",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {"default": database_from_url(f"sqlite:///{VAR_DIR / 'undersigned.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# The cache holds rendered pages: a Redis that persists nothing (no RDB, no AOF) keeps a page a
# signer withdrew from out of its files. Unset: the broker's Redis.
CACHE_URL = os.environ.get("CACHE_URL", "") or REDIS_URL
if CACHE_URL:
    CACHES = {
        "default": {
            # RedisCache that answers a miss, instead of raising, while Redis is unreachable.
            "BACKEND": "config.cache.FailSoftRedisCache",
            "LOCATION": CACHE_URL,
            # A Redis blip must not turn a page into an error: cache misses are served from the DB.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "config.cache.PrefixLocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: email is the login, and it must be verified.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
# Someone who created an account in this browser is signed in by the confirmation link's button
# and sent back where they came from (`next`: the sign form, a co-sign page). allauth does this
# only for the session that signed up, so a leaked link signs nobody in elsewhere.
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = urlsplit(SITE_URL).scheme
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/h/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
}

LANGUAGE_CODE = "en-gb"
# The interface's languages, each with a complete catalogue under locale/ (make check-messages
# says when one is not). English is the default and its pages keep their unprefixed URLs.
LANGUAGES = [
    ("en-gb", "English"),
    ("es", "Español"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("ar", "العربية"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# The image collects static files outside VAR_DIR: a volume on VAR_DIR keeps its first content,
# and would serve the first release's files to every later one.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed static files need `collectstatic` first (the Dockerfile runs it); tests and
# `make run` serve the files straight from static/.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST


def media_storage_from_env() -> dict:
    """Uploaded files (organisation logos): on local disk under MEDIA_ROOT, served by the app
    at MEDIA_URL, or MEDIA_STORAGE=s3 for any S3-compatible store through django-storages."""
    kind = env_str("MEDIA_STORAGE", "local")
    if kind == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != "s3":
        raise ImproperlyConfigured(f"MEDIA_STORAGE must be local or s3, not {kind!r}.")
    options = {
        "bucket_name": env_str("S3_BUCKET"),
        "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("S3_REGION") or None,
        "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
        "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
        # Logos are public and named by a random id: plain URLs, cacheable, no expiring
        # signatures in the page cache.
        "querystring_auth": False,
        "file_overwrite": False,
        "custom_domain": os.environ.get("S3_CUSTOM_DOMAIN") or None,
    }
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES = {
    "default": media_storage_from_env(),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# Mail
MAILERS = {"default": mailer_from_url(os.environ.get("EMAIL_URL") or "console:")}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Undersigned <letters@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = env_list("ADMINS")
# What stores a rendered mail in the outbox, in the caller's transaction, and has it sent once
# that transaction commits (lib/mailqueue.py): named here, like EMAIL_BACKEND, so accounts can
# send mail without importing petition, whose outbox it is.
MAIL_QUEUE = "petition.emails.queue_rendered"

# Celery: with no broker, tasks run inline so `make run` needs nothing else.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers keep their database connection between tasks (Celery's Django fixup otherwise closes
# it after every task, and each mail paid for a new PostgreSQL backend: about 5 ms of CPU). A
# broken or old connection is still replaced before the next task: config/celery.py runs
# close_old_connections() around every task, which honours CONN_MAX_AGE and health checks.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
# A message not acknowledged in this many seconds is handed to another worker: longer than the
# longest task, so late acknowledgement never sends a mail twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300),
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    # A web process publishing to a broker that is down gives up at once instead of retrying for
    # broker_connection_timeout (6 s per mail): the outbox row waits for the re-queue job. Workers
    # reconnect with their own retry loop (broker_connection_max_retries), unaffected.
    "max_retries": 0,
}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "undersigned")
CELERY_TIMEZONE = "UTC"
# Beat answers `celery inspect ping --destination celerybeat@HOST` while its scheduler ticks: the
# container health check of the beat service.
CELERY_BEAT_ENABLE_REMOTE_CONTROL = True
CELERY_BEAT_SCHEDULE = {
    # The outbox relay is queued by every commit that writes mail; this runs it as a sweep too.
    "relay-mail": {"task": "petition.tasks.relay_mail", "schedule": 30.0},
    "close-due-letters": {"task": "petition.tasks.close_letters_past_deadline", "schedule": 60.0},
    "resume-stalled-updates": {"task": "petition.tasks.resume_stalled_updates", "schedule": 120.0},
    "checkpoint-logs": {"task": "petition.tasks.checkpoint_logs", "schedule": 30.0},
    "send-cosign-digests": {"task": "petition.tasks.send_due_cosign_digests", "schedule": 300.0},
    "purge-pending-signatures": {
        "task": "petition.tasks.purge_pending_signatures",
        "schedule": 3600.0,
    },
    "expire-employee-verifications": {
        "task": "petition.tasks.expire_employee_verifications",
        "schedule": 3600.0,
    },
    # Erased private identities leave PostgreSQL's data files within this interval.
    "rewrite-erased-pages": {
        "task": "petition.tasks.rewrite_erased_pages",
        "schedule": float(env_int("ERASURE_REWRITE_SECONDS", 900)),
    },
}

# Product settings
SIGNATURE_TOKEN_MAX_AGE = env_int("SIGNATURE_TOKEN_MAX_AGE", 7 * 24 * 3600)
PENDING_SIGNATURE_DAYS = env_int("PENDING_SIGNATURE_DAYS", 7)
RESEND_LIMIT = env_str("RESEND_LIMIT", "3/h")
SIGN_LIMIT_PER_IP = env_str("SIGN_LIMIT_PER_IP", "60/h")
SIGN_LIMIT_PER_EMAIL = env_str("SIGN_LIMIT_PER_EMAIL", "5/h")
MANAGE_LIMIT = env_str("MANAGE_LIMIT", "5/h")
# Co-signing, creating an organisation and inviting people: per IP, per account, per invitee.
ORG_REQUEST_LIMIT = env_str("ORG_REQUEST_LIMIT", "20/h")
# Attempts at the admin's log-in form, per IP and per account (right passwords count too).
ADMIN_LOGIN_LIMIT = env_str("ADMIN_LOGIN_LIMIT", "10/15m")
SIGNERS_PER_PAGE = 50
# The public log's Ed25519 key, as made by `manage.py generate_log_key`. Unset: one is made
# under var/ on first use (the embedded default); production sets it from a secret store.
LOG_SIGNING_KEY = os.environ.get("LOG_SIGNING_KEY", "")
LOG_CHECKPOINT_DELAY = env_int("LOG_CHECKPOINT_DELAY", 2)
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)
# How long a relay holds the rows it claimed: longer than a relay task may run, so a claim runs
# out only when its relay died.
MAIL_CLAIM_SECONDS = env_int("MAIL_CLAIM_SECONDS", 150)
# A mail put off (4xx, connection refused) is tried again after BACKOFF * 2**attempt seconds
# (half of it jittered), at most BACKOFF_MAX apart; after MAX_ATTEMPTS it counts as bounced.
MAIL_RETRY_BACKOFF = env_int("MAIL_RETRY_BACKOFF", 2)
MAIL_RETRY_BACKOFF_MAX = env_int("MAIL_RETRY_BACKOFF_MAX", 300)
MAIL_MAX_ATTEMPTS = env_int("MAIL_MAX_ATTEMPTS", 20)
# Seconds a relay keeps watching an empty outbox before it ends (mail comes in bursts).
MAIL_RELAY_LINGER = float(os.environ.get("MAIL_RELAY_LINGER") or 1)
# Two weeks: long enough to act on the confirmation mail, short enough that a forwarded or
# leaked mail stops being a lever soon; a signer asks for a fresh link on the letter any time.
MANAGE_TOKEN_MAX_AGE = env_int("MANAGE_TOKEN_MAX_AGE", 14 * 24 * 3600)
MAIL_RESEND_INTERVAL = env_int("MAIL_RESEND_INTERVAL", 120)
# Organisations: the links inviting someone to join one last this long; organisers hear of new
# co-sign requests in one digest, this many seconds after the first of a batch arrives.
ORGANISATION_INVITE_MAX_AGE = env_int("ORGANISATION_INVITE_MAX_AGE", 14 * 24 * 3600)
COSIGN_DIGEST_DELAY = env_int("COSIGN_DIGEST_DELAY", 300)

# Security
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if urlsplit(SITE_URL).scheme == "https":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is an operator's decision that binds the whole domain for months; it is offered
    # through SECURE_HSTS_PRELOAD and left off by default.
    "security.W021",
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "lib.redaction.RedactPersonalData"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["redact"],
            # Error mails carry no request POST data or local variables: they may hold signers'
            # names and addresses.
            "include_html": False,
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console", "mail_admins"], "level": "INFO", "propagate": False},
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "lib.redaction.PrivateExceptionFilter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
