"""`make stack-test`'s drive of a running stack, over HTTP as people use it.

A signature at each level, each confirmed from the mail read in the sink's web view (Mailpit's
API); the demo organiser's password set through the reset mail; an organisation made by a new
account and its co-signature approved; a CSV export; the public log audited by
`manage.py auditlog`, run as a one-off container of the web service would run it; and the
worker's and beat's compose health checks run as Docker would run them.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests

from deploy import stack

SLUG = "stop-selling-facefinder-to-police"
PASSWORD = "a-long-stack-password-42"


class Forms(HTMLParser):
    """Every form of a page: its action and the values a browser would submit unchanged."""

    def __init__(self, page: str):
        super().__init__()
        self.forms: list[dict] = []
        self._select = None
        self._textarea = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "options": {}})
        elif not self.forms:
            return
        fields = self.forms[-1]["fields"]
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    fields[a["name"]] = a.get("value", "on")
            elif kind not in {"submit", "button", "file"}:
                fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self.forms[-1]["options"].setdefault(self._select, []).append(a.get("value", ""))
            if "selected" in a or self._select not in fields:
                fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a.get("name")
            fields[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data

    def find(self, action_part: str, page_url: str) -> dict:
        """The first form posting to a URL containing `action_part` (no action: the page's)."""
        for form in self.forms:
            form["target"] = urljoin(page_url, form["action"] or page_url)
            if action_part in form["target"]:
                return form
        raise AssertionError(f"no form posting to {action_part!r} on {page_url}")


class Site:
    # Mails already read, or there before this run: each step reads only its own.
    seen: set[str] = set()

    def __init__(self, web: str, mail: str):
        self.web, self.mail = web, mail
        self.session = requests.Session()

    def get(self, path: str, expect: int = 200) -> requests.Response:
        response = self.session.get(urljoin(self.web, path), timeout=30)
        assert response.status_code == expect, f"GET {path}: {response.status_code}"
        return response

    def submit(self, page_path: str, posting_to: str, expect=(302,), **values) -> requests.Response:
        """Fill the form of the page whose action contains `action` and post it, as a browser."""
        page = self.get(page_path)
        form = Forms(page.text).find(posting_to, page.url)
        data = {**form["fields"], **values}
        target = form["target"]
        response = self.session.post(target, data=data, allow_redirects=False, timeout=60)
        assert response.status_code in expect, (
            f"POST {target}: {response.status_code}\n{response.text[:2000]}"
        )
        return response

    def mail_to(self, address: str, containing: str, timeout: float = 60) -> str:
        """The text of the first unread mail to `address` holding `containing`, from the sink's
        API (Mailpit's)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listing = requests.get(f"{self.mail}/api/v1/messages", timeout=10).json()
            for summary in reversed(listing["messages"]):  # oldest first
                if summary["ID"] in Site.seen:
                    continue
                if any(to["Address"] == address for to in summary["To"]):
                    message = requests.get(
                        f"{self.mail}/api/v1/message/{summary['ID']}", timeout=10
                    ).json()
                    if containing in message["Text"]:
                        Site.seen.add(summary["ID"])
                        return message["Text"]
            time.sleep(0.5)
        raise AssertionError(f"no mail to {address} with {containing!r} in {timeout}s")

    def link(self, text: str, part: str) -> str:
        match = re.search(r"https?://\S*" + re.escape(part) + r"\S*", text)
        assert match, f"no {part} link in:\n{text}"
        return re.sub(r"^https?://[^/]+", "", match.group(0))


def verified_count(site: Site) -> int:
    return int(site.get(f"/api/letters/{SLUG}/counts").json()["counts"]["verified"])


def checkpoint_size(web: str) -> int:
    response = requests.get(f"{web}/api/letters/{SLUG}/log/checkpoint", timeout=10)
    lines = response.text.splitlines()
    return int(lines[1]) if response.status_code == 200 and len(lines) > 1 else 0


def sign_at_each_level(site: Site, run: str) -> list[str]:
    letter = f"/letters/{SLUG}/"
    before = verified_count(site)
    page = Forms(site.get(letter).text).find("/sign/", site.web + letter)
    levels = page["options"].get("visibility") or ["public", "anonymous", "private"]
    signers = []
    for level in ["public", "anonymous", "private"]:
        assert level in levels or level in page["fields"].get("visibility", level), level
        email = f"{level}-{run}@example.net"
        site.submit(letter, "/sign/", name=f"{level.title()} Signer", email=email, visibility=level)
        confirm = site.link(site.mail_to(email, "/confirm/"), "/confirm/")
        site.submit(confirm, "/confirm/")
        site.mail_to(email, "/my-signature/")  # "your signature is confirmed"
        signers.append(email)
    assert verified_count(site) == before + 3
    return signers


def organiser_logs_in(site: Site, email: str) -> None:
    """The demo organiser has no password: they set one through the reset mail."""
    site.submit("/accounts/password/reset/", "/password/reset/", email=email)
    reset = site.link(site.mail_to(email, "/password/reset/key/"), "/password/reset/key/")
    response = site.session.get(urljoin(site.web, reset), timeout=30)
    assert response.status_code == 200, response.status_code
    form = Forms(response.text).find("/password/reset/key/", response.url)
    site.session.post(
        response.url,
        data={**form["fields"], "password1": PASSWORD, "password2": PASSWORD},
        timeout=30,
    ).raise_for_status()
    log_in(site, email)


def log_in(site: Site, email: str) -> None:
    """Log in; an address never confirmed is confirmed from the mail allauth sends, first."""
    response = site.submit("/accounts/login/", "/login/", login=email, password=PASSWORD)
    if "confirm-email" in response.headers["Location"]:
        confirm_address(site, email)
        site.submit("/accounts/login/", "/login/", login=email, password=PASSWORD)
    assert site.get("/manage/").url.endswith("/manage/"), "logged in"


def confirm_address(site: Site, email: str) -> None:
    confirm = site.link(site.mail_to(email, "/confirm-email/"), "/confirm-email/")
    site.submit(confirm, "/confirm-email/")


def signs_up(site: Site, email: str) -> None:
    site.submit(
        "/accounts/signup/", "/signup/", email=email, password1=PASSWORD, password2=PASSWORD
    )
    confirm = site.link(site.mail_to(email, "/confirm-email/"), "/confirm-email/")
    site.submit(confirm, "/confirm-email/")
    # Confirming in the browser that signed up signs the new account in.
    assert site.get("/me/signatures/").url.endswith("/me/signatures/"), "signed in on confirming"


def organisation_co_signs(organiser: Site, web: str, mail: str, run: str) -> None:
    organiser.submit(f"/manage/{SLUG}/settings/", "/settings/", accepts_organisations="on")
    admin = Site(web, mail)
    signs_up(admin, f"admin-{run}@stack-org.example.net")
    admin.submit(
        "/orgs/new/",
        "/orgs/new/",
        name=f"Stack Rights Collective {run}",
        website="https://stack-org.example.net",
        email_domains="stack-org.example.net",
        description="Made by the stack test.",
    )
    admin.submit(f"/letters/{SLUG}/cosign/", "/cosign/", statement="We stand with them.")
    page = organiser.get(f"/manage/{SLUG}/cosigners/").text
    pending = re.search(rf"/manage/{SLUG}/cosigners/(\d+)/", page)
    assert pending, "the co-signature waits for approval"
    organiser.submit(f"/manage/{SLUG}/cosigners/", pending.group(0), action="approve")
    assert f"Stack Rights Collective {run}" in organiser.get(f"/letters/{SLUG}/").text


def exports_csv(organiser: Site, signers: list[str]) -> None:
    response = organiser.submit(
        f"/manage/{SLUG}/exports/", "/exports/download/", expect=(200,), format="csv"
    )
    assert "text/csv" in response.headers["Content-Type"], response.headers
    public, _, private = signers
    assert public in response.text, "a public signer is in the organisers' export"
    assert private not in response.text, "a private signer's address never leaves the database"


def audit_log(web: str, env: dict, size: int) -> str:
    """`docker compose run --rm web python manage.py auditlog ...`, once the log is checkpointed."""
    deadline = time.monotonic() + 60
    while checkpoint_size(web) < size:
        assert time.monotonic() < deadline, f"no checkpoint of {size} entries"
        time.sleep(1)
    result = subprocess.run(
        ["python", "manage.py", "auditlog", web, SLUG, "--state-dir", env["VAR_DIR"] + "/audit"],
        env=env,
        cwd=env.get("PWD"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def compose_healthchecks_pass(processes: dict) -> None:
    for name in ("worker", "beat"):
        process = processes[name]
        result = subprocess.run(
            process.healthcheck, env=process.env, cwd=process.cwd, capture_output=True, timeout=60
        )
        assert result.returncode == 0, f"{name}'s compose health check failed: {result.stdout}"


def run(web: str, mail: str, processes: dict) -> int:
    """Every step asserts what a person would see; the first that fails stops the run."""
    site = Site(web, mail)
    listing = requests.get(f"{mail}/api/v1/messages", timeout=10).json()
    Site.seen.update(summary["ID"] for summary in listing["messages"])
    ready = site.get("/readyz").json()
    assert ready["status"] == "ready", ready
    run = str(int(time.time()))  # a stack that runs on keeps earlier runs' people
    logged = checkpoint_size(web)
    signers = sign_at_each_level(site, run)
    print("signed and confirmed at each level:", ", ".join(signers), flush=True)
    organiser = Site(web, mail)
    organiser_logs_in(organiser, "organiser@example.org")
    organisation_co_signs(organiser, web, mail, run)
    print("an organisation co-signed and was approved", flush=True)
    exports_csv(organiser, signers)
    print("exported the signatures as CSV", flush=True)
    web_env = {**processes["web"].env, "PWD": processes["web"].cwd}
    print(audit_log(web, web_env, logged + len(signers)).strip(), flush=True)
    compose_healthchecks_pass(processes)
    print("worker and beat answer their compose health checks", flush=True)
    return verified_count(site)


def kept_after_restart(web: str, mail: str, counted: int) -> None:
    site = Site(web, mail)
    assert site.get("/readyz").json()["status"] == "ready"
    assert verified_count(site) == counted, "every signature survives a restart"
    print(f"a restart kept all {counted} signatures", flush=True)


def fresh_stack() -> int:
    """A new stack in a temporary folder, driven, then stopped and removed: `make stack-test`."""
    started = time.monotonic()
    run_dir = Path(tempfile.mkdtemp(prefix="undersigned-stack-"))
    run_dir.chmod(0o755)
    running = stack.Stack(run_dir)
    try:
        running.up()
        counted = run(running.web_url, running.mail_url, running.processes)
        # Stopped and started again on the same folders, as `docker compose down && up` keeps
        # the volumes: PostgreSQL's data and the app's var/.
        running.down()
        running = stack.Stack(run_dir)
        running.up()
        kept_after_restart(running.web_url, running.mail_url, counted)
    except BaseException:
        for log in sorted(running.logs.glob("*.log")):
            print(f"--- {log.name} (last lines)", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-25:]), file=sys.stderr)
        raise
    finally:
        running.down()
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"stack test passed in {time.monotonic() - started:.0f}s", flush=True)
    return 0


def main() -> None:
    """No argument: a fresh stack. A folder: drive the stack `make stack` runs there."""
    if len(sys.argv) == 1:
        sys.exit(fresh_stack())
    run_dir = Path(sys.argv[1])
    state = json.loads((run_dir / "stack.json").read_text())
    _, processes, _ = stack.build_plan(run_dir)
    run(state["web"], state["mail"], processes)


if __name__ == "__main__":
    main()
