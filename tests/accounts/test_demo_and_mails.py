"""What a newcomer meets first: the demo organiser's way in and branded account mails."""

import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-pass-1234"


def test_demo_prints_a_password_that_signs_the_demo_organiser_in(client):
    out = io.StringIO()
    call_command("demo", "--password", stdout=out)
    password = re.search(r"3\. password\s+(\S+)", out.getvalue()).group(1)

    response = client.post(
        reverse("account_login"), {"login": "organiser@example.org", "password": password}
    )

    assert response.status_code == 302
    assert client.get(reverse("organiser:dashboard")).status_code == 200


def test_demo_without_password_prints_none_and_runs_twice(client):
    out = io.StringIO()
    call_command("demo", stdout=out)
    call_command("demo", stdout=out)
    assert "password" not in out.getvalue()


def test_account_mails_name_the_site(client, deliver, settings):
    settings.SITE_NAME = "Letters for Example"
    client.post(
        reverse("account_signup"),
        {"email": "new@example.net", "password1": PASSWORD, "password2": PASSWORD},
    )
    mail = deliver()[-1]
    assert "Hello from Letters for Example!" in mail.body
    assert "Hello from !" not in mail.body
    assert "127.0.0.1:8000" in mail.body  # the site's domain, from SITE_URL
