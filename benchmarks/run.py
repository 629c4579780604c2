"""`make bench`: a signing surge on one small machine, measured.

On loopback this starts, all of its own: a PostgreSQL database (`undersigned_bench`, dropped at the
end), a redis-server on a free port, an SMTP sink, a Celery worker and the app under gunicorn. It
seeds one letter with a million verified signatures through COPY, then drives load with wrk
(saturated, closed loop) and with benchmarks/openloop.py (fixed rate, open loop), and measures
each figure of docs/performance.md against two floors: a Django view that does one INSERT and one
that returns a constant, served by the same processes in the same run.

It prints a table, writes benchmarks/results/latest.json and rewrites the measured section of
docs/performance.md. Every process it starts runs in its own process group and is stopped in a
`finally`, whatever happens.

Adding a figure is one function: decorate it with @phase, take the Bench, return {key: value}.
Phases run in the order they are defined; targets and floors are declared on the decorator.

    .venv/bin/python benchmarks/run.py [--quick] [--rows N] [--keep-db] [--only NAME,...]
"""

import argparse
import contextlib
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from lib import addresses

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(ROOT))

from benchmarks import delivery_bench, embedded, openloop  # noqa: E402

PY = sys.executable
DB_NAME = os.environ.get("BENCH_DB_NAME", "undersigned_bench")
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
SLUG = "surge"
VERIFY_TOKENS = 30_000  # pending signatures made ready for the verification phase
VERIFY_WARM_TOKENS = 4_000  # of which these warm it up
# Phases not started by then are skipped (and said so): `make bench` stays under 10 minutes.
TIME_BUDGET_S = 480
CORES = os.cpu_count() or 1

# Raised for the run only: every request comes from 127.0.0.1, so the per-IP limit would stop the
# surge after 60 signatures. The limiter still runs (and costs its Redis round trips).
RAISED_LIMITS = {
    "SIGN_LIMIT_PER_IP": "100000000/h",
    "SIGN_LIMIT_PER_EMAIL": "100000/h",
    "RESEND_LIMIT": "100000/h",
    "MANAGE_LIMIT": "100000/h",
}


# --- the figures ----------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    fn: object
    targets: dict  # key -> (">=" or "<=", number)
    floors: dict  # key -> floor key it is divided by
    doc: dict  # key -> how it is measured, for the table


PHASES: list[Phase] = []


def phase(*, targets=None, floors=None, doc=None):
    """Register a measurement. `targets` {"key": (">=", 330)}, `floors` {"key": "floor_key"}."""

    def register(fn):
        PHASES.append(Phase(fn.__name__, fn, targets or {}, floors or {}, doc or {}))
        return fn

    return register


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting")
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path


class Bench:
    """What a phase needs: the servers' addresses, load tools, the database, notes."""

    def __init__(self, args, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.quick = args.quick
        self.procs: list[Proc] = []
        self.results: dict = {}
        self.details: dict = {}
        self.notes: list[str] = []
        self.web_port = free_port()
        self.redis_port = free_port()
        self.smtp_port = free_port()
        self.sink_file = tmp / "smtp-received.txt"
        self.database_url = f"{PG_SERVER}/{DB_NAME}"
        self.host = "127.0.0.1"
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "EMAIL_URL": f"smtp://127.0.0.1:{self.smtp_port}?timeout=10",
            "SITE_URL": self.base,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECRET_KEY": "bench-" + secrets.token_hex(24),
            "EMAIL_HASH_KEY": "bench-hash-" + secrets.token_hex(24),
            "DEBUG": "0",
            "STATIC_MANIFEST": "0",
            "VAR_DIR": str(tmp / "var"),
            "PYTHONUNBUFFERED": "1",
            **RAISED_LIMITS,
        }
        (tmp / "var" / "static").mkdir(parents=True)  # whitenoise warns without it
        self.letter_id = None
        self.organiser_id = None
        self.postmaster = None
        # Each request on a new connection, as from a crowd of browsers (see docs/performance.md)
        self.close = not args.keep_alive
        self.wrk_headers = ["-H", "Connection: close"] if self.close else []
        self.close_header = "Connection: close\r\n" if self.close else ""

    # processes

    def start(self, name: str, argv: list[str], **kwargs) -> Proc:
        log = self.tmp / f"{name}.log"
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
            **kwargs,
        )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        """Stop the servers one by one, last started first (the web before the broker it
        publishes to), each with its whole process group."""
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.popen.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(10)
            # Anything left in the group (a gunicorn or Celery child) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(5)
        self.procs.clear()

    def pids(self, name: str) -> list[int]:
        """The process and its children (gunicorn's workers, Celery's pool)."""
        proc = next(p for p in self.procs if p.name == name)
        return [proc.popen.pid, *children(proc.popen.pid)]

    # HTTP

    def get(self, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def csrf_pair(self) -> tuple[str, str]:
        """What a browser holds after loading the letter page: the cookie and the form's token."""
        status, headers, body = self.get(f"/letters/{SLUG}/")
        assert status == 200, f"letter page answered {status}"
        cookie = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", "")).group(1)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        return cookie, token

    def csrf_file(self, threads: int) -> Path:
        path = self.tmp / f"csrf-{secrets.token_hex(4)}.txt"
        path.write_text(
            "".join(f"{c} {t}\n" for c, t in (self.csrf_pair() for _ in range(threads)))
        )
        return path

    # load

    def duration(self, seconds: float) -> float:
        return max(3.0, seconds / 3) if self.quick else seconds

    def wrk(
        self,
        path,
        *,
        script,
        args=(),
        seconds=10,
        connections=None,
        threads=2,
        warmup=2,
        warmup_args=None,
    ):
        """Saturate `path` with wrk for `seconds` after `warmup` seconds of the same load (every
        worker has run this code path before the clock starts); requests/s and wrk's numbers."""
        connections = connections or self.args.connections
        seconds = self.duration(seconds)
        if warmup:
            subprocess.run(
                [
                    "wrk",
                    "-t",
                    str(threads),
                    "-c",
                    str(connections),
                    "-d",
                    f"{warmup}s",
                    *self.wrk_headers,
                    "-s",
                    str(BENCH / "lua" / script),
                    self.base + path,
                    "--",
                    *map(str, args if warmup_args is None else warmup_args),
                ],
                capture_output=True,
                timeout=warmup + 60,
                check=True,
            )
        with self.cpu_meter() as cpu:
            out = subprocess.run(
                [
                    "wrk",
                    "-t",
                    str(threads),
                    "-c",
                    str(connections),
                    "-d",
                    f"{seconds:.0f}s",
                    "--timeout",
                    "10s",
                    *self.wrk_headers,
                    "-s",
                    str(BENCH / "lua" / script),
                    self.base + path,
                    "--",
                    *map(str, args),
                ],
                capture_output=True,
                text=True,
                timeout=seconds + 60,
                check=True,
            ).stdout
        line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
        raw = json.loads(line.removeprefix("WRKJSON "))
        errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
        ok = raw["requests"] - errors
        result = {
            "per_s": round(ok / (raw["duration_us"] / 1e6), 1),
            "requests": raw["requests"],
            "errors": errors,
            "error_detail": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")},
            "p50_ms": round(raw["p50_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2),
            "connections": connections,
            "seconds": seconds,
            "cores_used": cpu,
            "cpu_ms_per_request": per_request(cpu, ok / (raw["duration_us"] / 1e6)),
        }
        if errors > 0.01 * max(1, raw["requests"]):
            detail = ", ".join(f"{k} {v}" for k, v in result["error_detail"].items() if v)
            self.notes.append(
                f"{path}: {errors} of {raw['requests']} wrk requests failed ({detail})"
            )
        return result

    def steady(self, make_request, *, rate: float, seconds: float = 15, warmup: float = 2):
        """Open loop at `rate` a second; latency from each request's scheduled time."""
        seconds = self.duration(seconds)
        with self.cpu_meter() as cpu:
            result = openloop.run(
                self.host,
                self.web_port,
                make_request,
                rate=rate,
                duration=seconds,
                warmup=warmup,
                max_conns=128,
            )
        summary = result.summary()
        summary["cores_used"] = cpu
        summary["cpu_ms_per_request"] = per_request(cpu, summary["ok"] / seconds)
        if summary["errors"] > 0.01 * max(1, summary["measured"]):
            self.notes.append(f"steady {rate}/s: {summary['errors']} requests failed")
        return result, summary

    def get_request(self, path: str, headers: dict | None = None):
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        data = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.web_port}\r\n"
            f"{self.close_header}{extra}\r\n"
        ).encode()
        return lambda i: data

    def sign_request(self, path: str, prefix: str):
        """A browser's sign POST: one session's CSRF pair, a new address each time."""
        cookie, token = self.csrf_pair()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.web_port}\r\n"
            f"Origin: {self.base}\r\nCookie: csrftoken={cookie}\r\n{self.close_header}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        )

        def make(i: int) -> bytes:
            body = (
                f"csrfmiddlewaretoken={token}&name=Steady+Signer+{i}&email={prefix}-{i}%40bench"
                ".example.org&visibility=public&affiliation=Example+Corp&job_title=Engineer"
                "&team=&city=London&website="
            ).encode()
            return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body

        return make

    def drain_mail(self, timeout: float = 90) -> dict:
        """Wait until the worker has sent every queued mail (the outbox is empty)."""
        from petition.models import Mail

        started = time.monotonic()
        unsent = Mail.objects.filter(failed_at__isnull=True)  # bounces stay, without addresses
        backlog = unsent.count()
        while (left := unsent.count()) and time.monotonic() - started < timeout:
            time.sleep(0.25)
        seconds = time.monotonic() - started
        if left:
            self.notes.append(f"{left} mails still queued after waiting {timeout:.0f}s")
        return {"backlog": backlog, "left": left, "seconds": round(seconds, 1)}

    # CPU: how much of the machine this run used, and how much others did meanwhile

    @contextlib.contextmanager
    def cpu_meter(self):
        """Cores used, while the block runs, by each of our processes, by our PostgreSQL
        backends, by the load generator (this process and wrk) and by everything else on the
        machine (other people's work: the noise in the figures)."""
        numbers: dict = {}
        before_total, before_busy = machine_cpu()
        before = self.our_cpu()
        try:
            yield numbers
        finally:
            total, busy = machine_cpu()
            after = self.our_cpu()
            span = total - before_total  # CPU-seconds the machine had (all cores)
            if span > 0:
                wall = span / CORES
                ours = 0.0
                for key, pids in after.items():
                    used = sum(t - before.get(key, {}).get(pid, 0.0) for pid, t in pids.items())
                    numbers[key] = round(used / wall, 2)
                    ours += used
                numbers["others"] = round(max(0.0, (busy - before_busy) - ours) / wall, 2)
                numbers["machine_busy_pct"] = round(100 * (busy - before_busy) / span, 1)

    def our_cpu(self) -> dict:
        """{group: {pid: CPU seconds so far}} for our servers, backends and load generator."""
        out = {}
        servers = set()
        for proc in self.procs:
            pids = self.pids(proc.name)
            servers.update(pids)
            out[proc.name] = {pid: process_cpu(pid) for pid in pids}
        backends = self.pg_backends()
        out["postgres"] = {pid: process_cpu(pid) for pid in backends}
        # A connection opened and closed within the window (a Celery task's) leaves no backend
        # to read: its CPU lands in the postmaster's "children" counters, with that of any
        # other database's short connections (on a quiet machine, ours).
        if self.postmaster is None and backends:
            self.postmaster = parent_pid(backends[0])
        if self.postmaster:
            out["pg_ended"] = {self.postmaster: process_cpu(self.postmaster)}
        mine = [os.getpid(), *children(os.getpid())]
        out["load_generator"] = {pid: process_cpu(pid) for pid in mine if pid not in servers}
        return out

    def pg_backends(self) -> list[int]:
        with contextlib.suppress(Exception), self.db() as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", [DB_NAME]
                ).fetchall()
            ]
        return []

    @contextlib.contextmanager
    def db(self):
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            yield conn


def per_request(cores: dict, rate: float) -> dict:
    """CPU milliseconds each component spent per request, from cores used at `rate`/s."""
    if not rate:
        return {}
    skip = {"machine_busy_pct", "others"}
    out = {k: round(v * 1000 / rate, 2) for k, v in cores.items() if k not in skip}
    out["total_ours"] = round(sum(out.values()), 2)
    return out


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def children(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                for child in (task / "children").read_text().split():
                    found.append(int(child))
                    todo.append(int(child))
    return found


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime + stime, and the same of children waited for (wrk, once it has exited)
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def machine_cpu() -> tuple[float, float]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return total / tick, (total - idle) / tick


def rss_kb(pid: int, key: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


# --- setup ----------------------------------------------------------------------------------


def schema_drift() -> list[str]:
    """Model changes the committed migrations do not have yet (what makemigrations --check sees),
    worked out in memory: nothing is written."""
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.state import ProjectState

    loader = MigrationLoader(None, ignore_no_migrations=True)
    changes = MigrationAutodetector(loader.project_state(), ProjectState.from_apps(apps)).changes(
        graph=loader.graph
    )
    return [
        f"{label}: {op.describe()}"
        for label, ms in changes.items()
        for m in ms
        for op in m.operations
    ]


def create_database(b: Bench) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    drift = schema_drift()
    if drift:
        # The models are ahead of the committed migrations (engineers are at work): build the
        # schema from the models, as the test suite does with --nomigrations, and say so.
        b.env["BENCH_SCHEMA_FROM_MODELS"] = "1"
        b.notes.append(
            "schema built from the models (migrations lag behind: "
            + "; ".join(drift[:6])
            + ("; ..." if len(drift) > 6 else "")
            + ")"
        )
        argv = [PY, "manage.py", "migrate", "--run-syncdb", "--noinput", "-v", "0"]
    else:
        argv = [PY, "manage.py", "migrate", "--noinput", "-v", "0"]
    done = subprocess.run(argv, cwd=ROOT, env=b.env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"migrate failed:\n{done.stdout}\n{done.stderr}")
    b.details["schema"] = "models (migrations out of date)" if drift else "migrations"
    with b.db() as conn:
        # The INSERT floor's table: the benchmark's own, not the app's.
        conn.execute(
            "CREATE TABLE bench_floor (id bigserial PRIMARY KEY, email varchar(254) NOT NULL, "
            "created_at timestamptz NOT NULL)"
        )
        # The sign floor's outbox: a mail row (address, subject, text), apart so no relay
        # sends it, and the same whatever the app's mail table looks like.
        conn.execute(
            "CREATE TABLE bench_floor_outbox (id bigserial PRIMARY KEY, kind varchar(50) NOT NULL,"
            ' "to" varchar(254) NOT NULL, subject varchar(300) NOT NULL, text text NOT NULL,'
            " created_at timestamptz NOT NULL)"
        )


def copy_signatures(conn, letter, rows) -> None:
    """COPY rows ({column: value} for the columns they set; other columns get their model
    default, or NULL) into the signature table."""
    from django.db import connection as django_connection

    from petition.models import Signature

    first = next(rows)
    given = list(first)
    fixed = {}
    for f in Signature._meta.local_concrete_fields:
        if f.column in given or f.primary_key:
            continue
        if f.null and not f.has_default():
            continue
        default = f.get_default()  # "" for a text field without one
        if default is None:
            raise RuntimeError(f"seeding does not know how to fill signature column {f.column}")
        fixed[f.column] = f.get_db_prep_save(default, django_connection)
    columns = given + list(fixed)
    tail = "\t".join(text_value(v) for v in fixed.values())

    def lines():
        for row in _chain(first, rows):
            yield (
                "\t".join(text_value(row[c]) for c in given) + ("\t" + tail if tail else "") + "\n"
            )

    table = Signature._meta.db_table
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buffer = []
        size = 0
        for line in lines():
            buffer.append(line)
            size += len(line)
            if size > 1 << 20:
                copy.write("".join(buffer))
                buffer, size = [], 0
        if buffer:
            copy.write("".join(buffer))


def _chain(first, rest):
    yield first
    yield from rest


def text_value(value) -> str:
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "obj") and type(value).__name__ in ("Json", "Jsonb"):  # a JSONField's default
        return json.dumps(value.obj).replace("\\", "\\\\")
    return str(value)


def seed(b: Bench) -> None:
    """One open letter, a million verified signatures (COPY), its Tally and the breakdowns kept
    by the write paths, and VERIFY_TOKENS pending signatures whose tokens the verify phase posts."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count

    from petition import services, tokens
    from petition.models import DailyTally, DomainTally, Letter, LetterVersion, Signature, Tally

    organiser = get_user_model().objects.create_user(
        email="organiser@bench.example.org", password=secrets.token_hex(16), name="Bench Organiser"
    )
    letter = Letter.objects.create(
        slug=SLUG,
        title="Stop selling FaceFinder to police",
        addressee="The leadership of Example Corp",
        body=(ROOT / "petition/management/commands/demo.py").read_text().split('"""')[1],
        created_by=organiser,
        employer_domains="example.com",
        goal=2_000_000,
    )
    letter = services.publish(letter_id=letter.pk)
    version = LetterVersion.objects.get(letter=letter, number=1)
    b.letter_id, b.organiser_id = letter.pk, organiser.pk
    n = b.args.rows
    started = time.monotonic()
    now = datetime.now(UTC)
    span = timedelta(days=30).total_seconds()
    randoms = os.urandom(16 * n)
    refs = os.urandom(32 * n).hex()
    levels = ["public"] * 7 + ["anonymous"] * 2 + ["private"]

    def verified_rows():
        for i in range(n):
            level = levels[i % 10]
            employee = i % 3 == 0
            email = f"signer{i}@example.com" if employee else f"signer{i}@mail.example.net"
            at = now - timedelta(seconds=span * (n - i) / n)
            private = level == "private"
            yield {
                "public_id": uuid.UUID(bytes=randoms[16 * i : 16 * i + 16], version=4),
                "letter_id": letter.pk,
                "version_id": version.pk,
                "name": "" if private else f"Signer {i}",
                "email": "" if private else email,
                "email_hash": addresses.email_hash(email),
                "affiliation": "Example Corp" if employee else "",
                "job_title": "Engineer" if i % 2 else "Designer",
                "city": "London",
                "show_job_title": i % 4 == 0,
                "show_city": i % 5 == 0,
                "visibility": level,
                "status": "verified",
                "is_hidden": False,
                "is_verified_employee": employee,
                "employer_domain": "example.com" if employee else "",
                "log_ref": refs[64 * i : 64 * i + 64],
                "created_at": at - timedelta(minutes=5),
                "verified_at": at,
            }

    def pending_rows():
        for i in range(VERIFY_TOKENS):
            email = f"pending{i}@example.com" if i % 3 == 0 else f"pending{i}@mail.example.net"
            yield {
                "public_id": uuid.uuid4(),
                "letter_id": letter.pk,
                "version_id": version.pk,
                "name": f"Pending {i}",
                "email": email,
                "email_hash": addresses.email_hash(email),
                "affiliation": "",
                "job_title": "",
                "city": "",
                "show_job_title": False,
                "show_city": False,
                "visibility": levels[i % 10],
                "status": "pending",
                "is_hidden": False,
                "is_verified_employee": False,
                "employer_domain": "",
                "log_ref": "",
                "created_at": now,
                "verified_at": None,
            }

    with b.db() as conn:
        copy_signatures(conn, letter, verified_rows())
        copy_signatures(conn, letter, pending_rows())
    copied = time.monotonic() - started
    # The counts the write paths would have kept, from the rows just copied.
    counted = Signature.objects.counted().filter(letter=letter)
    by_level = dict(counted.values_list("visibility").annotate(n=Count("pk")))
    employees = counted.filter(is_verified_employee=True).count()
    total = sum(by_level.values())
    Tally.objects.filter(letter=letter).update(
        verified=total,
        public=by_level.get("public", 0),
        anonymous=by_level.get("anonymous", 0),
        private=by_level.get("private", 0),
        employees=employees,
    )
    LetterVersion.objects.filter(pk=version.pk).update(signature_count=total)
    DomainTally.objects.create(letter=letter, domain="example.com", count=employees)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DailyTally._meta.db_table} (letter_id, day, change) "  # noqa: S608
            f"SELECT letter_id, (verified_at AT TIME ZONE 'UTC')::date, count(*) "
            f"FROM {Signature._meta.db_table} WHERE letter_id = %s AND status = 'verified' "
            f"GROUP BY 1, 2",
            [letter.pk],
        )
    for hook in SEED_HOOKS:
        hook(b, letter)
    with b.db() as conn:
        conn.execute("VACUUM ANALYZE")
    pending = Signature.objects.filter(letter=letter, status="pending").values_list(
        "pk", "email_hash"
    )
    # The first few thousand warm the verification path up; the rest are measured.
    with (
        (b.tmp / "verify-tokens-warm.txt").open("w") as warm,
        (b.tmp / "verify-tokens.txt").open("w") as out,
    ):
        for n, (pk, hashed) in enumerate(pending.iterator(chunk_size=5000)):
            token = tokens.make(
                tokens.VERIFY, signature_id=pk, letter_id=letter.pk, email_hash=hashed
            )
            (warm if n < VERIFY_WARM_TOKENS else out).write(token + "\n")
    b.details["seed"] = {
        "verified_signatures": total,
        "pending_for_verify": VERIFY_TOKENS,
        "copy_s": round(copied, 1),
        "total_s": round(time.monotonic() - started, 1),
    }
    print(f"  seeded {total:,} verified signatures by COPY in {copied:.1f}s", flush=True)


# More seeding (the public log's million entries, say) is a function taking (bench, letter).
SEED_HOOKS: list = []


def gunicorn_argv(b: Bench, workers: int) -> list[str]:
    worker_class = (
        ["-k", "gthread", "--threads", str(b.args.threads)]
        if b.args.threads > 1
        else ["-k", "sync"]
    )
    return [
        PY,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{b.web_port}",
        "--workers",
        str(workers),
        *worker_class,
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
        "--keep-alive",
        "5",
        "--log-level",
        "warning",
    ]


def start_servers(b: Bench) -> None:
    redis = b.start(
        "redis",
        [
            "redis-server",
            "--port",
            str(b.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(b.tmp),
        ],
    )
    wait_until(lambda: port_open(b.redis_port), 10, "redis-server", redis.popen)
    sink = b.start(
        "smtp_sink", [PY, str(BENCH / "smtp_sink.py"), str(b.smtp_port), str(b.sink_file)]
    )
    wait_until(lambda: port_open(b.smtp_port), 15, "SMTP sink", sink.popen)
    worker = b.start(
        "celery",
        [
            PY,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            f"--pool={b.args.celery_pool}",
            f"--concurrency={b.args.celery_concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
    )
    wait_until(lambda: " ready." in worker.log.read_text(), 60, "Celery worker", worker.popen)
    web = b.start("gunicorn", gunicorn_argv(b, b.args.workers))
    wait_until(lambda: b.get("/bench/floor/constant/")[0] == 200, 60, "gunicorn", web.popen)
    # Load every worker's code and database connection before the first figure.
    subprocess.run(
        ["wrk", "-t1", "-c", str(b.args.connections), "-d", "2s", b.base + f"/letters/{SLUG}/"],
        capture_output=True,
        check=False,
    )


# --- the phases, in the order they run ---------------------------------------------------------


@phase(
    doc={
        "floor_constant_per_s": "GETs/s of a view returning a constant, wrk saturated",
        "floor_constant_p99_ms_at_300": "p99 of the constant view at a steady 300/s",
    }
)
def floor_constant(b: Bench) -> dict:
    sat = b.wrk("/bench/floor/constant/", script="get.lua")
    _, steady = b.steady(b.get_request("/bench/floor/constant/"), rate=300)
    b.details["floor_constant"] = {"saturated": sat, "steady_300": steady}
    return {"floor_constant_per_s": sat["per_s"], "floor_constant_p99_ms_at_300": steady["p99_ms"]}


@phase(
    doc={
        "floor_insert_per_s": "form POSTs/s (CSRF checked) to a view doing one INSERT,"
        " wrk saturated",
        "floor_insert_p99_ms_at_50": "p99 of the INSERT view at a steady 50/s",
    }
)
def floor_insert(b: Bench) -> dict:
    csrf = b.csrf_file(2)
    sat = b.wrk(
        "/bench/floor/insert/", script="sign.lua", args=["/bench/floor/insert/", csrf, "floor"]
    )
    _, steady = b.steady(b.sign_request("/bench/floor/insert/", "floor-steady"), rate=50)
    b.details["floor_insert"] = {"saturated": sat, "steady_50": steady}
    return {"floor_insert_per_s": sat["per_s"], "floor_insert_p99_ms_at_50": steady["p99_ms"]}


@phase(
    doc={
        "floor_sign_per_s": "form POSTs/s (CSRF checked) to a view doing what a signature must"
        " and nothing more: one INSERT, one outbox row, commit; wrk saturated",
    }
)
def floor_sign(b: Bench) -> dict:
    csrf = b.csrf_file(2)
    sat = b.wrk("/bench/floor/sign/", script="sign.lua", args=["/bench/floor/sign/", csrf, "fsign"])
    b.details["floor_sign"] = {"saturated": sat}
    return {"floor_sign_per_s": sat["per_s"]}


@phase(
    targets={"letter_page_per_s": (">=", 1200), "letter_page_p99_ms_at_300": ("<=", 30)},
    floors={
        "letter_page_per_s": "floor_constant_per_s",
        "letter_page_p99_ms_at_300": "floor_constant_p99_ms_at_300",
    },
    doc={
        "letter_page_per_s": "GETs/s of the letter page (1M signatures), wrk saturated",
        "letter_page_p99_ms_at_300": "p99 of the letter page at a steady 300/s",
    },
)
def letter_page(b: Bench) -> dict:
    path = f"/letters/{SLUG}/"
    sat = b.wrk(path, script="get.lua")
    _, steady = b.steady(b.get_request(path), rate=300)
    b.details["letter_page"] = {"saturated": sat, "steady_300": steady}
    return {"letter_page_per_s": sat["per_s"], "letter_page_p99_ms_at_300": steady["p99_ms"]}


def hostile_versions(b: Bench) -> str:
    """A letter of five versions, each the largest text the form allows and the worst for the
    versions page: lines all alike (the diff), shifted by one between versions, and as many
    square brackets as allowed (Markdown's link matching). Returns its slug."""
    from petition import services
    from petition.forms import MAX_LETTER_BRACKETS, MAX_LETTER_LENGTH
    from petition.models import Letter

    def text(shift: str) -> str:
        brackets = "[a " * MAX_LETTER_BRACKETS
        return (brackets + (shift + "a\n\n") * MAX_LETTER_LENGTH)[:MAX_LETTER_LENGTH]

    letter = Letter.objects.create(
        slug="versions-worst",
        title="Versions",
        addressee="A",
        body=text(""),
        created_by_id=b.organiser_id,
    )
    services.publish(letter_id=letter.pk)
    for n in range(1, 5):
        services.edit_letter(
            letter_id=letter.pk, actor=None, title="Versions", addressee="A", body=text("\n" * n)
        )
    return letter.slug


@phase(
    targets={"versions_page_cold_ms": ("<=", 2000)},
    doc={
        "versions_page_cold_ms": "the versions page, 5 worst-case 20,000-character versions, "
        "first request (3 shown: each rendered and diffed, then cached)",
        "versions_page_per_s": "GETs/s of that page once its diffs are cached, wrk saturated",
    },
)
def versions_page(b: Bench) -> dict:
    path = f"/letters/{hostile_versions(b)}/versions/"
    started = time.monotonic()
    with urllib.request.urlopen(b.base + path, timeout=120) as response:  # noqa: S310
        response.read()
    cold_ms = (time.monotonic() - started) * 1000
    sat = b.wrk(path, script="get.lua", seconds=5)
    b.details["versions_page"] = {"cold_ms": cold_ms, "saturated": sat}
    return {"versions_page_cold_ms": round(cold_ms, 1), "versions_page_per_s": sat["per_s"]}


def find_routes(word: str) -> list[tuple[str, str]]:
    """(url name, route) of every URL whose name holds `word` and takes only the letter's slug."""
    from django.urls import get_resolver, reverse

    found = []

    def walk(patterns, namespace=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                inner = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, inner)
            elif p.name and word in p.name:
                name = namespace + p.name
                with contextlib.suppress(Exception):
                    found.append((name, reverse(name, kwargs={"slug": SLUG})))

    walk(get_resolver().url_patterns)
    return found


@phase(
    targets={"tally_per_s": (">=", 1200), "tally_p99_ms_at_300": ("<=", 30)},
    floors={
        "tally_per_s": "floor_constant_per_s",
        "tally_p99_ms_at_300": "floor_constant_p99_ms_at_300",
        "tally_counts_per_s": "floor_constant_per_s",
    },
    doc={
        "tally_per_s": "GETs/s of the tally page (1M signatures), wrk saturated",
        "tally_p99_ms_at_300": "p99 of the tally page at a steady 300/s",
        "tally_counts_per_s": "GETs/s of the live counts endpoint, wrk saturated",
    },
)
def tally(b: Bench) -> dict:
    page = next((path for _, path in find_routes("tally") if path.endswith("/tally/")), None)
    # The cheap endpoint the page's live script polls (issue 6's read API).
    counts = next((path for _, path in find_routes("counts")), None)
    out = {}
    if page is None:
        b.notes.append("tally page not available yet (issue 6): tally figures not measured")
        out.update(tally_per_s=None, tally_p99_ms_at_300=None)
    else:
        sat = b.wrk(page, script="get.lua")
        _, steady = b.steady(b.get_request(page), rate=300)
        b.details["tally"] = {"path": page, "saturated": sat, "steady_300": steady}
        out.update(tally_per_s=sat["per_s"], tally_p99_ms_at_300=steady["p99_ms"])
    if counts is not None:
        sat = b.wrk(counts, script="get.lua")
        b.details["tally_counts"] = {"path": counts, "saturated": sat}
        out["tally_counts_per_s"] = sat["per_s"]
    return out


def organiser_cookie(b: Bench) -> str:
    """A signed-in session for the letter's organiser, as its browser would hold it."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(pk=b.organiser_id))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@phase(
    targets={"export_1m_s": ("<=", 6), "export_1m_mb": ("<=", 64)},
    doc={
        "export_1m_s": "seconds to download the CSV of the million signatures",
        "export_1m_mb": "peak RSS growth (MB) of the process serving the export",
    },
)
def export(b: Bench) -> dict:
    from django.core.management import get_commands

    routes = find_routes("export")
    if routes:
        return export_over_http(b, routes)
    if "export_signatures" in get_commands():
        return export_by_command(b)
    b.notes.append("CSV export not available yet (issue 5): export figures not measured")
    return {"export_1m_s": None, "export_1m_mb": None}


class FormParser(HTMLParser):
    """The forms of a page: action, method and each field's default value."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action") or "",
                    "method": a.get("method", "get"),
                    "fields": {},
                    "options": {},
                }
            )
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in {"checkbox", "radio"} and "checked" not in a:
                return
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value") or "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            options = self.forms[-1]["options"].setdefault(self._select, [])
            options.append(a.get("value", ""))
            if "selected" in a or self._select not in self.forms[-1]["fields"]:
                self.forms[-1]["fields"][self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def export_over_http(b: Bench, routes) -> dict:
    """Ask for the CSV as an organiser's browser does: open the export page, submit its form
    with format=csv, and read the streamed answer to the end."""
    session = organiser_cookie(b)
    for _name, page in routes:
        status, headers, body = b.get(page, {"Cookie": session})
        if status != 200:
            continue
        parser = FormParser()
        parser.feed(body.decode("utf-8", "replace"))
        form = next((f for f in parser.forms if "csv" in f["options"].get("format", [])), None)
        if form is None:
            continue
        csrf = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", ""))
        cookie = session + (f"; csrftoken={csrf.group(1)}" if csrf else "")
        data = {**form["fields"], "format": "csv"}
        action = urllib.parse.urljoin(page, form["action"] or page)
        return measure_export(b, action, data, cookie)
    b.notes.append(f"export pages found ({', '.join(n for n, _ in routes)}) but no CSV form")
    return {"export_1m_s": None, "export_1m_mb": None}


def measure_export(b: Bench, action: str, data: dict, cookie: str) -> dict:
    workers = children(b.pids("gunicorn")[0])
    for pid in workers:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # restart each peak RSS from now
    before = {pid: rss_kb(pid) for pid in workers}
    request = urllib.request.Request(
        b.base + action,
        data=urllib.parse.urlencode(data).encode(),
        headers={"Cookie": cookie, "Origin": b.base, "Referer": b.base + action},
    )
    size = rows = 0
    started = time.monotonic()
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=120) as response:
            kind = response.headers.get("Content-Type", "")
            while chunk := response.read(1 << 16):
                size += len(chunk)
                rows += chunk.count(b"\n")
    except urllib.error.HTTPError as exc:
        b.notes.append(f"export: {action} answered {exc.code}")
        return {"export_1m_s": None, "export_1m_mb": None}
    seconds = time.monotonic() - started
    growth = max(rss_kb(pid, "VmHWM") - before[pid] for pid in workers) / 1024
    b.details["export"] = {
        "url": action,
        "content_type": kind,
        "lines": rows,
        "bytes": size,
        "seconds": round(seconds, 2),
        "rss_growth_mb": round(growth, 1),
        "workers_rss_mb_before": sorted(round(v / 1024, 1) for v in before.values()),
    }
    if "csv" not in kind or rows < b.args.rows:
        b.notes.append(f"export: {rows} lines of {kind!r} for {b.args.rows} signatures")
    return {"export_1m_s": round(seconds, 2), "export_1m_mb": round(growth, 1)}


def export_by_command(b: Bench) -> dict:
    out = b.tmp / "export.csv"
    started = time.monotonic()
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [PY, "manage.py", "export_signatures", SLUG],
            cwd=ROOT,
            env=b.env,
            stdout=sink,
            stderr=subprocess.PIPE,
        )
        peak, base = 0, None
        while proc.poll() is None:
            with contextlib.suppress(OSError):
                rss = rss_kb(proc.pid)
                peak = max(peak, rss)
                if base is None and out.stat().st_size > 0:
                    base = rss  # Django loaded, the first rows out: the baseline
            time.sleep(0.02)
    seconds = time.monotonic() - started
    if proc.returncode:
        b.notes.append(f"manage.py export_signatures failed: {proc.stderr.read().decode()[-300:]}")
        return {"export_1m_s": None, "export_1m_mb": None}
    growth = (peak - (base or peak)) / 1024
    b.details["export"] = {
        "command": "export_signatures",
        "bytes": out.stat().st_size,
        "seconds": round(seconds, 2),
        "rss_growth_mb": round(growth, 1),
    }
    b.notes.append("export measured through `manage.py export_signatures` (no CSV URL yet)")
    return {"export_1m_s": round(seconds, 2), "export_1m_mb": round(growth, 1)}


@phase(
    targets={"mail_p99_s_at_40": ("<=", 2)},
    doc={
        "mail_p50_s_at_40": "median seconds from a signature's commit to its mail at the SMTP sink,"
        " signing at a steady 40/s",
        "mail_p99_s_at_40": "p99 of the same",
    },
)
def mail(b: Bench) -> dict:
    return mail_latency(b, rate=40)


def mail_latency(b: Bench, *, rate: int) -> dict:
    from petition.models import Signature

    prefix = f"mail{rate}-{secrets.token_hex(3)}"
    result, steady = b.steady(
        b.sign_request(f"/letters/{SLUG}/sign/", prefix), rate=rate, seconds=20
    )
    measured_from = result.wall_started + 2.0
    expected = dict(
        Signature.objects.filter(email__startswith=prefix + "-").values_list("email", "created_at")
    )

    def received() -> dict:
        got = {}
        for line in b.sink_file.read_text().splitlines():
            at, rcpt = line.split(" ", 1)
            if rcpt.startswith(prefix + "-"):
                got.setdefault(rcpt, float(at))
        return got

    deadline = time.monotonic() + 60
    while len(got := received()) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    latencies = sorted(
        got[email] - created.timestamp()
        for email, created in expected.items()
        if created.timestamp() >= measured_from and email in got
    )
    missing = sum(1 for email in expected if email not in got)
    if missing:
        b.notes.append(
            f"mail phase at {rate}/s: {missing} of {len(expected)} mails had not arrived after 60s"
        )
    b.details[f"mail_{rate}"] = {"signs": steady, "mails": len(latencies), "missing": missing}
    keys = (f"mail_p50_s_at_{rate}", f"mail_p99_s_at_{rate}")
    if not latencies:
        return dict.fromkeys(keys)
    pct = openloop.Result(rate=rate, duration=0, latencies_ms=latencies).pct
    return {keys[0]: round(pct(50), 3), keys[1]: round(pct(99), 3)}


@phase(
    targets={"mail_p99_s_at_150": ("<=", 5)},
    doc={
        "mail_p50_s_at_150": "median seconds from a signature's commit to its mail at the SMTP"
        " sink, signing at a steady 150/s",
        "mail_p99_s_at_150": "p99 of the same",
    },
)
def mail_150(b: Bench) -> dict:
    return mail_latency(b, rate=150)


@phase(
    targets={"sign_p99_ms_at_50": ("<=", 150)},
    floors={"sign_p99_ms_at_50": "floor_insert_p99_ms_at_50"},
    doc={"sign_p99_ms_at_50": "p99 of sign POSTs at a steady 50/s, worker sending the mail"},
)
def sign_steady(b: Bench) -> dict:
    _, steady = b.steady(b.sign_request(f"/letters/{SLUG}/sign/", "steady50"), rate=50)
    b.details["sign_steady_50"] = steady
    return {"sign_p50_ms_at_50": steady["p50_ms"], "sign_p99_ms_at_50": steady["p99_ms"]}


@phase(
    targets={
        "sign_per_s": (">=", 330),
        "sign_per_s_vs_floor": (">=", 0.85),
        "sign_per_s_vs_floor_sign": (">=", 0.8),
    },
    floors={"sign_per_s": ("floor_insert_per_s", "floor_sign_per_s")},
    doc={
        "sign_per_s": "sign POSTs/s (unique addresses, CSRF as a browser), wrk saturated,"
        " worker running"
    },
)
def sign(b: Bench) -> dict:
    from petition.models import Signature

    csrf = b.csrf_file(2)
    prefix = f"sat-{secrets.token_hex(3)}"
    sat = b.wrk(
        f"/letters/{SLUG}/sign/",
        script="sign.lua",
        args=[f"/letters/{SLUG}/sign/", csrf, prefix],
        seconds=12,
    )
    stored = Signature.objects.filter(email__startswith=prefix + "-").count()
    sat["signatures_stored"] = stored
    if abs(stored - (sat["requests"] - sat["errors"])) > 2 * sat["connections"]:
        b.notes.append(f"sign: {stored} signatures stored for {sat['requests']} requests")
    # The surge left mail queued: let the worker catch up before the next figure, and note
    # how long that took.
    sat["mail_backlog_after"] = b.drain_mail()
    b.details["sign_saturated"] = sat
    return {"sign_per_s": sat["per_s"]}


@phase(
    targets={"verify_per_s": (">=", 400)},
    floors={"verify_per_s": "floor_insert_per_s"},
    doc={"verify_per_s": "confirmation POSTs/s, each with a fresh token, wrk saturated"},
)
def verify(b: Bench) -> dict:
    from petition.models import Signature

    before = Signature.objects.filter(letter_id=b.letter_id, status="verified").count()
    csrf = b.csrf_file(2)
    sat = b.wrk(
        f"/letters/{SLUG}/verify/",
        script="verify.lua",
        args=[SLUG, csrf, b.tmp / "verify-tokens.txt", 2],
        warmup_args=[SLUG, csrf, b.tmp / "verify-tokens-warm.txt", 2],
        seconds=10,
    )
    verified = Signature.objects.filter(letter_id=b.letter_id, status="verified").count() - before
    sat["signatures_verified"] = verified
    b.details["verify"] = sat
    if sat["requests"] >= VERIFY_TOKENS - VERIFY_WARM_TOKENS:
        b.notes.append("verify: the pending signatures ran out; raise VERIFY_TOKENS")
    return {"verify_per_s": sat["per_s"]}


# --- the public log (issue 10) ----------------------------------------------------------------


def seed_public_log(b: Bench, letter) -> None:
    """One `sign` entry per seeded verified signature, with its Merkle nodes, as a million
    verifications would have left the log."""
    from benchmarks.log_seed import seed_log
    from petition.models import Tally

    size = Tally.objects.get(letter=letter).verified
    with b.db() as conn:
        done = seed_log(conn, letter_id=letter.pk, slug=letter.slug, count=size, version=1)
    b.details["seed_log"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in done.items()}
    print(f"  seeded the public log: {size:,} entries in {done['seconds']:.1f}s", flush=True)


SEED_HOOKS.append(seed_public_log)


@phase(
    targets={"log_proof_per_s": (">=", 1000)},
    floors={"log_proof_per_s": "floor_constant_per_s"},
    doc={"log_proof_per_s": "inclusion proofs/s of random entries, 1M-entry log, wrk saturated"},
)
def log_proofs(b: Bench) -> dict:
    from petition import tlog

    size = tlog.size(b.letter_id)
    sat = b.wrk(f"/api/letters/{SLUG}/log/inclusion", script="inclusion.lua", args=[size])
    sat["tree_size"] = size
    b.details["log_proofs"] = sat
    return {"log_proof_per_s": sat["per_s"]}


@phase(
    targets={"log_checkpoint_s": ("<=", 0.5)},
    doc={"log_checkpoint_s": "seconds to sign a checkpoint after 1,000 appends to a 1M log"},
)
def log_checkpoint(b: Bench) -> dict:
    from django.db import transaction

    from petition import tlog
    from petition.models import Letter

    letter = Letter.objects.get(pk=b.letter_id)
    tlog.checkpoint(letter_id=letter.pk)  # the log as it stands
    started = time.monotonic()
    # Signed inside the appends' transaction, so no checkpoint scheduled on commit beats the clock.
    with transaction.atomic():
        for n in range(1000):
            ref = f"{n:064x}"
            tlog.append(
                letter=letter, kind="sign", level="public", employee=False, version=1, ref=ref
            )
        appended = time.monotonic() - started
        started = time.monotonic()
        checkpoint = tlog.checkpoint(letter_id=letter.pk)
        signed = time.monotonic() - started
    b.details["log_checkpoint"] = {
        "size": checkpoint.size,
        "append_1000_s": round(appended, 3),
        "checkpoint_s": round(signed, 4),
    }
    return {"log_checkpoint_s": round(signed, 4)}


@phase(
    doc={
        "sign_cpu_ms": "CPU ms of one sign request in one process (no concurrency)",
        "letter_page_cpu_ms": "CPU ms of one letter page in one process",
    }
)
def costs(b: Bench) -> dict:
    """Where a request's CPU goes, measured in this process through Django's test client (no
    sockets, no concurrency, so the other people on the machine barely move it): each part of
    signing is switched off in turn and the difference is its cost. The best of a few rounds."""
    from unittest import mock

    from django.test import Client

    from lib import ratelimit
    from petition import emails, outbox, tasks

    client = Client(HTTP_HOST="127.0.0.1")  # the host gunicorn is asked for; CSRF not checked
    counter = iter(range(10**9))

    def sign():
        n = next(counter)
        client.post(
            f"/letters/{SLUG}/sign/",
            {
                "name": f"Cost {n}",
                "email": f"cost-{n}@bench.example.org",
                "visibility": "public",
                "affiliation": "Example Corp",
                "job_title": "Engineer",
                "city": "London",
            },
        )

    def floor():
        client.post("/bench/floor/insert/", {"email": f"cost-{next(counter)}@bench.example.org"})

    variants = {
        "floor_insert": (floor, []),
        "sign": (sign, []),
        "sign_without_rate_limiter": (sign, [(ratelimit, "hit", True)]),
        "sign_without_task_publish": (sign, [(outbox, "kick_relay", None)]),
        "sign_without_verification_mail": (sign, [(emails, "verification", None)]),
        "floor_constant": (lambda: client.get("/bench/floor/constant/"), []),
        "letter_page": (lambda: client.get(f"/letters/{SLUG}/"), []),
    }
    pages = {"letter_page": f"/letters/{SLUG}/"}
    for key, word in (("tally_page", "tally"), ("counts", "counts")):
        path = next((path for _, path in find_routes(word)), None)
        if path:
            pages[key] = path
            variants[key] = (lambda path=path: client.get(path), [])
    reps, rounds = (40, 2) if b.quick else (100, 3)
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, (fn, patches) in variants.items():
            with contextlib.ExitStack() as stack:
                for target, attribute, value in patches:
                    stack.enter_context(mock.patch.object(target, attribute, return_value=value))
                for _ in range(5):
                    fn()
                started = time.process_time()
                for _ in range(reps):
                    fn()
                ms = (time.process_time() - started) / reps * 1000
            best[name] = round(min(ms, best.get(name, ms)), 2)
    parts = {
        "rate_limiter": best["sign"] - best["sign_without_rate_limiter"],
        "celery_publish": best["sign"] - best["sign_without_task_publish"],
        "verification_mail_render_insert_publish": best["sign"]
        - best["sign_without_verification_mail"],
    }
    from django.db import connection

    queries = {}
    for key, path in pages.items():
        timings: list[float] = []

        def timed(execute, sql, params, many, context, timings=timings):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timings.append(time.perf_counter() - started)

        with connection.execute_wrapper(timed):
            client.get(path)
        queries[key] = {"queries": len(timings), "db_ms": round(sum(timings) * 1000, 2)}
    b.details["costs"] = {
        "cpu_ms_per_request": best,
        "page_queries": queries,
        "sign_parts_cpu_ms": {k: round(v, 2) for k, v in parts.items()},
        "reps": reps,
        "rounds": rounds,
        "verify_transaction": verify_lock_hold(b, 20 if b.quick else 60),
    }
    tasks.relay_mail.delay()  # the sweep, for the mails whose relay was switched off
    b.drain_mail()
    return {"sign_cpu_ms": best["sign"], "letter_page_cpu_ms": best["letter_page"]}


def verify_lock_hold(b: Bench, n: int) -> dict:
    """Verifications of one letter queue on its hot rows (its Tally, today's DailyTally, the
    text version's count), locked by the first statement that writes one of them and held to
    COMMIT: the time between the two bounds verify_per_s at 1000 / hold_ms, whatever the cores.
    Measured alone (no waiting on others), on signatures the verify phase left pending."""
    from django.db import connection, transaction

    from petition import services
    from petition.models import DailyTally, LetterVersion, Signature, Tally

    hot = [model._meta.db_table for model in (Tally, DailyTally, LetterVersion)]
    marks: list[float] = []

    def watch(execute, sql, params, many, context):
        writes = sql.lstrip().upper().startswith(("UPDATE", "INSERT", "WITH"))
        locks = any(table in sql for table in hot) and (writes or "FOR UPDATE" in sql)
        if locks and not marks:
            marks.append(time.perf_counter())
        return execute(sql, params, many, context)

    ids = list(
        Signature.objects.filter(letter_id=b.letter_id, status="pending")
        .order_by("-pk")
        .values_list("pk", flat=True)[:n]
    )
    holds, totals, cpu = [], [], []
    for pk in ids:
        marks.clear()
        committed: list[float] = []
        started, cpu_started = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(watch), transaction.atomic():
            # The first hook to run after COMMIT (hooks run in order): the locks are gone then,
            # before the mail's task is published.
            transaction.on_commit(lambda committed=committed: committed.append(time.perf_counter()))
            services.verify(signature_id=pk)
        done = time.perf_counter()
        totals.append((done - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        if marks and committed:
            holds.append((committed[0] - marks[0]) * 1000)
    if not holds:
        return {}
    holds.sort()
    median = holds[len(holds) // 2]
    return {
        "verifications": len(holds),
        "tally_lock_held_ms_median": round(median, 2),
        "tally_lock_held_ms_min": round(holds[0], 2),
        "verify_transaction_ms_median": round(sorted(totals)[len(totals) // 2], 2),
        "verify_cpu_ms_median": round(sorted(cpu)[len(cpu) // 2], 2),
        "verify_per_s_bound": round(1000 / median, 1),
    }


# --- the embedded default (`make run`): SQLite, tasks inline, mail on the console -------------


@phase(
    targets={"embedded_server_errors": ("<=", 0)},
    doc={
        "embedded_sign_confirm_per_s_at_4": "signers through sign and confirm per s on the"
        " embedded default (runserver on SQLite), 4 browsers at once",
        "embedded_sign_confirm_per_s_at_8": "the same, 8 browsers at once",
        "embedded_server_errors": "5xx answers to those signers",
    },
)
def embedded_default(b: Bench) -> dict:
    """Browsers through the whole flow (letter page, sign, link from the printed mail, confirm
    page, confirm, thanks) against `make run`'s server on a SQLite file of its own; one press of
    each button, so a busy answer counts as a signer lost."""
    signers = 40 if b.quick else 150
    figures, errors = {}, 0
    with embedded.EmbeddedServer(b.tmp / "embedded") as server:
        for clients in (4, 8):
            outcome = embedded.sign_and_confirm(
                server, embedded.addresses(signers, f"at{clients}"), clients, attempts=1
            )
            details = embedded.report(server, outcome, signers)
            b.details[f"embedded_at_{clients}"] = details
            figures[f"embedded_sign_confirm_per_s_at_{clients}"] = details["signers_per_s"]
            errors += outcome.server_errors
            if outcome.failed:
                b.notes.append(f"embedded default at {clients}: {len(outcome.failed)} lost")
    return {**figures, "embedded_server_errors": errors}


SCALE_WORKERS = (1, 2, 4)


@phase(
    doc={
        f"scale_{what}_per_s_w{n}": f"{label} with {n} gunicorn worker{'s' * (n > 1)}"
        f" on the same database, wrk saturated"
        for n in SCALE_WORKERS
        for what, label in (("sign", "sign POSTs/s"), ("letter_page", "letter page GETs/s"))
    }
)
def scaling(b: Bench) -> dict:
    """The app server alone grown from 1 to 2 to 4 worker processes (the rest unchanged: one
    PostgreSQL, one Redis, one Celery worker), so a user sees how one machine scales. Runs last:
    it replaces the gunicorn the other phases used."""
    figures = {}
    for n in SCALE_WORKERS:
        for proc in [p for p in b.procs if p.name.startswith("gunicorn")]:
            if proc.popen.poll() is None:
                os.killpg(proc.popen.pid, signal.SIGTERM)
                proc.popen.wait(15)
        wait_until(lambda: not port_open(b.web_port), 15, "the previous gunicorn to stop")
        web = b.start(f"gunicorn-w{n}", gunicorn_argv(b, n))
        wait_until(lambda: b.get("/bench/floor/constant/")[0] == 200, 60, "gunicorn", web.popen)
        page = b.wrk(f"/letters/{SLUG}/", script="get.lua", seconds=6)
        csrf = b.csrf_file(2)
        signing = b.wrk(
            f"/letters/{SLUG}/sign/",
            script="sign.lua",
            args=[f"/letters/{SLUG}/sign/", csrf, f"scale{n}-{secrets.token_hex(3)}"],
            seconds=8,
        )
        b.drain_mail()
        b.details[f"scaling_w{n}"] = {"letter_page": page, "sign": signing}
        figures[f"scale_letter_page_per_s_w{n}"] = page["per_s"]
        figures[f"scale_sign_per_s_w{n}"] = signing["per_s"]
    return figures


# --- deliveries: the PDF handed over ---------------------------------------------------------


@phase(
    targets={"delivery_pdf_10k_s": ("<=", 30), "delivery_pdf_10k_mb": ("<=", 300)},
    doc={
        "delivery_pdf_10k_s": "seconds to build the A4 PDF: 10,000 public names, 44 organisations",
        "delivery_pdf_10k_cpu_s": "CPU seconds (user + system) of building that PDF",
        "delivery_pdf_10k_mb": "peak RSS (MB) of the process building that PDF",
        "delivery_pdf_10k_mb_before": "RSS (MB) of that process before it began (Django loaded)",
        "delivery_pdf_10k_pages": "pages in that PDF",
        "delivery_freeze_10k_s": "seconds to freeze the delivery (names copied, checkpoint signed)",
    },
)
def delivery_pdf(b: Bench) -> dict:
    return delivery_bench.measure(b.env)


# --- report ---------------------------------------------------------------------------------


def versions(b: Bench) -> dict:
    import celery
    import django
    import gunicorn
    import psycopg
    import redis as redis_py

    def first_line(argv):
        with contextlib.suppress(Exception):
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (done.stdout or done.stderr).strip().splitlines()[0]
        return None

    with b.db() as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        pg_settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
        }
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": pg,
        "postgresql_settings": pg_settings,
        "redis_server": first_line(["redis-server", "--version"]),
        "psycopg": psycopg.__version__,
        "redis_py": redis_py.__version__,
        "gunicorn": gunicorn.__version__,
        "celery": celery.__version__,
        "wrk": first_line(["wrk", "--version"]),
    }


LOAD_AT_START = os.getloadavg()  # before the run adds its own


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = None
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": cpu,
        "cores": CORES,
        "memory_gb": mem,
        "kernel": platform.release(),
        "os": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in LOAD_AT_START],
    }


def compute_ratios(results: dict) -> dict:
    ratios = {}
    for p in PHASES:
        for key, floors in p.floors.items():
            # The first floor gives `KEY_vs_floor`; any other `KEY_vs_FLOOR` (its name, less
            # the unit: floor_sign_per_s gives KEY_vs_floor_sign).
            floors = (floors,) if isinstance(floors, str) else floors
            for index, floor in enumerate(floors):
                value, base = results.get(key), results.get(floor)
                name = "floor" if index == 0 else floor.removesuffix("_per_s")
                if value is not None and base:
                    ratios[f"{key}_vs_{name}"] = round(value / base, 3)
    return ratios


def check_targets(results: dict) -> dict:
    verdicts = {}
    for p in PHASES:
        for key, (op, goal) in p.targets.items():
            value = results.get(key)
            if value is None:
                verdicts[key] = {"target": f"{op} {goal}", "met": None}
            else:
                met = value >= goal if op == ">=" else value <= goal
                verdicts[key] = {"target": f"{op} {goal}", "met": met}
    return verdicts


def fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    if isinstance(value, float) and abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def table(report: dict) -> str:
    results, ratios, verdicts = report["figures"], report["ratios"], report["targets"]
    rows = [
        "| figure | measured | vs. floor | vs. sign floor | target | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for key, value in results.items():
        verdict = verdicts.get(key, {})
        target = verdict.get("target", "")
        met = MET[verdict["met"]] if verdict else ""
        for suffix, label in (("floor", "floor"), ("floor_sign", "sign floor")):
            extra = verdicts.get(f"{key}_vs_{suffix}")
            if extra:
                target += f"; {extra['target']} of {label}"
                met += f"; of {label}: {MET[extra['met']]}"
        shown = [ratios.get(f"{key}_vs_{suffix}") for suffix in ("floor", "floor_sign")]
        shown = " | ".join(fmt(r) if r is not None else "" for r in shown)
        rows.append(f"| `{key}` | {fmt(value)} | {shown} | {target} | {met} |")
    return "\n".join(rows)


MET = {True: "yes", False: "**no**", None: "not measured"}


def describe(report: dict) -> str:
    lines = [table(report), ""]
    m, c = report["machine"], report["config"]
    lines.append(
        f"Measured {report['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; "
        f"gunicorn {c['gunicorn']}; Celery {c['celery']}; load average before the run "
        f"{', '.join(map(str, m['load_average_at_start']))}; the run took "
        f"{report['run_seconds']:.0f} s."
    )
    if report["notes"]:
        lines += ["", "Notes from the run:", ""] + [f"- {n}" for n in report["notes"]]
    lines += ["", cpu_table(report["details"])]
    return "\n".join(lines)


CPU_COLUMNS = ["gunicorn", "celery", "postgres", "pg_ended", "smtp_sink", "redis", "load_generator"]


def cpu_table(details: dict) -> str:
    """Where each load's CPU went: milliseconds per answered request, by process, and the cores
    other people's work took meanwhile (the noise in the figure)."""
    head = "| load | answered/s | " + " | ".join(CPU_COLUMNS) + " | all ours | others (cores) |"
    rows = [
        "CPU per answered request, in milliseconds, by process (from /proc during each load):",
        "",
        head,
        "|" + " --- |" * (len(CPU_COLUMNS) + 4),
    ]

    def walk(label, value):
        if not isinstance(value, dict):
            return
        if value.get("cpu_ms_per_request") and "cores_used" in value:
            ms, cores = value["cpu_ms_per_request"], value["cores_used"]
            rate = value.get("per_s") or round(value.get("ok", 0) / value["duration_s"], 1)
            cells = " | ".join(fmt(ms.get(c, 0.0)) for c in CPU_COLUMNS)
            rows.append(
                f"| {label} | {fmt(rate)} | {cells} | {fmt(ms.get('total_ours'))} | "
                f"{fmt(cores.get('others'))} |"
            )
            return
        for key, inner in value.items():
            walk(f"{label} {key}".strip(), inner)

    for key, value in details.items():
        walk(key, value)
    return "\n".join(rows)


def update_docs(report: dict) -> None:
    doc = ROOT / "docs" / "performance.md"
    if not doc.exists():
        return
    text = doc.read_text()
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        doc.write_text(f"{head}{begin}\n{describe(report)}\n{end}{tail}")


# --- profiling (optional: --profile needs py-spy, `pip install py-spy`) ------------------------


@contextlib.contextmanager
def profiled(b: Bench, name: str):
    """Sample gunicorn's workers and the Celery worker with py-spy while a phase runs, and keep
    the folded stacks and a summary in benchmarks/results/profiles/. Profiling slows the servers:
    figures from a profiled run are for finding where the time goes, not for the table."""
    wanted = b.args.profile and (b.args.profile == "all" or name in b.args.profile.split(","))
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    if not wanted or not Path(spy).exists():
        yield
        return
    out_dir = BENCH / "results" / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    spies = []
    for server in ("gunicorn", "celery"):
        folded = b.tmp / f"{name}-{server}.folded"  # the raw stacks stay with the logs
        spies.append(
            (
                server,
                folded,
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(b.pids(server)[0]),
                        "--subprocesses",
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--output",
                        str(folded),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                ),
            )
        )
    time.sleep(1)
    try:
        yield
    finally:
        for _, _, spy_proc in spies:
            spy_proc.send_signal(signal.SIGINT)
        for server, folded, spy_proc in spies:
            try:
                spy_proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(spy_proc.pid, signal.SIGKILL)
                spy_proc.wait(5)
            if folded.exists():
                (out_dir / f"{name}-{server}.txt").write_text(summarise_profile(folded))


def summarise_profile(folded: Path, top: int = 40) -> str:
    """Inclusive share of samples per function (project and library frames), largest first."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (", 1)[0] + " " + short_path(f) for f in stack.split(";")[1:]]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n
    lines = [f"{total} samples", "", "inclusive %  function"]
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / total:10.1f}  {frame}")
    lines += ["", "self %  function"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / total:6.1f}  {frame}")
    return "\n".join(lines) + "\n"


def short_path(frame: str) -> str:
    match = re.search(r"\((.*?):\d+\)", frame)
    if not match:
        return ""
    path = match.group(1)
    for marker in ("site-packages/", f"{ROOT}/", "python3.12/"):
        if marker in path:
            return "(" + path.split(marker, 1)[1] + ")"
    return "(" + path + ")"


# --- main -----------------------------------------------------------------------------------


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short phases, for trying the script")
    parser.add_argument("--rows", type=int, default=1_000_000, help="verified signatures to seed")
    parser.add_argument("--workers", type=int, default=2 * CORES + 1, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=4, help="gunicorn threads per worker (1: sync workers)"
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    # As docker-compose.yml runs the worker.
    parser.add_argument("--celery-pool", default="prefork")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="let the load generators keep connections open (default: one per request)",
    )
    parser.add_argument("--only", default="", help="comma-separated phase names")
    parser.add_argument("--keep-db", action="store_true", help="leave undersigned_bench in place")
    parser.add_argument(
        "--profile", default="", help="phases to sample with py-spy (comma-separated, or all)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON or docs")
    return parser.parse_args()


def interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="undersigned-bench-"))
    b = Bench(args, tmp)
    os.environ.update(b.env)
    # A SIGTERM (make interrupted, a CI timeout) unwinds through the finally below.
    signal.signal(signal.SIGTERM, interrupted)
    ok = False
    try:
        import django

        django.setup()
        print(f"Benchmark on 127.0.0.1:{b.web_port} (logs in {tmp})", flush=True)
        print("  creating the database", flush=True)
        create_database(b)
        print(f"  seeding {args.rows:,} signatures", flush=True)
        seed(b)
        print("  starting redis-server, SMTP sink, Celery worker, gunicorn", flush=True)
        start_servers(b)
        only = {n for n in args.only.split(",") if n}
        failed: list[str] = []
        for p in PHASES:
            if only and p.name not in only and not p.name.startswith("floor"):
                continue
            t = time.monotonic()
            if t - started > TIME_BUDGET_S:
                b.notes.append(f"{p.name} skipped: the run had used its {TIME_BUDGET_S} s")
                failed.append(p.name)
                continue
            print(f"  {p.name} ...", end="", flush=True)
            try:
                with profiled(b, p.name):
                    figures = p.fn(b)
            except Exception as exc:  # noqa: BLE001 - one broken feature must not hide the rest
                figures = {key: None for key in p.doc}
                b.notes.append(f"{p.name} failed: {type(exc).__name__}: {str(exc)[:300]}")
                failed.append(p.name)
            b.results.update(figures)
            shown = ", ".join(f"{k}={fmt(v)}" for k, v in figures.items())
            print(f" {shown} ({time.monotonic() - t:.0f}s)", flush=True)
        report = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(b),
            "config": {
                "gunicorn": f"{args.workers} workers, "
                + (f"gthread x{args.threads}" if args.threads > 1 else "sync"),
                "celery": f"{args.celery_pool} pool, concurrency {args.celery_concurrency}",
                "wrk_connections": args.connections,
                "client_connections": "kept alive" if args.keep_alive else "one per request",
                "raised_limits": RAISED_LIMITS,
                "quick": args.quick,
                "rows": args.rows,
            },
            "figures": b.results,
            "ratios": compute_ratios(b.results),
            "notes": b.notes,
            "details": b.details,
        }
        ratios = report["ratios"]
        report["targets"] = check_targets({**b.results, **ratios})
        report["run_seconds"] = round(time.monotonic() - started, 1)
        # The keys, flat at the top level too, for anyone reading the file by key.
        flat = {**b.results, **ratios}
        report = {**{k: v for k, v in flat.items()}, **report}
        print()
        print(describe(report))
        (tmp / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        if not args.no_write:
            out = BENCH / "results" / "latest.json"
            out.parent.mkdir(exist_ok=True)
            out.write_text(json.dumps(report, indent=2, default=str) + "\n")
            update_docs(report)
            print(f"\nWrote {out.relative_to(ROOT)} and docs/performance.md")
        ok = True
        return 1 if failed else 0
    finally:
        b.stop_all()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            with contextlib.suppress(Exception):
                import psycopg

                with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if ok and not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"Logs kept in {tmp}", file=sys.stderr)
        print(f"Stopped every process; {time.monotonic() - started:.0f}s in all.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
