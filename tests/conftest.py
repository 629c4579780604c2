"""Shared fixtures. Unit tests run tasks inline; the tests marked `slow` start real processes:
a Celery worker, a Redis server of their own and an SMTP server on loopback."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail as django_mail

from config.celery import app as celery_app
from lib import addresses

ROOT = Path(__file__).resolve().parent.parent

# Unit tests: tasks run inline in the test process. Tests with a real worker switch this off.
celery_app.conf.task_always_eager = True
# A relay run inline ends as soon as the outbox is empty (a worker's watches it a while).
django_settings.MAIL_RELAY_LINGER = 0


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    # Hashing a password the production way takes half a second; tests make hundreds.
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    from petition import pagecache

    cache.clear()
    pagecache.clear()  # the pages each process keeps in memory, in front of the cache
    yield


@pytest.fixture
def organiser(django_user_model):
    return django_user_model.objects.create_user(
        email="organiser@example.org", password="a-long-test-password", name="Olive Organiser"
    )


@pytest.fixture
def make_letter(organiser):
    from petition import services
    from petition.models import Letter

    counter = iter(range(1, 10_000))

    def make(*, publish: bool = True, **fields) -> Letter:
        n = next(counter)
        defaults = {
            "slug": f"letter-{n}",
            "title": f"Letter number {n}",
            "addressee": "The Board of Example Corp",
            "body": "We ask you to *stop*.",
            "created_by": organiser,
        }
        defaults.update(fields)
        letter = Letter.objects.create(**defaults)
        if publish:
            letter = services.publish(letter_id=letter.pk)
        return letter

    return make


@pytest.fixture
def letter(make_letter):
    return make_letter(employer_domains="example.com")


@pytest.fixture
def deliver():
    """Send every mail waiting in the outbox through the real relay; return the locmem outbox."""
    from petition import tasks

    def run():
        tasks.relay_mail.apply()
        return django_mail.outbox

    return run


def sign_data(**overrides) -> dict:
    data = {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "visibility": "public",
        "affiliation": "Example Corp",
        "job_title": "Engineer",
        "team": "Analytics",
        "city": "London",
    }
    data.update(overrides)
    return data


def tamper(value: str, *, at: int = -1) -> str:
    """`value` with the character at `at` swapped for a different one of the same kind (a hex
    digit for a hex digit, a base64url letter for a letter), so the result is as well-formed as
    the original but certainly not equal to it."""
    position = at % len(value)
    old = value[position]
    alphabet = "0123456789abcdef" if old in "0123456789abcdef" else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    new = alphabet[(alphabet.index(old) + 1) % len(alphabet)] if old in alphabet else alphabet[0]
    changed = value[:position] + new + value[position + 1 :]
    assert changed != value and len(changed) == len(value)
    return changed


def link_in(message, path_part: str) -> str:
    """The first link in a mail's text whose path contains path_part, without the site prefix."""
    body = message.body if hasattr(message, "body") else message
    for word in body.split():
        if path_part in word:
            return word.replace(django_settings.SITE_URL, "")
    raise AssertionError(f"no {path_part} link in mail:\n{body}")


# --- real processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class RedisServer:
    """A redis-server process of the test's own, so a test can stop it without harming others."""

    def __init__(self, tmp: Path):
        self.port = free_port()
        self.tmp = tmp
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, 10, what="redis-server")

    def ping(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), 0.2) as s,
        ):
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


class SmtpSink:
    """aiosmtpd on loopback; keeps every message. `refuse` makes it answer 451 to every mail;
    `bounce` holds addresses it refuses for good (550, quoting the address, as servers do)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        self.peers = []
        self.rcpts = []  # every RCPT TO, accepted or not
        self.lock = threading.Lock()
        self.refuse = False
        self.bounce = set()
        self.delay = 0.0
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpts.append(address)
        if address in self.bounce:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse:
            return "451 Try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append((time.time(), envelope.rcpt_tos, message))
            self.peers.append(session.peer)  # (address, port): one port per SMTP session
        return "250 OK"

    def texts(self, to: str | None = None) -> list[str]:
        with self.lock:
            found = list(self.messages)
        out = []
        for _, rcpts, message in found:
            if to is None or to in rcpts:
                out.append(message.get_body(("plain",)).get_content())
        return out

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


class Worker:
    """A real `celery worker` process, on its own Redis, against the test database."""

    def __init__(self, broker_url: str, smtp_port: int, extra_env: dict | None = None):
        db = django_settings.DATABASES["default"]
        self.env = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
            ),
            "REDIS_URL": broker_url,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}?timeout=5",
            "SITE_URL": django_settings.SITE_URL,
            "MAIL_CLAIM_SECONDS": "4",
            "CELERY_VISIBILITY_TIMEOUT": "6",
            "DEBUG": "0",
            "STATIC_MANIFEST": "0",
            "SECRET_KEY": django_settings.SECRET_KEY,
            **(extra_env or {}),
        }
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines = []
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line)
                if " ready." in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30):
            self.stop()
            raise AssertionError("celery worker did not start:\n" + "".join(self.lines[-30:]))

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@contextlib.contextmanager
def broker(url: str):
    """Point this process's Celery producer at `url` and publish for real, for one test."""
    from django.test import override_settings

    old = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url = url
    celery_app.conf.task_always_eager = False
    _reset_producers()  # the producer pool is built lazily from broker_url
    # The cache the worker shares, as web and worker share one REDIS_URL in production: the
    # outbox relay's "already queued" mark lives there.
    cache = {
        "BACKEND": "config.cache.FailSoftRedisCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    try:
        with override_settings(CACHES={"default": cache}):
            yield
    finally:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        _reset_producers()
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = old


def _reset_producers():
    celery_app._pool = None
    celery_app.__dict__.get("amqp") and setattr(celery_app.amqp, "_producer_pool", None)


@pytest.fixture
def real_mail(redis_server, smtp_sink):
    """A Redis of its own, an SMTP sink and a Celery worker; this process publishes to them."""
    worker = Worker(redis_server.url, smtp_sink.port)
    worker.start()
    with broker(redis_server.url):
        yield {"redis": redis_server, "smtp": smtp_sink, "worker": worker}
    worker.stop()


@pytest.fixture
def awkward_log_key(settings):
    """A log key whose base64 holds "+" and "/", the characters that trip naive parsers of the
    vkey format (name+keyid+base64)."""
    from lib import signed_note
    from petition import tlog

    while True:
        key = signed_note.generate_private_key(tlog.key_name())
        encoded = signed_note.Signer.from_private_key(key).vkey().split("+", 2)[2]
        if "+" in encoded and "/" in encoded:
            break
    settings.LOG_SIGNING_KEY = key
    tlog.signer.cache_clear()
    yield key
    tlog.signer.cache_clear()


# --- signatures without the mail round trip --------------------------------------------------


def pending_signature(letter, email: str, **fields):
    """A signature as sign() leaves it, without the mail round trip."""
    from petition.models import Level, PendingIdentity, Signature

    values = {
        "name": email.split("@")[0].title(),
        "visibility": Level.PUBLIC,
        "version": letter.versions.order_by("-number").first(),
        **fields,
    }
    if values["visibility"] != Level.PRIVATE:
        return Signature.objects.create(
            letter=letter, email=email, email_hash=addresses.email_hash(email), **values
        )
    # As sign() keeps it: a private signature's name and address apart from its row.
    name = values.pop("name")
    signature = Signature.objects.create(
        letter=letter, email_hash=addresses.email_hash(email), **values
    )
    PendingIdentity.objects.create(signature=signature, name=name, email=email)
    return signature


def verified_signature(letter, email: str, **fields):
    from petition import services

    signature = pending_signature(letter, email, **fields)
    services.verify(signature_id=signature.pk)
    signature.refresh_from_db()
    return signature
