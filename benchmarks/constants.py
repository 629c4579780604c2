"""What every part of `make bench` agrees on: where things are, the database, the letter, the
budget, and the rate limits raised for the run."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
PY = sys.executable
DB_NAME = os.environ.get("BENCH_DB_NAME", "undersigned_bench")
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
SLUG = "surge"
VERIFY_TOKENS = 30_000  # pending signatures made ready for the verification phase
VERIFY_WARM_TOKENS = 4_000  # of which these warm it up
# Phases not started by then are skipped (and said so): `make bench` stays under 10 minutes.
TIME_BUDGET_S = 480
CORES = os.cpu_count() or 1

# Raised for the run only: every request comes from 127.0.0.1, so the per-IP limit would stop the
# surge after 60 signatures. The limiter still runs (and costs its Redis round trips).
RAISED_LIMITS = {
    "SIGN_LIMIT_PER_IP": "100000000/h",
    "SIGN_LIMIT_PER_EMAIL": "100000/h",
    "RESEND_LIMIT": "100000/h",
    "MANAGE_LIMIT": "100000/h",
}
