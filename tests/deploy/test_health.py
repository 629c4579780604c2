"""/healthz and /readyz, as a load balancer sees them: by address, over HTTP, JSON answers."""

import json

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from config import health
from lib import signed_note
from petition import tlog
from petition.models import Checkpoint
from tests.conftest import free_port, verified_signature

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_probes():
    health._migrations_applied.cache_clear()
    tlog.signer.cache_clear()
    yield
    health._migrations_applied.cache_clear()
    tlog.signer.cache_clear()


def readyz(client, **headers):
    response = client.get("/readyz", **headers)
    return response.status_code, json.loads(response.content)


def test_healthz_answers_by_address_without_touching_the_database(
    client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_is_ready_when_every_part_answers(client):
    status, body = readyz(client, HTTP_HOST="10.0.0.7")
    assert status == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis", "migrations", "log_signing_key"}


def test_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 301, "the rest of the site still is"


def test_redis_down_is_503_and_the_url_with_its_password_never_shows(client, settings):
    settings.REDIS_URL = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == "redis unreachable"
    assert body["checks"]["database"] == "ok"
    assert "hunter2" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_database_unreachable_is_503_and_names_no_host_or_user(client):
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["checks"]["database"] == "database unreachable"
    assert connection.settings_dict["NAME"] not in response.content.decode()
    assert "127.0.0.1" not in response.content.decode()


def test_an_unapplied_migration_is_503(client):
    MigrationRecorder.Migration.objects.filter(app="petition").order_by("-id").first().delete()
    status, body = readyz(client)
    assert status == 503
    assert body["checks"]["migrations"] == "migrations not applied"


def test_a_malformed_log_key_is_503_without_showing_the_key(client, settings):
    settings.LOG_SIGNING_KEY = "PRIVATE+KEY+not-a-real-key-material"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert json.loads(response.content)["checks"]["log_signing_key"] == "log signing key unusable"
    assert "not-a-real-key-material" not in response.content.decode()


def test_a_key_other_than_the_one_that_signed_the_log_is_503(client, settings, letter):
    verified_signature(letter, "ada@example.com")
    tlog.checkpoint(letter_id=letter.pk)
    assert Checkpoint.objects.exists()
    assert readyz(client)[0] == 200, "the key that signed the log is ready"

    settings.LOG_SIGNING_KEY = signed_note.generate_private_key(
        tlog.key_name()
    )  # a lost key replaced
    tlog.signer.cache_clear()
    status, body = readyz(client)
    assert status == 503
    assert body["checks"]["log_signing_key"] == "log signing key does not match the stored log"


def test_a_post_to_a_probe_path_is_not_answered_by_the_probe(client):
    assert client.post("/readyz").status_code == 404


def test_pgbouncer_transaction_mode_settings_come_from_the_environment(monkeypatch):
    from config.settings import database_from_url

    url = "postgres://u:p@pgbouncer:6432/undersigned"
    monkeypatch.setenv("DATABASE_DISABLE_SERVER_SIDE_CURSORS", "1")
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "0")
    database = database_from_url(url)
    assert database["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert database["CONN_MAX_AGE"] == 0
    monkeypatch.delenv("DATABASE_DISABLE_SERVER_SIDE_CURSORS")
    assert database_from_url(url)["DISABLE_SERVER_SIDE_CURSORS"] is False
