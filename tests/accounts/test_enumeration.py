"""Whether an address has an account must not show in what signing up or asking for a password
reset costs. Timing is not measured here (too noisy on shared machines); the work that would
differ is counted instead: password hashes computed, mails queued, the answer given."""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test.utils import CaptureQueriesContext

from petition.models import Mail

pytestmark = pytest.mark.django_db

PASSWORD = "Zx-very-long-pass-93"


class CountingHasher(MD5PasswordHasher):
    """The tests' fast hasher, counting each hash it computes."""

    computed = 0

    def encode(self, password, salt):
        type(self).computed += 1
        return super().encode(password, salt)


@pytest.fixture
def known(django_user_model, settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    settings.ACCOUNT_RATE_LIMITS = False
    user = django_user_model.objects.create_user(email="known@example.org", password="old-pass-77")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user.email


def cost(client, url: str, data: dict) -> dict:
    client.cookies.clear()
    hashes, mails = CountingHasher.computed, Mail.objects.count()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data)
    return {
        "status": response.status_code,
        "location": response.get("Location"),
        "hashes": CountingHasher.computed - hashes,
        "mails": Mail.objects.count() - mails,
        "writes": [q["sql"].split('"')[1] for q in queries if q["sql"].startswith("INSERT")],
        "queries": len(queries),
    }


def signup(email: str) -> dict:
    return {"email": email, "password1": PASSWORD, "password2": PASSWORD}


def test_signing_up_with_a_taken_address_costs_what_a_new_account_costs(client, known):
    taken = cost(client, "/accounts/signup/", signup(known))
    new = cost(client, "/accounts/signup/", signup("new@example.org"))
    assert new["hashes"] >= 1, "a new account hashes its password"
    assert "accounts_user" in new["writes"]
    # Left: the three point reads that pick the new account's confirmation address (a fraction of
    # a millisecond, against the tens of milliseconds the hash takes and varies by).
    assert 0 <= new.pop("queries") - taken.pop("queries") <= 3
    assert taken == new
    assert get_user_model().objects.filter(email="new@example.org").exists()
    assert get_user_model().objects.count() == 2, "the placeholder account was rolled back"
    assert Mail.objects.filter(to=known).count() == 1, "the owner of the taken address is told"


def test_asking_a_password_reset_costs_the_same_for_an_unknown_address(client, known):
    unknown = cost(client, "/accounts/password/reset/", {"email": "nobody@example.org"})
    existing = cost(client, "/accounts/password/reset/", {"email": known})
    assert existing["mails"] == 1
    # A known address costs one more indexed query (its other addresses, for the reset token):
    # well under a millisecond, inside the noise of rendering the mail.
    assert abs(unknown.pop("queries") - existing.pop("queries")) <= 1
    assert unknown == existing
