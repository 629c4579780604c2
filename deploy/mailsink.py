"""An SMTP sink with a web view, standing in for Mailpit in `make stack` (Mailpit's binary is not
on any package registry this project installs from).

    python -m deploy.mailsink SMTP_PORT HTTP_PORT

Every message is kept in memory and shown as Mailpit shows it, so a script written against
Mailpit's API works against either:
- GET /api/v1/messages            {"total": n, "messages": [{"ID", "From", "To", "Subject", ...}]}
- GET /api/v1/message/ID          {"ID", "From", "To", "Subject", "Text", "HTML"}
- DELETE /api/v1/messages         forget every message
- GET /                           an HTML list of the messages, newest first
"""

import html
import json
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        text = message.get_body(("plain",))
        rich = message.get_body(("html",))
        record = {
            "ID": uuid.uuid4().hex,
            "MessageID": message.get("Message-ID", ""),
            "From": _address(message.get("From", "")),
            "To": [{"Name": "", "Address": a} for a in envelope.rcpt_tos],
            "Subject": str(message.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat(),
            "Text": text.get_content() if text else "",
            "HTML": rich.get_content() if rich else "",
        }
        with self.lock:
            self.messages.append(record)
        return "250 OK"

    def summaries(self) -> list[dict]:
        with self.lock:
            found = list(reversed(self.messages))
        return [{k: v for k, v in m.items() if k not in {"Text", "HTML"}} for m in found]

    def get(self, message_id: str) -> dict | None:
        with self.lock:
            return next((m for m in self.messages if m["ID"] == message_id), None)

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


def _address(header: str) -> dict:
    name, address = (getaddresses([header]) or [("", "")])[0]
    return {"Name": name, "Address": address}


def handler_for(store: Store):
    class Handler(BaseHTTPRequestHandler):
        def _json(self, body, status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/api/v1/messages":
                summaries = store.summaries()
                return self._json({"total": len(summaries), "messages": summaries})
            if self.path.startswith("/api/v1/message/"):
                found = store.get(self.path.rsplit("/", 1)[-1])
                return self._json(found or {"error": "not found"}, 200 if found else 404)
            if self.path == "/":
                rows = "".join(
                    f"<tr><td>{html.escape(m['Created'])}</td>"
                    f"<td>{html.escape(', '.join(t['Address'] for t in m['To']))}</td>"
                    f"<td>{html.escape(m['Subject'])}</td></tr>"
                    for m in store.summaries()
                )
                page = (
                    "<!doctype html><title>Mail sink</title><h1>Mail sink</h1>"
                    f"<table><tr><th>Received</th><th>To</th><th>Subject</th></tr>{rows}</table>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                return self.wfile.write(page)
            return self._json({"error": "not found"}, 404)

        def do_DELETE(self):
            if self.path.rstrip("/") == "/api/v1/messages":
                store.clear()
                return self._json({"ok": True})
            return self._json({"error": "not found"}, 404)

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            pass

    return Handler


def main() -> None:
    smtp_port, http_port = int(sys.argv[1]), int(sys.argv[2])
    store = Store()
    controller = Controller(store, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    web = ThreadingHTTPServer(("127.0.0.1", http_port), handler_for(store))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    print(f"mail sink: SMTP on {smtp_port}, web view on http://127.0.0.1:{http_port}/", flush=True)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    while not stopping.is_set():
        time.sleep(0.2)
    web.shutdown()
    controller.stop()


if __name__ == "__main__":
    main()
