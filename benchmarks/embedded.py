"""The embedded default (`make run`: SQLite, tasks inline, mail on the console) under concurrent
signers, driven as browsers drive it.

`EmbeddedServer` starts `manage.py runserver` (threaded, as `make run` does) on a SQLite file in
a directory of its own, with no DATABASE_URL and no REDIS_URL, migrates it, creates the demo
letter, and reads the confirmation links from the mail it prints. `sign_and_confirm` sends
signers through the real flow, a few at a time: the letter page (for the CSRF token), the sign
POST, the link from the mail, its page, the confirm POST, the thanks page.

Used by the test suite (tests/test_embedded_sqlite.py), by `make bench` (benchmarks/run.py) and
from the command line:

    .venv/bin/python -m benchmarks.embedded --signers 300 --clients 4
"""

import argparse
import contextlib
import http.cookiejar
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLUG = "stop-selling-facefinder-to-police"  # the demo letter (petition/management/commands/demo)
CONFIRM_PATH = re.compile(r"https?://[^/\s]+(/letters/[\w-]+/confirm/[^/\s]+/)")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# Every request of a run comes from 127.0.0.1: the per-IP and per-address limits would stop it
# after 60 signatures. They still run.
# What post_form answers when the server never answered (a refused or reset connection).
NO_ANSWER = 599
RAISED_LIMITS = {"SIGN_LIMIT_PER_IP": "1000000/h", "SIGN_LIMIT_PER_EMAIL": "1000/h"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_env(var_dir: Path, port: int, **extra: str) -> dict:
    """The environment of `make run`, on a SQLite file under var_dir: nothing else configured."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "EMAIL_URL", "SECRET_KEY", "LOG_SIGNING_KEY"}
    }
    env.update(
        DEBUG="1",
        VAR_DIR=str(var_dir),
        SITE_URL=f"http://127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="config.settings",
        **RAISED_LIMITS,
        **extra,
    )
    return env


class EmbeddedServer:
    """`make run`, on a free port and a SQLite file of its own; stopped with its process group."""

    def __init__(self, var_dir: Path, **env: str):
        self.var_dir = Path(var_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = embedded_env(self.var_dir, self.port, **env)
        self.database = self.var_dir / "undersigned.sqlite3"
        self.links: dict[str, str] = {}  # address -> confirmation path, from the printed mail
        self._arrived = threading.Condition()
        self.errors_log = self.var_dir / "server.log"
        self.proc = None

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> "EmbeddedServer":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("demo")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self.errors_log.open("w"),
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read_mail, daemon=True).start()
        deadline = time.monotonic() + 60
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"runserver did not start: {self.errors_log.read_text()}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _read_mail(self) -> None:
        """The console mail backend prints "Mail to: <address>", then the body with the link."""
        to = None
        for line in self.proc.stdout:
            if line.startswith("Mail to: "):
                to = line.removeprefix("Mail to: ").strip()
            elif to and (match := CONFIRM_PATH.search(line)):
                with self._arrived:
                    self.links[to] = match.group(1)
                    self._arrived.notify_all()
                to = None

    def link_for(self, address: str, timeout: float = 60) -> str | None:
        with self._arrived:
            self._arrived.wait_for(lambda: address in self.links, timeout)
            return self.links.get(address)

    def rows(self) -> list[tuple]:
        """(email, status, is_verified_employee) of every signature, read from the file."""
        with contextlib.closing(sqlite3.connect(self.database, timeout=30)) as db:
            return db.execute(
                "SELECT email, status, is_verified_employee FROM petition_signature"
            ).fetchall()

    def server_errors_logged(self) -> int:
        return self.errors_log.read_text().count("Internal Server Error")


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@dataclass
class Outcome:
    """What the signers met: every status code by step, and who got through."""

    statuses: Counter = field(default_factory=Counter)  # (step, status) -> count
    confirmed: set = field(default_factory=set)
    failed: dict = field(default_factory=dict)  # address -> the step it stopped at
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, step: str, status: int) -> None:
        with self.lock:
            self.statuses[(step, status)] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for (_, status), n in self.statuses.items() if status >= 500)

    def count(self, step: str, status_from: int, status_to: int = 599) -> int:
        return sum(
            n
            for (s, status), n in self.statuses.items()
            if s == step and status_from <= status and status <= status_to
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One signer's browser: its own cookies, redirects followed by hand so each is counted."""

    def __init__(self, base_url: str, outcome: Outcome):
        self.base_url = base_url
        self.outcome = outcome
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def request(self, step: str, path: str, data: dict | None = None) -> tuple[int, str, dict]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body)
        if data is not None:
            request.add_header("Referer", self.base_url + path)
        try:
            with self.opener.open(request, timeout=120) as response:
                status, text, headers = response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as exc:
            status, text, headers = exc.code, exc.read().decode(errors="replace"), exc.headers
        except OSError:
            # Refused or reset before any answer (runserver's listen queue is short): status 0.
            self.outcome.note(step, 0)
            return 0, "", {}
        self.outcome.note(step, status)
        if status in (301, 302, 303) and headers.get("Location"):
            # Followed as a browser does; the answer to this request is what the caller sees.
            self.request(f"{step}-redirect", urllib.parse.urlsplit(headers["Location"]).path)
        return status, text, dict(headers)

    def post_form(self, step: str, page: str, action: str, fields: dict, attempts: int) -> int:
        """GET the page, POST its form: the POST's status. Pressed again, up to `attempts` times,
        after a busy answer or a refused connection, as a person would; NO_ANSWER if none came.
        """
        status = NO_ANSWER
        for _ in range(attempts):
            status, text, headers = self.request(f"{step}-page", page)
            token = CSRF_INPUT.search(text)
            if status == 200 and token is None:
                return NO_ANSWER  # a page without the form: nothing to press
            if status == 200:
                status, _, headers = self.request(
                    step, action, {"csrfmiddlewaretoken": token.group(1), **fields}
                )
            if status not in (0, 503):
                return status
            time.sleep(min(float(headers.get("Retry-After", 1)), 2))
        return status or NO_ANSWER


def sign_and_confirm(
    server: EmbeddedServer, addresses: list[str], clients: int, *, attempts: int = 3
) -> Outcome:
    """Each address signs and confirms, `clients` at a time; returns what they met."""
    outcome = Outcome()

    def one(address: str) -> None:
        browser = Browser(server.url, outcome)
        fields = {"name": f"Signer {address}", "email": address, "visibility": "public"}
        if (
            browser.post_form(
                "sign", f"/letters/{SLUG}/", f"/letters/{SLUG}/sign/", fields, attempts
            )
            >= 400
        ):
            outcome.failed[address] = "sign"
            return
        link = server.link_for(address)
        if link is None:
            outcome.failed[address] = "no mail"
            return
        if browser.post_form("confirm", link, link, {}, attempts) >= 400:
            outcome.failed[address] = "confirm"
            return
        with outcome.lock:
            outcome.confirmed.add(address)

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, addresses))
    outcome.seconds = time.monotonic() - started
    return outcome


def addresses(count: int, prefix: str = "worker") -> list[str]:
    """Work addresses at the demo letter's employer domain, so each is a verified employee."""
    return [f"{prefix}-{n}@example.com" for n in range(count)]


def report(server: EmbeddedServer, outcome: Outcome, count: int) -> dict:
    rows = server.rows()
    verified = [r for r in rows if r[1] == "verified"]
    return {
        "signers": count,
        "confirmed": len(outcome.confirmed),
        "signers_failed": len(outcome.failed),
        "server_errors": outcome.server_errors,
        "sign_posts_5xx": outcome.count("sign", 500),
        "confirm_posts_5xx": outcome.count("confirm", 500),
        "busy_503": sum(n for (_, status), n in outcome.statuses.items() if status == 503),
        "connections_refused": sum(n for (_, status), n in outcome.statuses.items() if not status),
        "signatures_stored": len(rows),
        "verified_employees": sum(1 for r in verified if r[2]),
        "seconds": round(outcome.seconds, 1),
        "signers_per_s": round(len(outcome.confirmed) / outcome.seconds, 1),
        "statuses": {f"{step} {status}": n for (step, status), n in outcome.statuses.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signers", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--attempts", type=int, default=3, help="presses of a button, at most")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="undersigned-embedded-") as tmp:
        with EmbeddedServer(Path(tmp)) as server:
            outcome = sign_and_confirm(
                server, addresses(args.signers), args.clients, attempts=args.attempts
            )
            result = report(server, outcome, args.signers)
            result["server_errors_logged"] = server.server_errors_logged()
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
