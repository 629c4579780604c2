"""The load generators: wrk saturating a path (closed loop), benchmarks/openloop.py at a fixed
rate (open loop), each measured with the CPU meter."""

import json
import subprocess

from benchmarks import openloop
from benchmarks.constants import BENCH
from benchmarks.harness.cpu import per_request

WRK_ERRORS = ("connect", "read", "write", "status", "timeout")


class Load:
    """The Bench's load generators. Use its `args`, `quick`, `base`, `host`, `web_port`,
    `wrk_headers`, `notes` and `cpu_meter()`."""

    def duration(self, seconds: float) -> float:
        return max(3.0, seconds / 3) if self.quick else seconds

    def wrk(
        self,
        path,
        *,
        script,
        args=(),
        seconds=10,
        connections=None,
        threads=2,
        warmup=2,
        warmup_args=None,
    ):
        """Saturate `path` with wrk for `seconds` after `warmup` seconds of the same load (every
        worker has run this code path before the clock starts); requests/s and wrk's numbers."""
        connections = connections or self.args.connections
        seconds = self.duration(seconds)
        if warmup:
            warm_args = args if warmup_args is None else warmup_args
            subprocess.run(
                self.wrk_argv(path, script, warm_args, threads, connections, f"{warmup}s"),
                capture_output=True,
                timeout=warmup + 60,
                check=True,
            )
        argv = self.wrk_argv(
            path, script, args, threads, connections, f"{seconds:.0f}s", ["--timeout", "10s"]
        )
        with self.cpu_meter() as cpu:
            out = subprocess.run(
                argv, capture_output=True, text=True, timeout=seconds + 60, check=True
            ).stdout
        line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
        result = wrk_result(json.loads(line.removeprefix("WRKJSON ")), connections, seconds, cpu)
        if result["errors"] > 0.01 * max(1, result["requests"]):
            detail = ", ".join(f"{k} {v}" for k, v in result["error_detail"].items() if v)
            self.notes.append(
                f"{path}: {result['errors']} of {result['requests']} wrk requests failed ({detail})"
            )
        return result

    def wrk_argv(self, path, script, args, threads, connections, duration, extra=()) -> list:
        """wrk's command line: our Lua `script` against `path`, its arguments after `--`."""
        return [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            duration,
            *extra,
            *self.wrk_headers,
            "-s",
            str(BENCH / "lua" / script),
            self.base + path,
            "--",
            *map(str, args),
        ]

    def steady(self, make_request, *, rate: float, seconds: float = 15, warmup: float = 2):
        """Open loop at `rate` a second; latency from each request's scheduled time."""
        seconds = self.duration(seconds)
        with self.cpu_meter() as cpu:
            result = openloop.run(
                self.host,
                self.web_port,
                make_request,
                rate=rate,
                duration=seconds,
                warmup=warmup,
                max_conns=128,
            )
        summary = result.summary()
        summary["cores_used"] = cpu
        summary["cpu_ms_per_request"] = per_request(cpu, summary["ok"] / seconds)
        if summary["errors"] > 0.01 * max(1, summary["measured"]):
            self.notes.append(f"steady {rate}/s: {summary['errors']} requests failed")
        return result, summary


def wrk_result(raw: dict, connections: int, seconds: float, cpu: dict) -> dict:
    """The figures of one wrk run, from the JSON our Lua scripts print at its end."""
    errors = sum(raw[k] for k in WRK_ERRORS)
    ok = raw["requests"] - errors
    return {
        "per_s": round(ok / (raw["duration_us"] / 1e6), 1),
        "requests": raw["requests"],
        "errors": errors,
        "error_detail": {k: raw[k] for k in WRK_ERRORS},
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "connections": connections,
        "seconds": seconds,
        "cores_used": cpu,
        "cpu_ms_per_request": per_request(cpu, ok / (raw["duration_us"] / 1e6)),
    }
