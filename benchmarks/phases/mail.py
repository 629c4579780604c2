"""Mail latency: seconds from a signature's commit to its verification mail at the SMTP sink,
signing at a steady rate.

The app's modules are imported inside the functions that use them: Django is set up only once
the run's environment is known (run.py), and a model cannot be imported before.
"""

import secrets
import time

from benchmarks import openloop
from benchmarks.constants import SLUG
from benchmarks.harness.bench import Bench
from benchmarks.registry import phase


@phase(
    targets={"mail_p99_s_at_40": ("<=", 2)},
    doc={
        "mail_p50_s_at_40": "median seconds from a signature's commit to its mail at the SMTP sink,"
        " signing at a steady 40/s",
        "mail_p99_s_at_40": "p99 of the same",
    },
)
def mail(b: Bench) -> dict:
    return mail_latency(b, rate=40)


@phase(
    targets={"mail_p99_s_at_150": ("<=", 5)},
    doc={
        "mail_p50_s_at_150": "median seconds from a signature's commit to its mail at the SMTP"
        " sink, signing at a steady 150/s",
        "mail_p99_s_at_150": "p99 of the same",
    },
)
def mail_150(b: Bench) -> dict:
    return mail_latency(b, rate=150)


def mail_latency(b: Bench, *, rate: int) -> dict:
    from petition.models import Signature

    prefix = f"mail{rate}-{secrets.token_hex(3)}"
    result, steady = b.steady(
        b.sign_request(f"/letters/{SLUG}/sign/", prefix), rate=rate, seconds=20
    )
    measured_from = result.wall_started + 2.0
    expected = dict(
        Signature.objects.filter(email__startswith=prefix + "-").values_list("email", "created_at")
    )
    deadline = time.monotonic() + 60
    while len(got := received(b, prefix)) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    latencies = sorted(
        got[email] - created.timestamp()
        for email, created in expected.items()
        if created.timestamp() >= measured_from and email in got
    )
    missing = sum(1 for email in expected if email not in got)
    if missing:
        b.notes.append(
            f"mail phase at {rate}/s: {missing} of {len(expected)} mails had not arrived after 60s"
        )
    b.details[f"mail_{rate}"] = {"signs": steady, "mails": len(latencies), "missing": missing}
    keys = (f"mail_p50_s_at_{rate}", f"mail_p99_s_at_{rate}")
    if not latencies:
        return dict.fromkeys(keys)
    pct = openloop.Result(rate=rate, duration=0, latencies_ms=latencies).pct
    return {keys[0]: round(pct(50), 3), keys[1]: round(pct(99), 3)}


def received(b: Bench, prefix: str) -> dict:
    """{recipient: when the sink first had it} for the addresses starting with `prefix`."""
    got = {}
    for line in b.sink_file.read_text().splitlines():
        at, rcpt = line.split(" ", 1)
        if rcpt.startswith(prefix + "-"):
            got.setdefault(rcpt, float(at))
    return got
