"""A backup is only a backup once it restores: the README's pg_dump, restored with its
pg_restore into a fresh database, serves the same letters, signatures and log, and every letter's
log passes the outside auditor (checkpoint signature, every entry's inclusion) under the key the
log was signed with, pinned before the backup. Without that key the restored site is not ready."""

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from django.db import connection

from lib import signed_note
from petition import services, tlog
from petition.models import Level
from tests.conftest import ROOT, free_port, pending_signature, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TABLES = [
    "accounts_user",
    "petition_letter",
    "petition_signature",
    "petition_checkpoint",
    "petition_tally",
    "petition_logentry",
    "petition_lognode",
]


def server(url: str) -> tuple[str, dict]:
    parts = connection.settings_dict
    return f"postgres://{parts['USER']}@{parts['HOST']}:{parts['PORT'] or 5432}/{url}", {
        "PGHOST": parts["HOST"],
        "PGPORT": str(parts["PORT"] or 5432),
        "PGUSER": parts["USER"],
    }


def sh(command: list[str], env: dict) -> str:
    result = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def snapshot(database: str, env: dict) -> dict:
    psql = ["psql", "-d", database, "-Atq", "-v", "ON_ERROR_STOP=1", "-c"]
    tables = sh(
        [*psql, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"], env
    ).split()
    assert set(TABLES) <= set(tables)
    counts = {t: sh([*psql, f'SELECT count(*) FROM "{t}"'], env).strip() for t in tables}
    signatures = sh(
        [
            *psql,
            "SELECT id, email, status, visibility, email_hash FROM petition_signature ORDER BY id",
        ],
        env,
    )
    notes_ = sh([*psql, "SELECT letter_id, size, note FROM petition_checkpoint ORDER BY id"], env)
    return {"counts": counts, "signatures": signatures, "checkpoints": notes_}


def make_history(letters) -> None:
    levels = [Level.PUBLIC, Level.ANONYMOUS, Level.PRIVATE]
    for letter in letters:
        ids = [
            pending_signature(letter, f"{letter.slug}-{n}@example.com", visibility=levels[n % 3]).pk
            for n in range(7)
        ]
        for pk in ids:
            services.verify(signature_id=pk)
        services.change_level(signature_id=ids[0], visibility=Level.ANONYMOUS)
        services.withdraw(signature_id=ids[1])
        services.hide_signature(
            letter_id=letter.pk, signature_id=ids[2], actor=letter.created_by, reason="spam"
        )
        tlog.checkpoint(letter_id=letter.pk)


@pytest.fixture
def restored_database():
    name = connection.settings_dict["NAME"] + "_restored"
    url, env = server(name)
    sh(["dropdb", "--if-exists", name], env)
    yield name, url, env
    sh(["dropdb", "--if-exists", "--force", name], env)


def serve(database_url: str, log_key: str, port: int):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "LOG_SIGNING_KEY": log_key,
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
    }
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(base + "/healthz", timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(up, 60, what="gunicorn on the restored database")
    return process, base


def test_a_dump_restored_into_a_fresh_database_verifies(
    make_letter, restored_database, settings, tmp_path
):
    name, restored_url, env = restored_database
    # The key is kept apart from the database, as the README says: the site name is the key's.
    port = free_port()
    settings.SITE_URL = f"http://127.0.0.1:{port}"
    key = signed_note.generate_private_key(tlog.key_name())
    settings.LOG_SIGNING_KEY = key
    tlog.signer.cache_clear()
    vkey = signed_note.Signer.from_private_key(key).vkey()
    letters = [make_letter(), make_letter()]
    make_history(letters)
    original = connection.settings_dict["NAME"]
    before = snapshot(original, env)
    assert int(before["counts"]["petition_signature"]) == 14
    assert int(before["counts"]["petition_checkpoint"]) >= 2

    # The README's backup and restore, word for word but for the names.
    dump = tmp_path / "undersigned.dump"
    source_url, _ = server(original)
    sh(["pg_dump", "--format=custom", f"--file={dump}", source_url], env)
    sh(["createdb", name], env)
    sh(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump)], env)

    after = snapshot(name, env)
    assert after == before

    tlog.signer.cache_clear()
    process, base = serve(restored_url, key, port)
    try:
        ready = requests.get(base + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        for letter in letters:
            out = StringIO()
            call_command(
                "auditlog",
                base,
                letter.slug,
                key=vkey,
                proofs=100,
                state_dir=str(tmp_path / "audit"),
                stdout=out,
            )
            assert "audit passed" in out.getvalue()
            # 7 signed, 1 withdrawn, 1 hidden: 5 counted.
            assert '"verified": 5' in out.getvalue(), out.getvalue()
    finally:
        process.terminate()
        process.wait(15)

    # Restored without the log key: a new key cannot continue the log auditors pinned.
    process, base = serve(restored_url, signed_note.generate_private_key(tlog.key_name()), port)
    try:
        ready = requests.get(base + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert json.loads(ready.text)["checks"]["log_signing_key"] == (
            "log signing key does not match the stored log"
        )
    finally:
        process.terminate()
        process.wait(15)
