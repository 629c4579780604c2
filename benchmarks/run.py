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

This file parses the options and runs the phases. The rest is in modules of their own: the
harness (benchmarks/harness/: servers, load generators, CPU meter), the database and the seeding
(database.py, seeding.py), the phases (benchmarks/phases/, listed in the order they run in its
__init__.py), the report (report.py) and profiling (profiling.py).

    .venv/bin/python benchmarks/run.py [--quick] [--rows N] [--keep-db] [--only NAME,...]
"""

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts only benchmarks/ on the path: the project's root goes first, so
# that the project's packages and `benchmarks.*` import (ruff allows imports after this line).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django
from django.db import connections

from benchmarks import database, report, seeding
from benchmarks.constants import CORES, TIME_BUDGET_S
from benchmarks.harness.bench import Bench
from benchmarks.harness.servers import start_servers
from benchmarks.phases import PHASES
from benchmarks.profiling import profiled
from benchmarks.registry import Phase


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
        prepare(b)
        failed = run_phases(b, started)
        report.publish(report.build(b, PHASES, started), tmp, write=not args.no_write)
        ok = True
        return 1 if failed else 0
    finally:
        clean_up(b, ok, started)


def prepare(b: Bench) -> None:
    """Django in this process, then the database, its data and the servers."""
    django.setup()
    print(f"Benchmark on 127.0.0.1:{b.web_port} (logs in {b.tmp})", flush=True)
    print("  creating the database", flush=True)
    database.create_database(b)
    print(f"  seeding {b.args.rows:,} signatures", flush=True)
    seeding.seed(b)
    print("  starting redis-server, SMTP sink, Celery worker, gunicorn", flush=True)
    start_servers(b)


def run_phases(b: Bench, started: float) -> list[str]:
    """The phases --only selects (the floors always), in order, while the time budget lasts;
    the names of those that failed or were skipped."""
    only = {n for n in b.args.only.split(",") if n}
    failed: list[str] = []
    for p in PHASES:
        if only and p.name not in only and not p.name.startswith("floor"):
            continue
        if time.monotonic() - started > TIME_BUDGET_S:
            b.notes.append(f"{p.name} skipped: the run had used its {TIME_BUDGET_S} s")
            failed.append(p.name)
            continue
        if not run_phase(b, p):
            failed.append(p.name)
    return failed


def run_phase(b: Bench, p: Phase) -> bool:
    """Run one phase and print its figures; False if it failed (its figures are then None)."""
    t = time.monotonic()
    print(f"  {p.name} ...", end="", flush=True)
    ok = True
    try:
        with profiled(b, p.name):
            figures = p.fn(b)
    except Exception as exc:  # noqa: BLE001 - one broken feature must not hide the rest
        figures = {key: None for key in p.doc}
        b.notes.append(f"{p.name} failed: {type(exc).__name__}: {str(exc)[:300]}")
        ok = False
    b.results.update(figures)
    shown = ", ".join(f"{k}={report.fmt(v)}" for k, v in figures.items())
    print(f" {shown} ({time.monotonic() - t:.0f}s)", flush=True)
    return ok


def clean_up(b: Bench, ok: bool, started: float) -> None:
    """Stop every server, drop the database (unless --keep-db) and remove the logs (unless the
    run failed or --keep-logs)."""
    b.stop_all()
    with contextlib.suppress(Exception):
        connections.close_all()
    if not b.args.keep_db:
        with contextlib.suppress(Exception):
            database.drop_database()
    if ok and not b.args.keep_logs:
        shutil.rmtree(b.tmp, ignore_errors=True)
    else:
        print(f"Logs kept in {b.tmp}", file=sys.stderr)
    print(f"Stopped every process; {time.monotonic() - started:.0f}s in all.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
