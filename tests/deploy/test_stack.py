"""`make stack-test` as part of the suite: docker-compose.yml's services started as local
processes with compose's own commands and environment, then driven over HTTP (deploy/)."""

import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_compose_stack_serves_signers_organisations_and_auditors():
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "deploy.stack_check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    for step in (
        "signed and confirmed at each level",
        "an organisation co-signed and was approved",
        "exported the signatures as CSV",
        "audit passed",
        "worker and beat answer their compose health checks",
        "a restart kept all 3 signatures",
        "stack test passed",
    ):
        assert step in result.stdout, step
    print(f"stack test took {time.monotonic() - started:.0f}s")
