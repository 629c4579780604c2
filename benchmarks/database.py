"""The benchmark's own PostgreSQL database: made afresh with the app's schema and the floors'
tables, and dropped at the end."""

import subprocess

import psycopg
from django.apps import apps
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from benchmarks.constants import DB_NAME, PG_SERVER, PY, ROOT
from benchmarks.harness.bench import Bench


def schema_drift() -> list[str]:
    """Model changes the committed migrations do not have yet (what makemigrations --check sees),
    worked out in memory: nothing is written."""
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
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    migrate(b)
    create_floor_tables(b)


def migrate(b: Bench) -> None:
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


def create_floor_tables(b: Bench) -> None:
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


def drop_database() -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
