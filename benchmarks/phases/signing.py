"""Signing and confirming: sign POSTs at a steady rate and saturated, and confirmation POSTs
with fresh tokens, the Celery worker sending the mail meanwhile.

The app's modules are imported inside the functions that use them: Django is set up only once
the run's environment is known (run.py), and a model cannot be imported before.
"""

import secrets

from benchmarks.constants import SLUG, VERIFY_TOKENS, VERIFY_WARM_TOKENS
from benchmarks.harness.bench import Bench
from benchmarks.registry import phase


@phase(
    targets={"sign_p99_ms_at_50": ("<=", 150)},
    floors={"sign_p99_ms_at_50": "floor_insert_p99_ms_at_50"},
    doc={"sign_p99_ms_at_50": "p99 of sign POSTs at a steady 50/s, worker sending the mail"},
)
def sign_steady(b: Bench) -> dict:
    _, steady = b.steady(b.sign_request(f"/letters/{SLUG}/sign/", "steady50"), rate=50)
    b.details["sign_steady_50"] = steady
    return {"sign_p50_ms_at_50": steady["p50_ms"], "sign_p99_ms_at_50": steady["p99_ms"]}


@phase(
    targets={
        "sign_per_s": (">=", 330),
        "sign_per_s_vs_floor": (">=", 0.85),
        "sign_per_s_vs_floor_sign": (">=", 0.8),
    },
    floors={"sign_per_s": ("floor_insert_per_s", "floor_sign_per_s")},
    doc={
        "sign_per_s": "sign POSTs/s (unique addresses, CSRF as a browser), wrk saturated,"
        " worker running"
    },
)
def sign(b: Bench) -> dict:
    from petition.models import Signature

    csrf = b.csrf_file(2)
    prefix = f"sat-{secrets.token_hex(3)}"
    sat = b.wrk(
        f"/letters/{SLUG}/sign/",
        script="sign.lua",
        args=[f"/letters/{SLUG}/sign/", csrf, prefix],
        seconds=12,
    )
    stored = Signature.objects.filter(email__startswith=prefix + "-").count()
    sat["signatures_stored"] = stored
    if abs(stored - (sat["requests"] - sat["errors"])) > 2 * sat["connections"]:
        b.notes.append(f"sign: {stored} signatures stored for {sat['requests']} requests")
    # The surge left mail queued: let the worker catch up before the next figure, and note
    # how long that took.
    sat["mail_backlog_after"] = b.drain_mail()
    b.details["sign_saturated"] = sat
    return {"sign_per_s": sat["per_s"]}


@phase(
    targets={"verify_per_s": (">=", 400)},
    floors={"verify_per_s": "floor_insert_per_s"},
    doc={"verify_per_s": "confirmation POSTs/s, each with a fresh token, wrk saturated"},
)
def verify(b: Bench) -> dict:
    from petition.models import Signature

    before = Signature.objects.filter(letter_id=b.letter_id, status="verified").count()
    csrf = b.csrf_file(2)
    sat = b.wrk(
        f"/letters/{SLUG}/verify/",
        script="verify.lua",
        args=[SLUG, csrf, b.tmp / "verify-tokens.txt", 2],
        warmup_args=[SLUG, csrf, b.tmp / "verify-tokens-warm.txt", 2],
        seconds=10,
    )
    verified = Signature.objects.filter(letter_id=b.letter_id, status="verified").count() - before
    sat["signatures_verified"] = verified
    b.details["verify"] = sat
    if sat["requests"] >= VERIFY_TOKENS - VERIFY_WARM_TOKENS:
        b.notes.append("verify: the pending signatures ran out; raise VERIFY_TOKENS")
    return {"verify_per_s": sat["per_s"]}
