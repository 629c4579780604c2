"""The floors every figure is compared with: the least a Django view can do through the project's
middleware (benchmarks/views.py), served by the same processes in the same run."""

from benchmarks.harness.bench import Bench
from benchmarks.registry import phase


@phase(
    doc={
        "floor_constant_per_s": "GETs/s of a view returning a constant, wrk saturated",
        "floor_constant_p99_ms_at_300": "p99 of the constant view at a steady 300/s",
    }
)
def floor_constant(b: Bench) -> dict:
    sat = b.wrk("/bench/floor/constant/", script="get.lua")
    _, steady = b.steady(b.get_request("/bench/floor/constant/"), rate=300)
    b.details["floor_constant"] = {"saturated": sat, "steady_300": steady}
    return {"floor_constant_per_s": sat["per_s"], "floor_constant_p99_ms_at_300": steady["p99_ms"]}


@phase(
    doc={
        "floor_insert_per_s": "form POSTs/s (CSRF checked) to a view doing one INSERT,"
        " wrk saturated",
        "floor_insert_p99_ms_at_50": "p99 of the INSERT view at a steady 50/s",
    }
)
def floor_insert(b: Bench) -> dict:
    csrf = b.csrf_file(2)
    sat = b.wrk(
        "/bench/floor/insert/", script="sign.lua", args=["/bench/floor/insert/", csrf, "floor"]
    )
    _, steady = b.steady(b.sign_request("/bench/floor/insert/", "floor-steady"), rate=50)
    b.details["floor_insert"] = {"saturated": sat, "steady_50": steady}
    return {"floor_insert_per_s": sat["per_s"], "floor_insert_p99_ms_at_50": steady["p99_ms"]}


@phase(
    doc={
        "floor_sign_per_s": "form POSTs/s (CSRF checked) to a view doing what a signature must"
        " and nothing more: one INSERT, one outbox row, commit; wrk saturated",
    }
)
def floor_sign(b: Bench) -> dict:
    csrf = b.csrf_file(2)
    sat = b.wrk("/bench/floor/sign/", script="sign.lua", args=["/bench/floor/sign/", csrf, "fsign"])
    b.details["floor_sign"] = {"saturated": sat}
    return {"floor_sign_per_s": sat["per_s"]}
