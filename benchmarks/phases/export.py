"""The CSV export of the million signatures, asked for as the organiser's browser does: time to
the last byte, and how much the serving worker's memory grew.

The app's modules are imported inside the functions that use them: Django is set up only once
the run's environment is known (run.py), and a model cannot be imported before.
"""

import contextlib
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from benchmarks.constants import SLUG
from benchmarks.harness.bench import Bench
from benchmarks.harness.browser import NoRedirect
from benchmarks.harness.procfs import children, rss_kb
from benchmarks.registry import phase

NOT_MEASURED = {"export_1m_s": None, "export_1m_mb": None}


@phase(
    targets={"export_1m_s": ("<=", 6), "export_1m_mb": ("<=", 64)},
    doc={
        "export_1m_s": "seconds to download the CSV of the million signatures",
        "export_1m_mb": "peak RSS growth (MB) of the process serving the export",
    },
)
def export(b: Bench) -> dict:
    """Open the export page, submit its form with format=csv, and read the streamed answer to
    the end."""
    page = reverse("organiser:exports", kwargs={"slug": SLUG})
    session = organiser_cookie(b)
    status, headers, body = b.get(page, {"Cookie": session})
    parser = FormParser()
    parser.feed(body.decode("utf-8", "replace"))
    form = next((f for f in parser.forms if "csv" in f["options"].get("format", [])), None)
    if status != 200 or form is None:
        b.notes.append(f"export page {page} answered {status} without a CSV form")
        return dict(NOT_MEASURED)
    csrf = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", ""))
    cookie = session + (f"; csrftoken={csrf.group(1)}" if csrf else "")
    data = {**form["fields"], "format": "csv"}
    action = urllib.parse.urljoin(page, form["action"] or page)
    return measure_export(b, action, data, cookie)


def organiser_cookie(b: Bench) -> str:
    """A signed-in session for the letter's organiser, as its browser would hold it."""
    client = Client()
    client.force_login(get_user_model().objects.get(pk=b.organiser_id))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class FormParser(HTMLParser):
    """The forms of a page: action, method and each field's default value."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action") or "",
                    "method": a.get("method", "get"),
                    "fields": {},
                    "options": {},
                }
            )
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in {"checkbox", "radio"} and "checked" not in a:
                return
            self.forms[-1]["fields"].setdefault(a["name"], a.get("value") or "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            options = self.forms[-1]["options"].setdefault(self._select, [])
            options.append(a.get("value", ""))
            if "selected" in a or self._select not in self.forms[-1]["fields"]:
                self.forms[-1]["fields"][self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def measure_export(b: Bench, action: str, data: dict, cookie: str) -> dict:
    workers = children(b.pids("gunicorn")[0])
    for pid in workers:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # restart each peak RSS from now
    before = {pid: rss_kb(pid) for pid in workers}
    request = urllib.request.Request(
        b.base + action,
        data=urllib.parse.urlencode(data).encode(),
        headers={"Cookie": cookie, "Origin": b.base, "Referer": b.base + action},
    )
    size = rows = 0
    started = time.monotonic()
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=120) as response:
            kind = response.headers.get("Content-Type", "")
            while chunk := response.read(1 << 16):
                size += len(chunk)
                rows += chunk.count(b"\n")
    except urllib.error.HTTPError as exc:
        b.notes.append(f"export: {action} answered {exc.code}")
        return dict(NOT_MEASURED)
    seconds = time.monotonic() - started
    growth = max(rss_kb(pid, "VmHWM") - before[pid] for pid in workers) / 1024
    b.details["export"] = {
        "url": action,
        "content_type": kind,
        "lines": rows,
        "bytes": size,
        "seconds": round(seconds, 2),
        "rss_growth_mb": round(growth, 1),
        "workers_rss_mb_before": sorted(round(v / 1024, 1) for v in before.values()),
    }
    if "csv" not in kind or rows < b.args.rows:
        b.notes.append(f"export: {rows} lines of {kind!r} for {b.args.rows} signatures")
    return {"export_1m_s": round(seconds, 2), "export_1m_mb": round(growth, 1)}
