"""The embedded default (`make run`: SQLite, tasks inline, mail on the console) under concurrent
signers: a real runserver in a subprocess on a SQLite file of its own, never the PostgreSQL test
database, driven through the real sign and confirm flow (benchmarks/embedded.py)."""

import contextlib
import sqlite3

import pytest

from benchmarks import embedded

pytestmark = pytest.mark.slow

CLIENTS = 8
SIGNERS = 48  # six each: the write lock is contended on every step


def tally_row(server) -> tuple:
    with contextlib.closing(sqlite3.connect(server.database, timeout=30)) as db:
        return db.execute("SELECT verified, public, employees FROM petition_tally").fetchone()


@contextlib.contextmanager
def write_lock_held(server):
    """Another writer holds SQLite's write lock (readers still read, under WAL)."""
    db = sqlite3.connect(server.database, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_eight_concurrent_signers_meet_no_server_error_and_are_each_counted_once(tmp_path):
    with embedded.EmbeddedServer(tmp_path) as server:
        addresses = embedded.addresses(SIGNERS)
        # One press of each button: a busy answer would count as a failure here too.
        outcome = embedded.sign_and_confirm(server, addresses, CLIENTS, attempts=1)
        rows = server.rows()
        tally = tally_row(server)
        logged = server.server_errors_logged()

    assert outcome.server_errors == 0, outcome.statuses
    assert logged == 0
    assert outcome.failed == {}
    assert outcome.confirmed == set(addresses)
    assert sorted(email for email, _, _ in rows) == sorted(addresses), "each stored once"
    assert {(status, bool(employee)) for _, status, employee in rows} == {("verified", True)}
    assert tally == (SIGNERS, SIGNERS, SIGNERS)


def test_the_embedded_default_runs_sqlite_in_wal_mode(tmp_path):
    with (
        embedded.EmbeddedServer(tmp_path) as server,
        contextlib.closing(sqlite3.connect(server.database)) as db,
    ):
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_signer_who_cannot_get_the_lock_in_time_is_asked_to_try_again(tmp_path):
    with embedded.EmbeddedServer(tmp_path, SQLITE_BUSY_TIMEOUT="1") as server:
        outcome = embedded.Outcome()
        browser = embedded.Browser(server.url, outcome)
        page = f"/letters/{embedded.SLUG}/"
        action = f"/letters/{embedded.SLUG}/sign/"
        fields = {"name": "Busy Signer", "email": "busy@example.com", "visibility": "public"}
        _, text, _ = browser.request("page", page)
        csrf = embedded.CSRF_INPUT.search(text).group(1)
        with write_lock_held(server):
            status, body, headers = browser.request(
                "sign", action, {"csrfmiddlewaretoken": csrf, **fields}
            )
        assert status == 503
        assert headers["Retry-After"] == "5"
        assert "Busy, please try again" in body
        assert server.rows() == [], "nothing half-stored"
        assert server.link_for("busy@example.com", timeout=1) is None, "no mail for it"

        # Pressing again once the lock is free signs, once.
        assert browser.post_form("sign", page, action, fields, attempts=1) == 302
        link = server.link_for("busy@example.com")
        assert server.rows() == [("busy@example.com", "pending", 0)]

        _, text, _ = browser.request("confirm-page", link)
        csrf = embedded.CSRF_INPUT.search(text).group(1)
        with write_lock_held(server):
            status, _, headers = browser.request("confirm", link, {"csrfmiddlewaretoken": csrf})
        assert status == 503
        assert headers["Retry-After"] == "5"
        assert server.rows() == [("busy@example.com", "pending", 0)]
        assert tally_row(server) == (0, 0, 0)

        assert browser.post_form("confirm", link, link, {}, attempts=1) == 302
        assert server.rows() == [("busy@example.com", "verified", 1)]
        assert tally_row(server) == (1, 1, 1)
        assert server.server_errors_logged() == 0
