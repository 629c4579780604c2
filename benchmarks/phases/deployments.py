"""The app as people run it beyond the main figures: the embedded default (`make run`: SQLite,
tasks inline, mail on the console) under a few browsers, and gunicorn grown from 1 to 4 workers
on one database."""

import secrets

from benchmarks import embedded
from benchmarks.constants import SLUG
from benchmarks.harness.bench import Bench
from benchmarks.harness.servers import start_gunicorn, stop_gunicorn
from benchmarks.registry import phase

SCALE_WORKERS = (1, 2, 4)


@phase(
    targets={"embedded_server_errors": ("<=", 0)},
    doc={
        "embedded_sign_confirm_per_s_at_4": "signers through sign and confirm per s on the"
        " embedded default (runserver on SQLite), 4 browsers at once",
        "embedded_sign_confirm_per_s_at_8": "the same, 8 browsers at once",
        "embedded_server_errors": "5xx answers to those signers",
    },
)
def embedded_default(b: Bench) -> dict:
    """Browsers through the whole flow (letter page, sign, link from the printed mail, confirm
    page, confirm, thanks) against `make run`'s server on a SQLite file of its own; one press of
    each button, so a busy answer counts as a signer lost."""
    signers = 40 if b.quick else 150
    figures, errors = {}, 0
    with embedded.EmbeddedServer(b.tmp / "embedded") as server:
        for clients in (4, 8):
            outcome = embedded.sign_and_confirm(
                server, embedded.addresses(signers, f"at{clients}"), clients, attempts=1
            )
            details = embedded.report(server, outcome, signers)
            b.details[f"embedded_at_{clients}"] = details
            figures[f"embedded_sign_confirm_per_s_at_{clients}"] = details["signers_per_s"]
            errors += outcome.server_errors
            if outcome.failed:
                b.notes.append(f"embedded default at {clients}: {len(outcome.failed)} lost")
    return {**figures, "embedded_server_errors": errors}


@phase(
    doc={
        f"scale_{what}_per_s_w{n}": f"{label} with {n} gunicorn worker{'s' * (n > 1)}"
        f" on the same database, wrk saturated"
        for n in SCALE_WORKERS
        for what, label in (("sign", "sign POSTs/s"), ("letter_page", "letter page GETs/s"))
    }
)
def scaling(b: Bench) -> dict:
    """The app server alone grown from 1 to 2 to 4 worker processes (the rest unchanged: one
    PostgreSQL, one Redis, one Celery worker), so a user sees how one machine scales. Runs last:
    it replaces the gunicorn the other phases used."""
    figures = {}
    for n in SCALE_WORKERS:
        stop_gunicorn(b)
        start_gunicorn(b, f"gunicorn-w{n}", n)
        page = b.wrk(f"/letters/{SLUG}/", script="get.lua", seconds=6)
        csrf = b.csrf_file(2)
        signing = b.wrk(
            f"/letters/{SLUG}/sign/",
            script="sign.lua",
            args=[f"/letters/{SLUG}/sign/", csrf, f"scale{n}-{secrets.token_hex(3)}"],
            seconds=8,
        )
        b.drain_mail()
        b.details[f"scaling_w{n}"] = {"letter_page": page, "sign": signing}
        figures[f"scale_letter_page_per_s_w{n}"] = page["per_s"]
        figures[f"scale_sign_per_s_w{n}"] = signing["per_s"]
    return figures
