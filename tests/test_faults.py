"""Faults injected for real: processes stopped, killed and restarted, never mocked.

Each slow test shows that nothing a signer submitted is lost and no mail goes out twice:
- Redis (broker and cache) down while people sign;
- the Celery worker killed with SIGKILL half-way through a batch of mail;
- the SMTP server refusing connections, then answering 451, then back; restarted mid-batch;
- PostgreSQL restarted under a running app server (a private cluster: the shared one is never
  touched).
The Celery configuration that makes this work is checked at the end, without processes.
"""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from redis.exceptions import ConnectionError as RedisConnectionError

from config.celery import app as celery_app
from petition import outbox, services, tasks
from petition.models import Mail, Signature, Tally
from tests.conftest import ROOT, SmtpSink, Worker, broker, free_port, sign_data, wait_for


def confirm_link(text: str) -> str:
    match = re.search(r"https?://\S+/confirm/\S+", text)
    assert match, f"no confirmation link in:\n{text}"
    return re.sub(r"^https?://[^/]+", "", match.group(0))


def restart_sink(sink: SmtpSink) -> None:
    """aiosmtpd's controller cannot start twice: a new one on the same port and handler."""
    from aiosmtpd.controller import Controller

    sink.controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    sink.controller.start()


def settle_and_count(sink: SmtpSink, to: str, seconds: float) -> int:
    """Wait long enough for any duplicate to arrive (claims and broker redelivery included)."""
    time.sleep(seconds)
    tasks.relay_mail.delay()  # the beat sweep
    time.sleep(1)
    assert not Mail.objects.exists(), "the outbox still holds a mail"
    return len(sink.texts(to))


# --- 1. Redis down --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_redis_down_while_people_sign_loses_no_signature_and_no_mail(
    client, letter, real_mail, settings
):
    redis, smtp = real_mail["redis"], real_mail["smtp"]
    # The cache (rate limits, allauth's limits, cached counts) on the same Redis that goes down,
    # with the production backend.
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.FailSoftRedisCache",
            "LOCATION": redis.url.rsplit("/", 1)[0] + "/1",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    from django.core.cache import cache

    cache.set("probe", 1)
    assert cache.get("probe") == 1, "the cache really is that Redis"

    redis.stop()
    signers = ["rosa@example.com", "emma@example.com", "louise@example.com"]
    for email in signers:
        page = client.get(letter.get_absolute_url())
        assert page.status_code == 200, "the letter page is served without Redis"
        started = time.monotonic()
        response = client.post(reverse("sign", args=[letter.slug]), sign_data(email=email))
        assert response.status_code == 302, "the signer sees the normal answer"
        # Publishing gives up at once (the outbox keeps the mail), not after broker retries.
        assert time.monotonic() - started < 3, "signing waits on the dead broker"
        assert client.get(response["Location"]).status_code == 200, "check-your-inbox page"
    assert client.get("/").status_code == 200
    assert Signature.objects.filter(email__in=signers, status="pending").count() == 3
    assert Mail.objects.filter(kind="verification", to__in=signers).count() == 3
    # Accounts too: allauth keeps its rate limits in the cache.
    login = client.post(reverse("account_login"), {"login": "x@example.org", "password": "nope"})
    assert login.status_code == 200, "a wrong password gets the form again, not a 500"
    signup = client.post(
        reverse("account_signup"),
        {
            "email": "newcomer@example.org",
            "password1": "a-long-pass-42x",
            "password2": "a-long-pass-42x",
        },
    )
    assert signup.status_code == 302
    assert Mail.objects.filter(to="newcomer@example.org").count() == 1

    redis.start()  # same port, empty: whatever was queued before is gone
    tasks.relay_mail.delay()  # the beat sweep
    for email in [*signers, "newcomer@example.org"]:
        wait_for(lambda e=email: smtp.texts(e), 60, what=f"mail to {email} after Redis is back")
    wait_for(lambda: not Mail.objects.exists(), 15, what="outbox to empty")

    # The mails work: the first signer confirms and is counted.
    confirm = confirm_link(smtp.texts(signers[0])[0])
    assert client.post(confirm).status_code == 302
    assert Tally.objects.get(letter=letter).verified == 1
    for email in signers:
        assert len([t for t in smtp.texts(email) if "/confirm/" in t]) == 1, email


def test_the_cache_turns_an_unreachable_redis_into_misses():
    from config.cache import FailSoftRedisCache

    dead = FailSoftRedisCache(
        f"redis://127.0.0.1:{free_port()}/0",
        {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}},
    )
    assert dead.get("k", "default") == "default"
    assert dead.get_many(["a", "b"]) == {}
    dead.set("k", 1)
    assert dead.add("lock", 1) is True, "a lock nobody else can hold is taken"
    assert dead.delete("k") is False
    with pytest.raises(RedisConnectionError):
        dead.incr("counter")  # a count that cannot be kept is not pretended


# --- 2. worker killed mid-send --------------------------------------------------------------------


class GatedSink(SmtpSink):
    """An SMTP sink that keeps the message for `hang_on` and then does not answer: the sender
    is caught after the server took the mail and before it heard so, the worst moment."""

    def __init__(self):
        super().__init__()
        self.hang_on = None
        self.in_data = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        answer = await super().handle_DATA(server, session, envelope)
        if self.hang_on in envelope.rcpt_tos:
            self.in_data.set()
            await asyncio.sleep(30)
        return answer


@pytest.fixture
def gated_sink():
    sink = GatedSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_only_the_mail_in_flight_can_go_twice(
    letter, redis_server, gated_sink
):
    from django.db import transaction

    from petition import emails

    sink = gated_sink
    addresses = [f"batch{n}@example.com" for n in range(6)]
    sink.hang_on = addresses[2]
    first = Worker(redis_server.url, sink.port)
    first.start()
    second = Worker(redis_server.url, sink.port)
    try:
        with broker(redis_server.url):
            with transaction.atomic():  # one commit, one relay, one batch
                for address in addresses:
                    emails.queue_rendered(kind="test", to=address, subject="Hi", text=address)
            assert sink.in_data.wait(30), "the relay never reached the third mail"
            first.kill()  # SIGKILL: no cleanup, no ack, the claims stay on the rows
            killed_at = time.monotonic()
            assert first.proc.returncode == -9
            sink.hang_on = None
            left = set(Mail.objects.values_list("to", flat=True))
            assert left == set(addresses[2:]), "the first two were marked sent, one by one"
            assert Mail.objects.filter(claimed_until__isnull=False).count() == 4
            assert len(set(sink.peers)) == 1, "one SMTP session for the batch"

            # Back once the dead relay's claims (4 s) run out: the broker redelivers its
            # unacknowledged message (6 s), and the beat sweep runs a relay too.
            time.sleep(max(0.0, 7 - (time.monotonic() - killed_at)))
            second.start()
            tasks.relay_mail.delay()
            wait_for(lambda: not Mail.objects.exists(), 30, what="outbox to empty")
            time.sleep(2)  # room for any duplicate to arrive
    finally:
        first.stop()
        second.stop()
    counts = {a: len(sink.texts(a)) for a in addresses}
    # The one the server took while the worker died goes twice (the documented cost); the rest
    # exactly once, those sent before the kill and those after alike.
    assert counts == {**dict.fromkeys(addresses, 1), addresses[2]: 2}


# --- 3. SMTP server refusing ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_smtp_server_refusing_for_a_while_the_mail_goes_out_once_when_it_is_back(
    client, letter, redis_server, smtp_sink
):
    sink = smtp_sink
    sink.stop()  # connections refused
    worker = Worker(redis_server.url, sink.port, {"MAIL_RETRY_BACKOFF": "1"})
    worker.start()
    try:
        with broker(redis_server.url):
            response = client.post(
                reverse("sign", args=[letter.slug]), sign_data(email="lise@example.com")
            )
            assert response.status_code == 302
            wait_for(
                lambda: Mail.objects.filter(attempts__gte=2).exists(),
                30,
                what="two refused attempts",
            )
            mail = Mail.objects.get()
            assert "Connection" in mail.last_error or "Error" in mail.last_error

            # Back, but answering "451 try again later" to every message.
            sink.refuse = True
            restart_sink(sink)
            attempts = mail.attempts
            wait_for(
                lambda: Mail.objects.filter(attempts__gt=attempts).exists(),
                30,
                what="a refused DATA",
            )
            assert Mail.objects.get().last_error == "SMTPDataError 451"

            sink.refuse = False
            wait_for(lambda: sink.texts("lise@example.com"), 60, what="the mail once accepted")
            wait_for(lambda: not Mail.objects.exists(), 15, what="outbox to empty")
            assert settle_and_count(sink, "lise@example.com", seconds=3) == 1
    finally:
        worker.stop()
    assert Signature.objects.filter(email="lise@example.com", status="pending").exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_smtp_server_restarted_mid_batch_loses_no_mail(letter, redis_server, smtp_sink):
    from django.db import transaction

    from petition import emails

    sink = smtp_sink
    sink.delay = 0.05  # slow enough to stop the server half-way through the batch
    addresses = [f"crowd{n}@example.com" for n in range(40)]
    worker = Worker(redis_server.url, sink.port, {"MAIL_RETRY_BACKOFF": "1"})
    worker.start()
    try:
        with broker(redis_server.url):
            with transaction.atomic():
                for address in addresses:
                    emails.queue_rendered(kind="test", to=address, subject="Hi", text=address)
            wait_for(lambda: len(sink.messages) >= 5, 30, what="the batch to be under way")
            sink.stop()
            time.sleep(1)
            assert Mail.objects.exists(), "stopped before the end of the batch"
            restart_sink(sink)
            wait_for(lambda: not Mail.objects.exists(), 60, what="outbox to empty")
            time.sleep(1)
    finally:
        worker.stop()
    counts = [len(sink.texts(a)) for a in addresses]
    assert min(counts) == 1, "no mail lost"
    assert sum(counts) <= len(addresses) + 1, "at most the one in flight twice"
    assert "@example.com" not in "".join(worker.lines), "no address in the worker's log"


def _message(to: str):
    from django.core.mail import EmailMultiAlternatives

    return EmailMultiAlternatives(subject="Hi", body=f"Hello {to}", to=[to])


def test_a_kept_smtp_session_the_server_closed_is_replaced_and_nothing_is_lost(settings, smtp_sink):
    from config.settings import mailer_from_url

    settings.MAILERS = {"default": mailer_from_url(f"smtp://127.0.0.1:{smtp_sink.port}")}
    try:
        outbox.send_in_kept_session(_message("one@example.com"))
        outbox.send_in_kept_session(_message("two@example.com"))
        assert len(set(smtp_sink.peers)) == 1, "the second mail went on the same session"
        smtp_sink.stop()  # the server goes away, and with it the kept session
        restart_sink(smtp_sink)
        outbox.send_in_kept_session(_message("three@example.com"))
    finally:
        outbox.drop_session()
    assert [len(smtp_sink.texts(f"{n}@example.com")) for n in ("one", "two", "three")] == [1, 1, 1]
    assert len(set(smtp_sink.peers)) == 2, "a new session for the third"


def test_a_refused_mail_drops_the_kept_session(settings, smtp_sink):
    from config.settings import mailer_from_url

    settings.MAILERS = {"default": mailer_from_url(f"smtp://127.0.0.1:{smtp_sink.port}")}
    try:
        outbox.send_in_kept_session(_message("one@example.com"))
        smtp_sink.refuse = True
        with pytest.raises(outbox.TRANSIENT):
            outbox.send_in_kept_session(_message("two@example.com"))
        assert outbox._session["mailer"] is None
        smtp_sink.refuse = False
        outbox.send_in_kept_session(_message("two@example.com"))
    finally:
        outbox.drop_session()
    assert len(smtp_sink.texts("two@example.com")) == 1
    assert len(set(smtp_sink.peers)) == 2


# --- 4. PostgreSQL restarted ----------------------------------------------------------------------


def _pg_bin() -> Path | None:
    """The server binaries (initdb, pg_ctl): Debian keeps them out of PATH, per version."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


PG_BIN = _pg_bin()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, run as the postgres OS user when we are root."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="undersigned-pg-"))
        self.data = self.dir / "data"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")

    def run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, *args], check=True, capture_output=True, text=True, timeout=60
        )

    def pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
            "-w",
            *args,
        )

    def start(self) -> None:
        self.run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-N",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        self.pg_ctl("start")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def psql(self, database: str, sql: str) -> str:
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atq",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout.strip()

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres():
    if PG_BIN is None:
        pytest.fail("no PostgreSQL server binaries (initdb, pg_ctl): install postgresql")
    cluster = PrivatePostgres()
    cluster.start()
    yield cluster
    cluster.destroy()


def load_test_schema(pg: "PrivatePostgres", name: str) -> None:
    """The schema of the test database (built from the models), loaded into a new database of
    the private cluster."""
    test_db = django_settings.DATABASES["default"]
    schema = subprocess.run(
        [
            "pg_dump",
            "-h",
            test_db["HOST"],
            "-p",
            str(test_db["PORT"] or 5432),
            "-U",
            test_db["USER"],
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            test_db["NAME"],
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    pg.psql("postgres", f"CREATE DATABASE {name}")
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(pg.port),
            "-U",
            "postgres",
            "-d",
            name,
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
        ],
        input=schema,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


SETUP_LETTER = """
from accounts.models import User
from petition import services
from petition.models import Letter

owner = User.objects.create_user(email="organiser@example.org", password=None)
letter = Letter.objects.create(
    slug="restart", title="Restart", addressee="The Board", body="Text.", created_by=owner
)
services.publish(letter_id=letter.pk)
"""


def app_env(database_url: str, port: int, smtp_port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "ALLOWED_HOSTS"}}
    env.update(
        DATABASE_URL=database_url,
        DATABASE_CONN_MAX_AGE="600",  # one persistent connection, as in production
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}?timeout=5",
        SITE_URL=f"http://127.0.0.1:{port}",
        DEBUG="0",
        STATIC_MANIFEST="0",
        SECRET_KEY=django_settings.SECRET_KEY,
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


def sign_over_http(session, base: str, email: str):
    page = session.get(f"{base}/letters/restart/", timeout=10)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return session.post(
        f"{base}/letters/restart/sign/",
        data={**sign_data(email=email), "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=10,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_postgres_restarted_the_app_recovers_without_a_restart_of_its_own(
    private_postgres, smtp_sink
):
    import requests

    pg = private_postgres
    load_test_schema(pg, "app")
    port = free_port()
    env = app_env(pg.url("app"), port, smtp_sink.port)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP_LETTER],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "30",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        wait_for(lambda: _answers(session, base), 90, what="gunicorn")
        assert sign_over_http(session, base, "before@example.com").status_code == 302
        backends = pg.psql("app", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'app'")
        assert int(backends) >= 2, "the app holds a persistent connection (and psql is one)"

        pg.pg_ctl("-m", "fast", "restart")  # every connection the app holds is now dead

        response = sign_over_http(session, base, "after@example.com")
        assert response.status_code == 302, "the first request after the restart succeeds"
        assert session.get(f"{base}/", timeout=10).status_code == 200
    finally:
        server.terminate()
        output = server.communicate(timeout=15)[0]
    assert server.returncode == 0 or "Internal Server Error" not in output, output
    stored = pg.psql("app", "SELECT email FROM petition_signature ORDER BY id")
    assert stored.split() == ["before@example.com", "after@example.com"]
    for email in ("before@example.com", "after@example.com"):
        wait_for(lambda e=email: smtp_sink.texts(e), 15, what=f"mail to {email}")
    assert pg.psql("app", "SELECT count(*) FROM petition_mail") == "0"


QUEUE_MAILS = """
import sys
from django.db import transaction
from petition import emails

with transaction.atomic():
    for address in sys.argv[1:]:
        emails.queue_rendered(kind="test", to=address, subject="Hello", text="Hello " + address)
"""


def _queue_mails_in(env: dict, addresses: list[str]) -> None:
    """Queue mails as the web app does (outbox row, then a task on commit), from a process of
    its own, so the only connection the cluster keeps afterwards is the worker's."""
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); exec(open(0).read())", *addresses],
        input=QUEUE_MAILS,
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_keeps_its_database_connection_and_replaces_it_after_a_restart(
    private_postgres, redis_server, smtp_sink
):
    """CELERY_DB_REUSE_MAX: one PostgreSQL backend serves task after task (Celery's default opens
    one per task); after PostgreSQL restarts, the next mail still goes out, on a new one. The
    worker also keeps its SMTP session from one mail to the next."""
    pg = private_postgres
    load_test_schema(pg, "app")
    env = {
        **app_env(pg.url("app"), free_port(), smtp_sink.port),
        "REDIS_URL": redis_server.url,
    }
    worker = Worker(redis_server.url, smtp_sink.port, extra_env={"DATABASE_URL": pg.url("app")})
    others = "SELECT pid FROM pg_stat_activity WHERE datname = 'app' AND pid <> pg_backend_pid()"
    worker.start()
    try:
        first = [f"first{n}@example.com" for n in range(5)]
        _queue_mails_in(env, first)
        for address in first:
            wait_for(lambda a=address: smtp_sink.texts(a), 20, what=f"mail to {address}")
        wait_for(lambda: pg.psql("app", "SELECT count(*) FROM petition_mail") == "0", 10)
        backend = pg.psql("app", others)
        assert backend and len(backend.split()) == 1, "the worker keeps one connection open"

        second = [f"second{n}@example.com" for n in range(5)]
        _queue_mails_in(env, second)
        for address in second:
            wait_for(lambda a=address: smtp_sink.texts(a), 20, what=f"mail to {address}")
        assert pg.psql("app", others) == backend, "the same connection, not one per task"
        assert len(set(smtp_sink.peers)) == 1, "one SMTP session for ten mails"

        pg.pg_ctl("-m", "fast", "restart")  # the worker's connection is now dead
        _queue_mails_in(env, ["after@example.com"])
        wait_for(lambda: smtp_sink.texts("after@example.com"), 20, what="mail after restart")
        wait_for(lambda: pg.psql("app", "SELECT count(*) FROM petition_mail") == "0", 10)
    finally:
        worker.stop()
    assert "OperationalError" not in "".join(worker.lines), "".join(worker.lines[-40:])
    for address in [*first, *second, "after@example.com"]:
        assert len(smtp_sink.texts(address)) == 1, address


def _answers(session, base: str) -> bool:
    import requests

    # A slow first answer (a busy machine) is asked again, like a refused connection.
    try:
        return session.get(f"{base}/", timeout=10).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


# --- 5. the configuration that makes this work ----------------------------------------------------


def test_celery_acknowledges_late_and_requeues_on_worker_loss():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1, "a dying worker holds at most one message"


def test_tasks_have_time_limits_shorter_than_the_broker_visibility_timeout():
    conf = celery_app.conf
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    # A message is handed to another worker only after this: a task still running within its
    # time limit is never run twice at once.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_a_mail_claim_outlives_any_sending_attempt():
    """While a worker may still be sending, no re-queued copy can claim the same mail."""
    assert celery_app.conf.task_time_limit < django_settings.MAIL_CLAIM_SECONDS


def test_a_relay_ends_well_inside_its_task_time_limit():
    """A relay stops claiming after its budget, so the task is never killed by its time limit
    half-way through a batch, and so never outlives a claim it took."""
    assert celery_app.conf.task_soft_time_limit > outbox.BUDGET_SECONDS


def test_the_beat_sweep_runs_the_relay():
    schedule = {e["task"] for e in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert "petition.tasks.relay_mail" in schedule


def test_jittered_backoff_grows_and_spreads_retries_out():
    waits = {outbox.backoff(4) for _ in range(50)}
    assert len(waits) > 3, "jitter: retries of many mails do not come back in step"
    ceiling = django_settings.MAIL_RETRY_BACKOFF * 2**4
    assert ceiling / 2 <= min(waits) and max(waits) <= ceiling
    assert max(outbox.backoff(n) for n in range(40)) <= django_settings.MAIL_RETRY_BACKOFF_MAX


@pytest.mark.django_db
def test_a_mail_whose_relay_the_broker_never_got_is_sent_by_the_sweep(letter, monkeypatch):
    """The outbox row is the promise: with no relay queued for it, the periodic one sends it."""
    from django.core import mail as django_mail

    monkeypatch.setattr(outbox, "kick_relay", lambda: None)  # as if the broker lost it
    services.sign(letter=letter, name="Ada", email="ada@example.com", visibility="public")
    assert tasks.relay_mail.apply().get() == 1
    assert [m.to for m in django_mail.outbox] == [["ada@example.com"]]
    assert not Mail.objects.exists()
