"""Settings for `make bench` only: the project's settings plus the two floor views' URLs.

Nothing here changes how the app behaves; the environment run.py sets (rate limits raised, mail to
the SMTP sink, its own database and Redis) does the rest, and run.py says so in its output.
"""

import os

from config.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"


class _NoMigrations:
    """Build the schema straight from the models (what pytest's --nomigrations does)."""

    def __contains__(self, item):
        return True

    def __getitem__(self, item):
        return None


# run.py sets this only when the committed migrations lag behind the models (the tree is being
# worked on): the benchmark then measures the models as they are.
if os.environ.get("BENCH_SCHEMA_FROM_MODELS") == "1":
    MIGRATION_MODULES = _NoMigrations()
