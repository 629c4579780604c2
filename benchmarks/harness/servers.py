"""The servers a run starts on loopback: redis-server, the SMTP sink, a Celery worker and the app
under gunicorn, each in a process group of its own (Bench.start)."""

import os
import signal
import subprocess

from benchmarks.constants import BENCH, PY, SLUG
from benchmarks.harness.bench import Bench, Proc
from benchmarks.harness.ports import port_open, wait_until


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


def start_gunicorn(b: Bench, name: str, workers: int) -> Proc:
    """The app under gunicorn, answering before this returns."""
    web = b.start(name, gunicorn_argv(b, workers))
    wait_until(lambda: b.get("/bench/floor/constant/")[0] == 200, 60, "gunicorn", web.popen)
    return web


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
    start_celery(b)
    start_gunicorn(b, "gunicorn", b.args.workers)
    # Load every worker's code and database connection before the first figure.
    subprocess.run(
        ["wrk", "-t1", "-c", str(b.args.connections), "-d", "2s", b.base + f"/letters/{SLUG}/"],
        capture_output=True,
        check=False,
    )


def start_celery(b: Bench) -> None:
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


def stop_gunicorn(b: Bench) -> None:
    """Stop every gunicorn the run started and wait until its port is free."""
    for proc in [p for p in b.procs if p.name.startswith("gunicorn")]:
        if proc.popen.poll() is None:
            os.killpg(proc.popen.pid, signal.SIGTERM)
            proc.popen.wait(15)
    wait_until(lambda: not port_open(b.web_port), 15, "the previous gunicorn to stop")
