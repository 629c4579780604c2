"""Guessing the admin's password: /admin/login/ answers 429 once the attempts run over the limit."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

URL = "/admin/login/"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        email="admin@example.org", password="the-right-password", is_staff=True, is_superuser=True
    )


def attempt(client, password: str, *, email: str = "admin@example.org", ip: str = "192.0.2.1"):
    return client.post(URL, {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_guessing_the_admin_password_is_refused_with_a_clear_429(client, staff, settings):
    settings.ADMIN_LOGIN_LIMIT = "3/h"
    statuses = [attempt(client, f"guess-{n}").status_code for n in range(3)]
    assert statuses == [200, 200, 200]  # the form again, with its error
    refused = attempt(client, "guess-4")
    assert refused.status_code == 429
    assert "Please wait a little" in refused.content.decode()
    # The limit holds for the right password too: it is a guess like the others.
    assert attempt(client, "the-right-password").status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_limit_follows_the_account_across_addresses(client, staff, settings):
    settings.ADMIN_LOGIN_LIMIT = "3/h"
    for n in range(3):
        attempt(client, f"guess-{n}", ip=f"198.51.100.{n}")
    assert attempt(client, "guess", ip="203.0.113.9").status_code == 429


def test_the_limit_follows_the_address_across_accounts(client, staff, settings):
    settings.ADMIN_LOGIN_LIMIT = "3/h"
    for n in range(3):
        attempt(client, "guess", email=f"someone-{n}@example.org")
    assert attempt(client, "guess", email="admin@example.org").status_code == 429


def test_viewing_the_form_is_not_an_attempt(client, staff, settings):
    settings.ADMIN_LOGIN_LIMIT = "2/h"
    for _ in range(5):
        assert client.get(URL).status_code == 200
    response = attempt(client, "the-right-password")
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_huge_username_is_a_clear_answer_not_an_error(client, staff, settings):
    assert attempt(client, "guess", email="a" * 100_000 + "@example.org").status_code == 200
