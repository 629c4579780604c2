"""The Bench: what a phase is handed. It holds the run's environment (ports, database, keys),
the processes it started, and the figures, details and notes the phases leave; its load
generators, HTTP client and CPU meter come from harness/load.py, browser.py and cpu.py.

The app's modules are imported inside the methods that use them: Django is set up only once the
run's environment is known (run.py), and a model cannot be imported before.
"""

import contextlib
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from benchmarks.constants import DB_NAME, PG_SERVER, RAISED_LIMITS, ROOT
from benchmarks.harness.browser import Browser
from benchmarks.harness.cpu import CpuMeter
from benchmarks.harness.load import Load
from benchmarks.harness.ports import free_port
from benchmarks.harness.procfs import children


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path


class Bench(Load, Browser, CpuMeter):
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
        self.env = self.environment()
        (tmp / "var" / "static").mkdir(parents=True)  # whitenoise warns without it
        self.letter_id = None
        self.organiser_id = None
        self.postmaster = None
        # Each request on a new connection, as from a crowd of browsers (see docs/performance.md)
        self.close = not args.keep_alive
        self.wrk_headers = ["-H", "Connection: close"] if self.close else []
        self.close_header = "Connection: close\r\n" if self.close else ""

    def environment(self) -> dict:
        """The environment of every server the run starts, and of this process's Django."""
        return {
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
            "VAR_DIR": str(self.tmp / "var"),
            "PYTHONUNBUFFERED": "1",
            **RAISED_LIMITS,
        }

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

    # the database and the worker

    @contextlib.contextmanager
    def db(self):
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            yield conn

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
