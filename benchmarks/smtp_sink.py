"""An SMTP sink for `make bench`: accepts every mail and records when it arrived, and for whom.

    python benchmarks/smtp_sink.py PORT OUTFILE

Each accepted message appends "<unix time> <recipient>" to OUTFILE, flushed at once, so run.py can
compute commit-to-SMTP latency from the signature's commit time and this arrival time.
"""

import asyncio
import signal
import sys
import time

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        for rcpt in envelope.rcpt_tos:
            self.out.write(f"{now:.6f} {rcpt}\n")
        self.out.flush()
        return "250 OK"


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "a", encoding="utf-8") as out:
        controller = Controller(Recorder(out), hostname="127.0.0.1", port=port)
        controller.start()
        print(f"smtp sink ready on {port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            loop.run_until_complete(stop.wait())
        finally:
            controller.stop()


if __name__ == "__main__":
    main()
