"""The report of a run: its figures with their ratios to the floors and their verdicts, the
machine and versions they were measured on, as a JSON file (benchmarks/results/latest.json) and
as markdown tables (printed, and the measured section of docs/performance.md)."""

import contextlib
import json
import math
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import celery
import django
import gunicorn
import psycopg
import redis as redis_py

from benchmarks.constants import BENCH, CORES, RAISED_LIMITS, ROOT
from benchmarks.harness.bench import Bench

LOAD_AT_START = os.getloadavg()  # before the run adds its own
MET = {True: "yes", False: "**no**", None: "not measured"}
CPU_COLUMNS = ["gunicorn", "celery", "postgres", "pg_ended", "smtp_sink", "redis", "load_generator"]


# --- the report -------------------------------------------------------------------------------


def build(b: Bench, phases: list, started: float) -> dict:
    """The whole report of the run that began at `started` (time.monotonic())."""
    ratios = compute_ratios(b.results, phases)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(b),
        "config": config(b.args),
        "figures": b.results,
        "ratios": ratios,
        "notes": b.notes,
        "details": b.details,
    }
    report["targets"] = check_targets({**b.results, **ratios}, phases)
    report["run_seconds"] = round(time.monotonic() - started, 1)
    # Every figure and ratio flat at the top level too, for anyone reading the file by key.
    return {**b.results, **ratios, **report}


def publish(report: dict, tmp: Path, *, write: bool) -> None:
    """Print the tables; keep the JSON with the run's logs and, if `write`, in
    benchmarks/results/latest.json and docs/performance.md."""
    print()
    print(describe(report))
    (tmp / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    if write:
        out = BENCH / "results" / "latest.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        update_docs(report)
        print(f"\nWrote {out.relative_to(ROOT)} and docs/performance.md")


def config(args) -> dict:
    return {
        "gunicorn": f"{args.workers} workers, "
        + (f"gthread x{args.threads}" if args.threads > 1 else "sync"),
        "celery": f"{args.celery_pool} pool, concurrency {args.celery_concurrency}",
        "wrk_connections": args.connections,
        "client_connections": "kept alive" if args.keep_alive else "one per request",
        "raised_limits": RAISED_LIMITS,
        "quick": args.quick,
        "rows": args.rows,
    }


def versions(b: Bench) -> dict:
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


def compute_ratios(results: dict, phases: list) -> dict:
    ratios = {}
    for p in phases:
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


def check_targets(results: dict, phases: list) -> dict:
    verdicts = {}
    for p in phases:
        for key, (op, goal) in p.targets.items():
            value = results.get(key)
            if value is None:
                verdicts[key] = {"target": f"{op} {goal}", "met": None}
            else:
                met = value >= goal if op == ">=" else value <= goal
                verdicts[key] = {"target": f"{op} {goal}", "met": met}
    return verdicts


# --- markdown ---------------------------------------------------------------------------------


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
    for key, value in details.items():
        rows += cpu_rows(key, value)
    return "\n".join(rows)


def cpu_rows(label: str, value) -> list[str]:
    """A row for each load measured within `value` (a phase's details, nested dicts)."""
    if not isinstance(value, dict):
        return []
    if value.get("cpu_ms_per_request") and "cores_used" in value:
        ms, cores = value["cpu_ms_per_request"], value["cores_used"]
        rate = value.get("per_s") or round(value.get("ok", 0) / value["duration_s"], 1)
        cells = " | ".join(fmt(ms.get(c, 0.0)) for c in CPU_COLUMNS)
        return [
            f"| {label} | {fmt(rate)} | {cells} | {fmt(ms.get('total_ours'))} | "
            f"{fmt(cores.get('others'))} |"
        ]
    rows = []
    for key, inner in value.items():
        rows += cpu_rows(f"{label} {key}".strip(), inner)
    return rows


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
