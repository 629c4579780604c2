"""The public log's full pages of entries never change, so caches may keep them for good; the
last page, still growing, is cached for seconds only."""

import pytest

from petition import services
from petition.views import log
from tests.conftest import pending_signature

pytestmark = pytest.mark.django_db


def test_a_full_page_is_immutable_and_the_growing_end_is_not(client, letter, monkeypatch):
    monkeypatch.setattr(log, "MAX_ENTRIES", 2)
    for n in range(3):
        services.verify(signature_id=pending_signature(letter, f"s{n}@example.com").pk)
    url = f"/api/letters/{letter.slug}/log/entries"
    full = client.get(url, {"start": 0, "end": 2})
    assert full.status_code == 200 and len(full.json()["entries"]) == 2
    assert full["Cache-Control"] == "public, max-age=31536000, immutable"
    growing = client.get(url, {"start": 2, "end": 4})
    assert len(growing.json()["entries"]) == 1
    assert growing["Cache-Control"] == "public, max-age=5"
