"""A database too busy to answer in time is a 503 "please try again" page, never a 500, wherever
in the request the busy error is raised (config/busy.py)."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.urls import reverse

from petition import services
from petition.models import Signature
from tests.conftest import link_in, sign_data

pytestmark = pytest.mark.django_db


def locked(*args, **kwargs):
    raise OperationalError("database is locked")


def assert_busy_page(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Busy, please try again" in response.content


def test_a_busy_database_while_signing_answers_503_and_stores_nothing(client, letter, monkeypatch):
    monkeypatch.setattr(services, "sign", locked)
    assert_busy_page(client.post(reverse("sign", args=[letter.slug]), sign_data()))
    assert not Signature.objects.exists()


def test_a_busy_database_while_saving_the_session_answers_503(client, letter, deliver, monkeypatch):
    client.post(reverse("sign", args=[letter.slug]), sign_data())
    link = link_in(deliver()[0], "/confirm/")
    # The confirmation stores the receipt in the session, saved by middleware after the view.
    monkeypatch.setattr(SessionStore, "save", locked)
    client.raise_request_exception = False  # Django sees the error first, then it is answered
    assert_busy_page(client.post(link))


def test_other_database_errors_are_not_dressed_up_as_busy(client, letter, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("no such table: petition_signature")

    monkeypatch.setattr(services, "sign", broken)
    client.raise_request_exception = False
    response = client.post(reverse("sign", args=[letter.slug]), sign_data())
    assert response.status_code == 500


def test_a_busy_database_while_confirming_answers_503_and_logs_no_token(
    client, letter, deliver, monkeypatch, caplog
):
    client.post(reverse("sign", args=[letter.slug]), sign_data())
    link = link_in(deliver()[0], "/confirm/")
    monkeypatch.setattr(services, "verify_by_link", locked)
    assert_busy_page(client.post(link))
    assert Signature.objects.get().status == "pending"
    busy_lines = [r.getMessage() for r in caplog.records if r.name == "config.busy"]
    assert busy_lines == ["database busy: answered 503 to POST verify"]
    assert link.rstrip("/").rsplit("/", 1)[1] not in caplog.text
