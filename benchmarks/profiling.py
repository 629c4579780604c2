"""Optional profiling (--profile needs py-spy, `pip install py-spy`): gunicorn's workers and the
Celery worker sampled while a phase runs, summarised in benchmarks/results/profiles/."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from benchmarks.constants import BENCH, PY, ROOT
from benchmarks.harness.bench import Bench

PROFILED_SERVERS = ("gunicorn", "celery")


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
    spies = [start_spy(b, spy, name, server) for server in PROFILED_SERVERS]
    time.sleep(1)
    try:
        yield
    finally:
        stop_spies(spies, name, out_dir)


def start_spy(b: Bench, spy: str, name: str, server: str) -> tuple:
    """py-spy recording `server` and its children: (server, its folded stacks, the py-spy)."""
    folded = b.tmp / f"{name}-{server}.folded"  # the raw stacks stay with the logs
    argv = [
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
    ]
    popen = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    return server, folded, popen


def stop_spies(spies: list, name: str, out_dir: Path) -> None:
    """Stop each py-spy (it writes its stacks on SIGINT) and summarise what it recorded."""
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
