"""Where a request's CPU goes, measured in this process through Django's test client, and how
long a verification holds the letter's hot rows locked.

The app's modules are imported inside the functions that use them: Django is set up only once
the run's environment is known (run.py), and a model cannot be imported before.
"""

import contextlib
import itertools
import time
from unittest import mock

from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from benchmarks.constants import SLUG
from benchmarks.harness.bench import Bench
from benchmarks.registry import phase
from lib import ratelimit


@phase(
    doc={
        "sign_cpu_ms": "CPU ms of one sign request in one process (no concurrency)",
        "letter_page_cpu_ms": "CPU ms of one letter page in one process",
    }
)
def costs(b: Bench) -> dict:
    """Where a request's CPU goes, measured in this process through Django's test client (no
    sockets, no concurrency, so the other people on the machine barely move it): each part of
    signing is switched off in turn and the difference is its cost. The best of a few rounds."""
    from petition import tasks

    client = Client(HTTP_HOST="127.0.0.1")  # the host gunicorn is asked for; CSRF not checked
    pages = {
        "letter_page": f"/letters/{SLUG}/",
        "tally_page": reverse("tally", kwargs={"slug": SLUG}),
        "counts": reverse("api_counts", kwargs={"slug": SLUG}),
    }
    reps, rounds = (40, 2) if b.quick else (100, 3)
    best = best_cpu_ms(cost_variants(client, pages), reps, rounds)
    parts = {
        "rate_limiter": best["sign"] - best["sign_without_rate_limiter"],
        "celery_publish": best["sign"] - best["sign_without_task_publish"],
        "verification_mail_render_insert_publish": best["sign"]
        - best["sign_without_verification_mail"],
    }
    b.details["costs"] = {
        "cpu_ms_per_request": best,
        "page_queries": page_queries(client, pages),
        "sign_parts_cpu_ms": {k: round(v, 2) for k, v in parts.items()},
        "reps": reps,
        "rounds": rounds,
        "verify_transaction": verify_lock_hold(b, 20 if b.quick else 60),
    }
    tasks.relay_mail.delay()  # the sweep, for the mails whose relay was switched off
    b.drain_mail()
    return {"sign_cpu_ms": best["sign"], "letter_page_cpu_ms": best["letter_page"]}


def cost_variants(client: Client, pages: dict) -> dict:
    """{name: (request, [(module, attribute, value it returns while switched off)])}."""
    from petition import emails, outbox

    counter = itertools.count()

    def sign():
        n = next(counter)
        client.post(
            f"/letters/{SLUG}/sign/",
            {
                "name": f"Cost {n}",
                "email": f"cost-{n}@bench.example.org",
                "visibility": "public",
                "affiliation": "Example Corp",
                "job_title": "Engineer",
                "city": "London",
            },
        )

    def floor():
        client.post("/bench/floor/insert/", {"email": f"cost-{next(counter)}@bench.example.org"})

    return {
        "floor_insert": (floor, []),
        "sign": (sign, []),
        "sign_without_rate_limiter": (sign, [(ratelimit, "hit", True)]),
        "sign_without_task_publish": (sign, [(outbox, "kick_relay", None)]),
        "sign_without_verification_mail": (sign, [(emails, "verification", None)]),
        "floor_constant": (lambda: client.get("/bench/floor/constant/"), []),
        "letter_page": (lambda: client.get(pages["letter_page"]), []),
        "tally_page": (lambda: client.get(pages["tally_page"]), []),
        "counts": (lambda: client.get(pages["counts"]), []),
    }


def best_cpu_ms(variants: dict, reps: int, rounds: int) -> dict[str, float]:
    """The lowest CPU milliseconds per request of each variant over `rounds` rounds."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, (fn, patches) in variants.items():
            ms = cpu_ms(fn, patches, reps)
            best[name] = round(min(ms, best.get(name, ms)), 2)
    return best


def cpu_ms(fn, patches: list, reps: int) -> float:
    """CPU milliseconds of one call of `fn` (the mean of `reps`, after 5 to warm up), with each
    patched function answering its value instead of running."""
    with contextlib.ExitStack() as stack:
        for target, attribute, value in patches:
            stack.enter_context(mock.patch.object(target, attribute, return_value=value))
        for _ in range(5):
            fn()
        started = time.process_time()
        for _ in range(reps):
            fn()
        return (time.process_time() - started) / reps * 1000


def page_queries(client: Client, pages: dict) -> dict:
    """{page: its number of SQL queries and their time} for one request of each."""
    queries = {}
    for key, path in pages.items():
        timings: list[float] = []

        def timed(execute, sql, params, many, context, timings=timings):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timings.append(time.perf_counter() - started)

        with connection.execute_wrapper(timed):
            client.get(path)
        queries[key] = {"queries": len(timings), "db_ms": round(sum(timings) * 1000, 2)}
    return queries


def verify_lock_hold(b: Bench, n: int) -> dict:
    """Verifications of one letter queue on its hot rows (its Tally, today's DailyTally, the
    text version's count), locked by the first statement that writes one of them and held to
    COMMIT: the time between the two bounds verify_per_s at 1000 / hold_ms, whatever the cores.
    Measured alone (no waiting on others), on signatures the verify phase left pending."""
    from petition.models import Signature

    ids = list(
        Signature.objects.filter(letter_id=b.letter_id, status="pending")
        .order_by("-pk")
        .values_list("pk", flat=True)[:n]
    )
    marks: list[float] = []
    watch = hot_row_watch(marks)
    holds, totals, cpu = [], [], []
    for pk in ids:
        hold, total_ms, cpu_ms_used = timed_verification(pk, watch, marks)
        totals.append(total_ms)
        cpu.append(cpu_ms_used)
        if hold is not None:
            holds.append(hold)
    if not holds:
        return {}
    holds.sort()
    median = holds[len(holds) // 2]
    return {
        "verifications": len(holds),
        "tally_lock_held_ms_median": round(median, 2),
        "tally_lock_held_ms_min": round(holds[0], 2),
        "verify_transaction_ms_median": round(sorted(totals)[len(totals) // 2], 2),
        "verify_cpu_ms_median": round(sorted(cpu)[len(cpu) // 2], 2),
        "verify_per_s_bound": round(1000 / median, 1),
    }


def hot_row_watch(marks: list):
    """An execute wrapper that notes in `marks` when the first statement locking one of the
    letter's hot rows ran."""
    from petition.models import DailyTally, LetterVersion, Tally

    hot = [model._meta.db_table for model in (Tally, DailyTally, LetterVersion)]

    def watch(execute, sql, params, many, context):
        writes = sql.lstrip().upper().startswith(("UPDATE", "INSERT", "WITH"))
        locks = any(table in sql for table in hot) and (writes or "FOR UPDATE" in sql)
        if locks and not marks:
            marks.append(time.perf_counter())
        return execute(sql, params, many, context)

    return watch


def timed_verification(pk: int, watch, marks: list) -> tuple[float | None, float, float]:
    """Verify one signature: (ms its hot rows were held, or None; ms in all; CPU ms)."""
    from petition import services

    marks.clear()
    committed: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(watch), transaction.atomic():
        # The first hook to run after COMMIT (hooks run in order): the locks are gone then,
        # before the mail's task is published.
        transaction.on_commit(lambda committed=committed: committed.append(time.perf_counter()))
        services.verify(signature_id=pk)
    done = time.perf_counter()
    cpu_ms_used = (time.process_time() - cpu_started) * 1000
    hold = (committed[0] - marks[0]) * 1000 if marks and committed else None
    return hold, (done - started) * 1000, cpu_ms_used
