"""Whole rendered pages for readers without a session: the letter page and its tally.

A reader with no session cookie and no flash message gets the same page as every other such
reader but for the CSRF token in the sign form. That page is rendered once, with a placeholder
where the token goes, and kept under a key that names everything it shows: the letter's row and
whether it is open now, its tally row (the log's size grows with every change to what is counted
or listed: a signature verified, withdrawn, hidden, restored or moved to another level, a
co-signature approved or withdrawn), and the listed co-signers' order, websites and verified
marks (pinning and an organisation's edits add no log entry). A changed letter or count is a
new key, so a page is never served stale; the key costs one indexed query, which fetches the
letter the view needs anyway (and a second for a letter with co-signers).

Each web process keeps the pages it served last in memory (a hit costs no round trip), in front
of the shared cache (so a change is rendered once, not once per process). Entries of the shared
cache carry a digest of the code and templates of the release that made them. Each reader's
response gets their own token, and the CSRF cookie, as Django's own render would give them.

A change that takes something off a page (a withdrawal, a move to another level, a moderator's
hide) deletes every page and fragment of that letter from the shared cache once it commits
(purge): an entry under a superseded key is never served, but it would otherwise keep the
withdrawn or hidden details in Redis, in clear, until it expired. A render that began before the
change and is stored after the purge keeps its copy for MAX_AGE at most; so does each web
process's memory (never written to disk).
"""

import functools
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import django
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.paginator import Paginator
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import StringAgg, TextField, Value
from django.db.models.functions import MD5, Cast, Coalesce, Concat
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.crypto import salted_hmac
from django.utils.csp import CSP
from django.utils.safestring import mark_safe

from .models import CoSignature, Letter, Tally

# An entry is never stale while the data goes through the services; this bounds how long an edit
# that bypasses them (a staff member's in the admin) may take to show: twice this at most, for a
# page a process took from the shared cache just before it expired there.
MAX_AGE = 60
# Memory each process gives its pages (a letter page is 20-40 KB).
LOCAL_BYTES = 16 * 1024 * 1024

logger = logging.getLogger(__name__)


# --- The key: one query for the letter and its tally (two with co-signers) ---------------------

LETTER_FIELDS = [field.attname for field in Letter._meta.concrete_fields]
TALLY_FIELDS = [field.attname for field in Tally._meta.concrete_fields if field.name != "letter"]


def listed_letter(slug: str) -> Letter:
    """A letter a reader may see (open or closed, never a draft) with its tally; on it, `state`,
    a digest of the letter's row and whether it is open now, `cosigners_state`, and
    `page_state`, a digest of everything its public pages show."""
    row = _letter_statement().row(slug)
    if row is None:
        raise Http404("No such letter.")
    n = len(LETTER_FIELDS)
    letter = Letter.from_db(DEFAULT_DB_ALIAS, LETTER_FIELDS, row[:n])
    counts = row[n:]
    if counts[TALLY_FIELDS.index("log_size")] is None:  # no tally row yet: nothing counted
        letter.tally = Tally(letter=letter)
    else:
        letter.tally = Tally.from_db(
            DEFAULT_DB_ALIAS, ["letter_id", *TALLY_FIELDS], [letter.pk, *counts]
        )
    # The tally counts every listed co-signer: none counted, none to read.
    cosigners = _cosigners_statement().row(letter.pk) if letter.tally.cosigners else None
    letter.cosigners_state = cosigners[0] if cosigners else None
    letter.state = _digest((row[:n], letter.is_open))
    letter.page_state = _digest((letter.state, counts, letter.cosigners_state))
    return letter


class _Statement:
    """A query compiled once per process and run with one argument: the ORM spends several times
    the database's time building and compiling a query (0.8 ms against 0.1 for the letter's),
    and these never change."""

    def __init__(self, queryset, placeholder):
        self.compiler = queryset.query.get_compiler(DEFAULT_DB_ALIAS)
        self.sql, params = self.compiler.as_sql()
        if params.count(placeholder) != 1:
            raise ImproperlyConfigured(f"{placeholder!r} must appear once in {self.sql}")
        self.params, self.at = tuple(params), params.index(placeholder)
        columns = [column for column, _, _ in self.compiler.select]
        self.converters = self.compiler.get_converters(columns)

    def row(self, argument) -> list | None:
        params = [*self.params[: self.at], argument, *self.params[self.at + 1 :]]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is not None and self.converters:
            row = next(self.compiler.apply_converters([row], self.converters))
        return row


# Stand for the argument while a statement is compiled.
_SLUG, _LETTER_ID = "petition.pagecache:slug", -7_349_021


@functools.cache
def _letter_statement() -> _Statement:
    tally = [f"tally__{name}" for name in TALLY_FIELDS]
    queryset = Letter.objects.listed().filter(slug=_SLUG).values_list(*LETTER_FIELDS, *tally)
    return _Statement(queryset, _SLUG)


@functools.cache
def _cosigners_statement() -> _Statement:
    """A digest of what the listing shows of each approved co-signer that can change without a
    log entry: its place (pinned or not) and its organisation's website, logo and verified mark."""
    fields = [
        Cast("pk", TextField()),
        Coalesce(Cast("pinned_position", TextField()), Value(""), output_field=TextField()),
        Cast("organisation__is_verified", TextField()),
        "organisation__verified_domain",
        "organisation__website",
        "organisation__logo",
    ]
    separated = [part for field in fields for part in (Value(":"), field)][1:]
    # In another order the same list only makes another key (one more render): SQLite before
    # 3.44 cannot order an aggregate.
    ordered = {"order_by": "pk"} if connection.features.supports_aggregate_order_by_clause else {}
    listed = StringAgg(Concat(*separated, output_field=TextField()), Value(","), **ordered)
    queryset = (
        CoSignature.objects.listed()
        .filter(letter_id=_LETTER_ID)
        .order_by()
        .values("letter")
        .annotate(state=MD5(listed))
        .values_list("state")
    )
    return _Statement(queryset, _LETTER_ID)


def _digest(value) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()


def page_number(raw: str | None, listed: int) -> int:
    """The signers page `?page=raw` shows, as the letter page's paginator reads it (nonsense is
    the first page, past the end the last), without a query: the tally knows how many."""
    paginator = Paginator((), settings.SIGNERS_PER_PAGE)
    paginator.count = listed
    return paginator.get_page(raw).number


# --- Who gets a cached page ----------------------------------------------------------------------


def servable(request) -> bool:
    """A GET from a reader with no session (so signed out, and no flash message kept in one) and
    no flash message in a cookie: their page is everyone's."""
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
        and not _policy_has_nonce()
    )


def _policy_has_nonce() -> bool:
    # A nonce is new on every response: a page that carries one cannot be shared.
    policies = (settings.SECURE_CSP, getattr(settings, "SECURE_CSP_REPORT_ONLY", None) or {})
    return any(CSP.NONCE in values for policy in policies for values in policy.values())


# --- Serving --------------------------------------------------------------------------------------


@functools.cache
def csrf_placeholder() -> str:
    """What the page is rendered with in place of a reader's CSRF token: keyed by SECRET_KEY, so
    no text a signer or an organiser writes on the page can be it."""
    return (
        "csrf-"
        + salted_hmac("petition.pagecache", "csrf placeholder", algorithm="sha256").hexdigest()[:40]
    )


def serve(request, key: str, render: Callable[[str], HttpResponse]) -> HttpResponse:
    """The page under `key`, from this process, the shared cache or `render(placeholder)` (a
    response rendered with the placeholder as its CSRF token), with the reader's own token in.
    Each language has its own page (its interface and the letter's translation)."""
    key = f"{key}:{translation.get_language()}"
    parts = _local.get(key)
    if parts is None:
        with _lock_for(key):
            parts = _local.get(key) or _shared_get(key)
            if parts is None:
                response = render(csrf_placeholder())
                if response.status_code != 200:
                    return response
                parts = tuple(response.content.split(csrf_placeholder().encode()))
                _shared_set(key, parts)
            _local.set(key, parts)
    # As the csrf_token tag does: the token, and the cookie that goes with it (a page without a
    # form, the tally, sets none).
    content = get_token(request).encode().join(parts) if len(parts) > 1 else parts[0]
    return private(HttpResponse(content))


def private(response: HttpResponse) -> HttpResponse:
    """The page holds the reader's CSRF token: no shared cache may keep it."""
    patch_cache_control(response, private=True)
    patch_vary_headers(response, ("Cookie",))
    return response


_locks = [threading.Lock() for _ in range(16)]


def _lock_for(key: str) -> threading.Lock:
    # The threads of a process that miss the same page wait for one render instead of each
    # rendering it.
    return _locks[hash(key) % len(_locks)]


def _letter_prefix(letter_id: int) -> str:
    # Every entry of a letter, of any release, begins with this: purge() deletes them by it.
    return f"page:{letter_id}:"


def _shared_key(key: str) -> str:
    """`key` begins with the kind of page and the letter's id (letter:12:...)."""
    _, letter_id, _ = key.split(":", 2)
    return f"{_letter_prefix(int(letter_id))}{RELEASE}:{key}"


def fragment(letter_id: int, name: str, vary_on: list, render: Callable[[], str]) -> str:
    """A part of a letter's page, from the shared cache or `render()`, kept under a key that
    names the letter, so that purge() deletes it with the letter's pages."""
    digest = _digest([str(value) for value in vary_on])
    key = f"{_letter_prefix(letter_id)}{RELEASE}:fragment:{name}:{digest}"
    try:
        content = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache that is down is a miss
        content = None
    if content is None:
        content = render()
        try:
            cache.set(key, content, MAX_AGE)
        except Exception:  # noqa: BLE001 - rendered all the same; kept next time
            logger.warning("page cache unavailable: fragment %s not kept", name)
    return mark_safe(content)  # noqa: S308 - HTML our templates rendered


def purge(letter_id: int) -> None:
    """Delete the letter's pages and fragments from the shared cache (every release's) and this
    process's memory. With the cache down, the entries left expire within MAX_AGE."""
    _local.drop_letter(letter_id)
    # The backends of config/cache.py; Redis being down is a warning there, not an error.
    cache.delete_prefix(_letter_prefix(letter_id))


def _shared_get(key: str):
    try:
        return cache.get(_shared_key(key))
    except Exception:  # noqa: BLE001 - a cache that is down is a miss: the page is rendered
        logger.warning("page cache unavailable: rendering %s", key.split(":", 1)[0])
        return None


def _shared_set(key: str, parts: tuple) -> None:
    try:
        cache.set(_shared_key(key), parts, MAX_AGE)
    except Exception:  # noqa: BLE001 - the page was served; the next reader renders it again
        logger.warning("page cache unavailable: %s not kept", key.split(":", 1)[0])


def _release() -> str:
    """A digest of the code, templates, static files' names and settings the pages are made
    from, taken when the process loads its code: an entry another release left in the shared
    cache (whose HTML may name static files this one no longer has) is never served."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{django.get_version()} {settings.SITE_URL} {settings.STATIC_URL}".encode())
    base = settings.BASE_DIR
    sources = [path for path in (base / "templates").rglob("*") if path.is_file()]
    sources += (base / "locale").rglob("*.po")  # the interface's translations
    for app in ("petition", "accounts", "config"):
        sources += (base / app).glob("*.py")
    for path in sorted(sources):
        digest.update(str(path.relative_to(base)).encode())
        digest.update(path.read_bytes())
    read_manifest = getattr(staticfiles_storage, "read_manifest", None)
    if read_manifest is not None:
        digest.update((read_manifest() or "").encode())
    return digest.hexdigest()


RELEASE = _release()


class _Pages:
    """The pages this process served last, up to LOCAL_BYTES, each for MAX_AGE seconds."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self.entries: OrderedDict[str, tuple[float, tuple]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str):
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            expires, parts = entry
            if expires < time.monotonic():
                self._drop(key)
                return None
            self.entries.move_to_end(key)
            return parts

    def set(self, key: str, parts: tuple) -> None:
        with self.lock:
            if key in self.entries:
                self._drop(key)
            self.entries[key] = (time.monotonic() + MAX_AGE, parts)
            self.size += sum(map(len, parts))
            while self.size > self.limit and self.entries:
                self._drop(next(iter(self.entries)))

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0

    def drop_letter(self, letter_id: int) -> None:
        with self.lock:
            for key in [key for key in self.entries if key.split(":", 2)[1] == str(letter_id)]:
                self._drop(key)

    def _drop(self, key: str) -> None:
        _, parts = self.entries.pop(key)
        self.size -= sum(map(len, parts))


_local = _Pages(LOCAL_BYTES)


def clear() -> None:
    """Forget this process's pages (tests; the shared cache is cleared with the cache)."""
    _local.clear()
