"""Identical submissions racing each other make one signature, and every racer sees the same."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from petition.models import Signature
from tests.conftest import sign_data


@pytest.mark.django_db(transaction=True)
def test_twenty_identical_submissions_at_once_make_one_signature(letter, settings):
    # This test is about the database's guard, not the per-address rate limit.
    settings.SIGN_LIMIT_PER_EMAIL = "100/h"
    url = reverse("sign", args=[letter.slug])
    barrier = threading.Barrier(20)
    results = []
    lock = threading.Lock()

    def submit():
        client = Client()
        try:
            barrier.wait(timeout=10)
            response = client.post(url, sign_data())
            with lock:
                results.append((response.status_code, response.get("Location")))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(results) == 20
    assert len(set(results)) == 1, results
    assert results[0] == (302, reverse("check_inbox", args=[letter.slug]))
    assert Signature.objects.filter(letter=letter).count() == 1
