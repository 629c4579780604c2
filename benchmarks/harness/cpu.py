"""How much of the machine a load used: by each of our servers, our PostgreSQL backends and the
load generator, and how much everything else on the machine took meanwhile (the noise)."""

import contextlib
import os

from benchmarks.constants import CORES, DB_NAME
from benchmarks.harness.procfs import children, machine_cpu, parent_pid, process_cpu


def per_request(cores: dict, rate: float) -> dict:
    """CPU milliseconds each component spent per request, from cores used at `rate`/s."""
    if not rate:
        return {}
    skip = {"machine_busy_pct", "others"}
    out = {k: round(v * 1000 / rate, 2) for k, v in cores.items() if k not in skip}
    out["total_ours"] = round(sum(out.values()), 2)
    return out


class CpuMeter:
    """The Bench's CPU accounting. Uses its `procs`, `pids()`, `db()` and `postmaster`."""

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
