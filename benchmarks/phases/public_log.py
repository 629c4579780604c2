"""The public log of a million entries: inclusion proofs under load, and signing a checkpoint
after a burst of appends.

The app's modules are imported inside the functions that use them: Django is set up only once
the run's environment is known (run.py), and a model cannot be imported before.
"""

import time

from django.db import transaction

from benchmarks.constants import SLUG
from benchmarks.harness.bench import Bench
from benchmarks.registry import phase


@phase(
    targets={"log_proof_per_s": (">=", 1000)},
    floors={"log_proof_per_s": "floor_constant_per_s"},
    doc={"log_proof_per_s": "inclusion proofs/s of random entries, 1M-entry log, wrk saturated"},
)
def log_proofs(b: Bench) -> dict:
    from petition import tlog

    size = tlog.size(b.letter_id)
    sat = b.wrk(f"/api/letters/{SLUG}/log/inclusion", script="inclusion.lua", args=[size])
    sat["tree_size"] = size
    b.details["log_proofs"] = sat
    return {"log_proof_per_s": sat["per_s"]}


@phase(
    targets={"log_checkpoint_s": ("<=", 0.5)},
    doc={"log_checkpoint_s": "seconds to sign a checkpoint after 1,000 appends to a 1M log"},
)
def log_checkpoint(b: Bench) -> dict:
    from petition import tlog
    from petition.models import Letter

    letter = Letter.objects.get(pk=b.letter_id)
    tlog.checkpoint(letter_id=letter.pk)  # the log as it stands
    started = time.monotonic()
    # Signed inside the appends' transaction, so no checkpoint scheduled on commit beats the clock.
    with transaction.atomic():
        for n in range(1000):
            ref = f"{n:064x}"
            tlog.append(
                letter=letter, kind="sign", level="public", employee=False, version=1, ref=ref
            )
        appended = time.monotonic() - started
        started = time.monotonic()
        checkpoint = tlog.checkpoint(letter_id=letter.pk)
        signed = time.monotonic() - started
    b.details["log_checkpoint"] = {
        "size": checkpoint.size,
        "append_1000_s": round(appended, 3),
        "checkpoint_s": round(signed, 4),
    }
    return {"log_checkpoint_s": round(signed, 4)}
