"""Production refuses to start on secrets an outsider could know.

With a default SECRET_KEY anyone can sign a manage link; with EMAIL_HASH_KEY falling back to
it, the hash a link carries is computable too. Each case starts the settings in a process of its
own, as a deployment would.
"""

import os
import secrets
import subprocess
import sys

import pytest
import yaml
from django.conf import settings as django_settings

from tests.conftest import ROOT

SECRETS = ("SECRET_KEY", "EMAIL_HASH_KEY")


def production_env(tmp_path, **keys) -> dict:
    db = django_settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if k not in {*SECRETS, "DEBUG", "ALLOWED_HOSTS"}}
    env.update(
        DEBUG="0",
        SITE_URL="https://letters.example.org",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        STATIC_MANIFEST="0",
        VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(keys)
    return env


def start(env: dict, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *(command or ("manage.py", "check"))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, "production started:\n" + result.stdout + result.stderr
    assert "ImproperlyConfigured" in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


def key() -> str:
    return secrets.token_urlsafe(50)


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    message = refusal(start(production_env(tmp_path, EMAIL_HASH_KEY=key())))
    assert "SECRET_KEY" in message
    assert "secrets.token_urlsafe" in message, "the message says how to make one"


def test_production_refuses_to_start_without_an_email_hash_key(tmp_path):
    message = refusal(start(production_env(tmp_path, SECRET_KEY=key())))
    assert "EMAIL_HASH_KEY" in message
    assert "secrets.token_urlsafe" in message


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_key_as_an_env_file_leaves_it_counts_as_missing(tmp_path, blank):
    message = refusal(start(production_env(tmp_path, SECRET_KEY=key(), EMAIL_HASH_KEY=blank)))
    assert "EMAIL_HASH_KEY" in message
    message = refusal(start(production_env(tmp_path, SECRET_KEY=blank, EMAIL_HASH_KEY=key())))
    assert "SECRET_KEY" in message


def test_production_refuses_an_email_hash_key_equal_to_the_secret_key(tmp_path):
    same = key()
    message = refusal(start(production_env(tmp_path, SECRET_KEY=same, EMAIL_HASH_KEY=same)))
    assert "EMAIL_HASH_KEY" in message and "SECRET_KEY" in message


def test_production_starts_with_both_keys_set_and_different(tmp_path):
    result = start(production_env(tmp_path, SECRET_KEY=key(), EMAIL_HASH_KEY=key()))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_celery_worker_refuses_too(tmp_path):
    env = production_env(tmp_path, SECRET_KEY=key())
    result = start(env, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout=1")
    assert result.returncode != 0
    assert "EMAIL_HASH_KEY" in result.stderr


def test_a_checkout_with_no_configuration_still_runs_on_the_embedded_default(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {*SECRETS, "DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env["VAR_DIR"] = str(tmp_path)
    result = start(env)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_docker_compose_ships_no_secret_and_reads_them_from_an_env_file():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    example = (ROOT / ".env.example").read_text()
    for name, service in compose["services"].items():
        if service.get("build") != ".":
            continue  # PostgreSQL, Redis, Mailpit: not the app
        assert ".env" in service.get("env_file", []), name
        environment = service.get("environment", {})
        for secret in (*SECRETS, "LOG_SIGNING_KEY"):
            assert secret not in environment, f"{name} sets {secret} in docker-compose.yml"
    for secret in SECRETS:
        lines = [line for line in example.splitlines() if line.startswith(f"{secret}=")]
        assert lines == [f"{secret}="], f".env.example gives {secret} a value: {lines}"


def test_the_env_file_never_goes_into_the_docker_image():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored, "COPY . . would bake the secrets into the image"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
