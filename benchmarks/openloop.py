"""A small open-loop HTTP load generator: requests leave on a fixed schedule, whatever the server.

wrk (the saturating tool) is closed-loop: each connection waits for its answer before sending
again, so when the server stalls the load drops and the stall hides in few samples ("coordinated
omission"). wrk2 fixes that but is not packaged by Debian. Here request i is due at
t0 + i / rate; its latency is measured from that scheduled time, not from when a connection was
free to send it, so a stall counts against every request it delayed.

HTTP/1.1 over asyncio streams, keep-alive when the server allows it (gunicorn's sync workers
close after each response; gthread keeps connections).
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    rate: float
    duration: float
    scheduled: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    max_lag_ms: float = 0.0  # how late the client itself sent a request (its own load)
    wall_started: float = 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = self.latencies_ms
        k = min(len(data) - 1, max(0, int(round(p / 100 * len(data) + 0.5)) - 1))
        return data[k]

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 400)

    def summary(self) -> dict:
        return {
            "rate": self.rate,
            "duration_s": self.duration,
            "measured": len(self.latencies_ms),
            "ok": self.ok,
            "errors": self.errors + sum(n for s, n in self.statuses.items() if s >= 400),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "p50_ms": round(self.pct(50), 2),
            "p90_ms": round(self.pct(90), 2),
            "p99_ms": round(self.pct(99), 2),
            "max_ms": round(self.latencies_ms[-1], 2) if self.latencies_ms else None,
            "client_max_lag_ms": round(self.max_lag_ms, 2),
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip().lower()
    keep_alive = headers.get("connection") != "close" and lines[0].startswith("HTTP/1.1")
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.read()
        keep_alive = False
    return status, keep_alive


async def _run(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    rate: float,
    duration: float,
    warmup: float,
    max_conns: int,
    timeout: float,
    tail: float,
) -> Result:
    loop = asyncio.get_running_loop()
    result = Result(rate=rate, duration=duration)
    sender = _Sender(host, port, make_request, result, max_conns, timeout)
    total = int((warmup + duration) * rate)
    t0 = loop.time() + 0.05
    result.wall_started = time.time() + 0.05
    sender.measured_from = t0 + warmup
    tasks = []
    for i in range(total):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            result.max_lag_ms = max(result.max_lag_ms, -delay * 1000)
        tasks.append(asyncio.create_task(sender.send(i, due)))
    result.scheduled = total
    # An overloaded server leaves a queue behind: wait for it a little, not forever.
    _, late = await asyncio.wait(tasks, timeout=tail)
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late)
    result.latencies_ms.sort()
    for _, writer in sender.idle:
        writer.close()
    return result


class _Sender:
    """Sends request i on a kept-alive connection or a new one, at most `max_conns` at once, and
    records its status and its latency from the time it was due (once `measured_from`)."""

    def __init__(self, host, port, make_request, result: Result, max_conns: int, timeout: float):
        self.host, self.port = host, port
        self.make_request = make_request
        self.result = result
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(max_conns)
        self.measured_from = float("inf")

    async def send(self, i: int, due: float) -> None:
        status = None
        try:
            async with self.slots:
                status = await self._exchange(i)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            status = None
        except asyncio.CancelledError:
            status = None  # still unanswered when the run ended: counted as failed, as late
        finally:
            if due >= self.measured_from:
                self.result.latencies_ms.append((self.loop.time() - due) * 1000)
                if status is None:
                    self.result.errors += 1
                else:
                    self.result.statuses[status] += 1

    async def _exchange(self, i: int) -> int:
        """Request i and its answer's status; the connection kept for the next if it allows."""
        while True:
            reused = bool(self.idle)
            conn = (
                self.idle.pop()
                if self.idle
                else await asyncio.open_connection(self.host, self.port)
            )
            reader, writer = conn
            try:
                writer.write(self.make_request(i))
                status, keep = await asyncio.wait_for(_read_response(reader), self.timeout)
                break
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                writer.close()
                # The server closed a kept-alive connection while it sat idle: send
                # again on a new one, as browsers do (the wait still counts).
                if not reused or getattr(exc, "partial", b""):
                    raise
            except BaseException:
                writer.close()
                raise
        if keep:
            self.idle.append(conn)
        else:
            writer.close()
        return status


def run(
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    *,
    rate: float,
    duration: float,
    warmup: float = 2.0,
    max_conns: int = 64,
    timeout: float = 10.0,
    tail: float = 5.0,
) -> Result:
    """Send `rate` requests a second for warmup + duration seconds; measure the last `duration`."""
    return asyncio.run(
        _run(host, port, make_request, rate, duration, warmup, max_conns, timeout, tail)
    )
