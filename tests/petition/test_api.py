"""The read-only JSON API under /api/: what it shows, what it never shows, and its OpenAPI
document, checked against real answers with Schemathesis."""

import json
import re
import socket

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import Organisation
from petition import api_urls, services
from petition.models import CoSignature, Level, Tally, reading_key
from petition.views import openapi
from tests.conftest import pending_signature, verified_signature

pytestmark = pytest.mark.django_db


pending = pending_signature
verified = verified_signature


def cosign(letter, name: str, *, approve_by=None, **organisation) -> CoSignature:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    org = Organisation.objects.create(name=name, slug=slug, **organisation)
    cosignature = CoSignature.objects.create(
        letter=letter,
        organisation=org,
        display_name=name,
        sort_key=reading_key(name),
        statement=f"zqstatement of {name}",
    )
    if approve_by is not None:
        services.approve_cosign(cosignature_id=cosignature.pk, by=approve_by)
    return cosignature


@pytest.fixture
def populated(make_letter, organiser):
    """One letter with a signer of every kind and two organisations, one approved."""
    letter = make_letter(employer_domains="example.com", goal=50)
    verified(
        letter, "pat@example.com", name="Pat Public", job_title="Engineer", team="zqteam",
        city="Leeds", affiliation="zqaffiliation", show_job_title=True, show_city=True,
    )  # fmt: skip
    verified(
        letter, "ann@elsewhere.org", name="zqanonname", visibility=Level.ANONYMOUS,
        job_title="zqanonjob", city="Lisbon", show_city=True,
    )  # fmt: skip
    verified(letter, "pri@example.com", name="zqprivname", visibility=Level.PRIVATE, city="Oslo",
             show_city=True)  # fmt: skip
    hidden = verified(letter, "hid@example.org", name="zqhiddenname")
    services.hide_signature(
        letter_id=letter.pk, signature_id=hidden.pk, actor=organiser, reason="spam"
    )
    gone = verified(letter, "gone@example.org", name="zqgonename")
    services.withdraw(signature_id=gone.pk)
    pending(letter, "wait@example.org", name="zqpendingname")
    cosign(
        letter, "Friends of the Earth", approve_by=organiser, website="https://foe.example",
        email_domains="foe.example\nzqorgdomain.example", is_verified=True,
        verified_at=timezone.now(), verified_domain="foe.example",
    )  # fmt: skip
    cosign(letter, "Zq Pending Org")
    return letter


def get_json(client, url: str, status: int = 200, **params):
    response = client.get(url, params)
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    return response.json()


# --- letters -----------------------------------------------------------------------------------


def test_letters_lists_open_and_closed_letters_never_drafts(client, make_letter):
    open_letter = make_letter(title="Open one")
    closed = make_letter(title="Closed one")
    services.close(letter_id=closed.pk)
    make_letter(publish=False, title="Zq draft")

    data = get_json(client, reverse("api_letters"))

    assert [item["slug"] for item in data["results"]] == [closed.slug, open_letter.slug]
    assert {item["status"] for item in data["results"]} == {"open", "closed"}
    assert data["count"] == 2 and data["pages"] == 1 and data["next"] is None
    assert "Zq draft" not in json.dumps(data)


def test_letter_counts_come_from_the_tally(client, letter):
    # A tally that disagrees with the rows shows where the numbers are read from.
    Tally.objects.filter(letter=letter).update(
        verified=1234, public=1000, anonymous=200, private=34, employees=99, cosigners=7
    )
    data = get_json(client, reverse("api_letter", args=[letter.slug]))
    assert data["counts"] == {
        "verified": 1234, "public": 1000, "anonymous": 200, "private": 34, "employees": 99,
        "cosigners": 7,
    }  # fmt: skip
    assert data["body"] == letter.body
    assert data["tally_url"].endswith(reverse("tally", args=[letter.slug]))
    assert get_json(client, reverse("api_counts", args=[letter.slug]))["counts"]["verified"] == 1234


def test_unknown_or_draft_letter_is_a_json_404(client, make_letter):
    draft = make_letter(publish=False)
    for name in ("api_letter", "api_counts", "api_signatures", "api_cosigners"):
        for slug in (draft.slug, "no-such-letter"):
            assert get_json(client, reverse(name, args=[slug]), status=404) == {
                "error": "No such letter."
            }


# --- signatures, by the privacy table ----------------------------------------------------------


def test_signatures_follow_the_privacy_table(client, populated):
    data = get_json(client, reverse("api_signatures", args=[populated.slug]))
    assert data["count"] == 2
    assert data["results"] == [
        {
            "name": "Anonymous",
            "level": "anonymous",
            "details": {"city": "Lisbon"},
            "verified_employee": False,
            "signed_on": data["results"][0]["signed_on"],
        },
        {
            "name": "Pat Public",
            "level": "public",
            "details": {"job_title": "Engineer", "city": "Leeds"},
            "verified_employee": True,
            "signed_on": timezone.now().date().isoformat(),
        },
    ]


def test_no_endpoint_shows_what_the_privacy_table_hides(client, populated):
    everything = ""
    for name in ("api_letter", "api_counts", "api_signatures", "api_cosigners"):
        everything += client.get(reverse(name, args=[populated.slug])).content.decode()
    everything += client.get(reverse("api_letters")).content.decode()
    everything += client.get(reverse("widget", args=[populated.slug])).content.decode()
    # Hidden details, hidden/withdrawn/pending signers, anonymous and private names, addresses,
    # an organisation's domains and statement, a pending organisation.
    assert not re.findall(r"zq\w+", everything)
    assert "@" not in everything.replace("@context", "")
    assert "Oslo" not in everything  # a private signer's ticked city is not listed either


def test_signatures_paginate_without_counting_rows(client, letter, settings):
    settings.SIGNERS_PER_PAGE = 2
    for i in range(5):
        verified(letter, f"s{i}@example.org", name=f"Signer {i}")
    url = reverse("api_signatures", args=[letter.slug])

    with CaptureQueriesContext(connection) as captured:
        first = get_json(client, url)
    for query in captured.captured_queries:
        assert "COUNT(" not in query["sql"].upper(), query["sql"]
    assert (first["count"], first["pages"], first["page"]) == (5, 3, 1)
    assert [s["name"] for s in first["results"]] == ["Signer 4", "Signer 3"]
    assert first["previous"] is None
    assert first["next"] == f"http://127.0.0.1:8000{url}?page=2"

    last = get_json(client, url, page=3)
    assert [s["name"] for s in last["results"]] == ["Signer 0"]
    assert last["next"] is None and last["previous"].endswith("?page=2")

    assert get_json(client, url, status=404, page=4) == {"error": "No such page."}
    assert get_json(client, url, status=400, page="two")["error"]


# --- co-signers --------------------------------------------------------------------------------


def test_cosigners_lists_approved_organisations_by_their_public_face(client, populated):
    data = get_json(client, reverse("api_cosigners", args=[populated.slug]))
    assert data["count"] == 1
    assert data["results"] == [
        {
            "name": "Friends of the Earth",
            "website": "https://foe.example",
            "verified": True,
            "verified_domain": "foe.example",
            "signed_on": timezone.now().date().isoformat(),
        }
    ]


def test_cosigners_come_pinned_first_then_in_reading_order(client, letter, organiser):
    for name in ("Zebra Trust", "The Acme Union", "bees united"):
        cosign(letter, name, approve_by=organiser)
    CoSignature.objects.filter(display_name="Zebra Trust").update(pinned_position=1)
    data = get_json(client, reverse("api_cosigners", args=[letter.slug]))
    assert [c["name"] for c in data["results"]] == ["Zebra Trust", "The Acme Union", "bees united"]
    assert data["results"][1]["website"] is None


# --- counts: cheap, cached, and served with Redis down ------------------------------------------


def test_counts_are_cached_for_a_couple_of_seconds(client, letter, django_assert_num_queries):
    url = reverse("api_counts", args=[letter.slug])
    assert get_json(client, url)["counts"]["verified"] == 0
    verified(letter, "ann@example.com")
    with django_assert_num_queries(0):
        response = client.get(url)
    assert response.json()["counts"]["verified"] == 0  # still the cached answer
    assert "max-age=2" in response["Cache-Control"] and "public" in response["Cache-Control"]
    from django.core.cache import cache

    cache.clear()  # what expiry does after COUNTS_CACHE_SECONDS
    assert get_json(client, url)["counts"]["verified"] == 1


def test_counts_are_served_from_the_database_when_redis_is_down(client, letter, settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    verified(letter, "ann@example.com")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    data = get_json(client, reverse("api_counts", args=[letter.slug]))
    assert data["counts"]["verified"] == 1
    assert data["employers"] == [{"domain": "example.com", "count": 1}]
    assert client.get(reverse("tally", args=[letter.slug])).status_code == 200


# --- CORS and methods ---------------------------------------------------------------------------


def test_get_is_readable_from_any_origin_without_credentials(client, letter):
    response = client.get(reverse("api_letter", args=[letter.slug]), HTTP_ORIGIN="https://x.test")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
    assert "Set-Cookie" not in response


def test_preflight_is_answered_and_writes_are_refused(client, letter):
    url = reverse("api_counts", args=[letter.slug])
    preflight = client.options(
        url, HTTP_ORIGIN="https://x.test", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert preflight["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    for method in (client.post, client.put, client.delete, client.patch):
        response = method(url)
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD, OPTIONS"
        assert response.json() == {"error": "This API is read-only."}


# --- the OpenAPI document -----------------------------------------------------------------------


def test_openapi_document_is_valid_openapi_3_1(client):
    document = get_json(client, reverse("api_openapi"))
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()


def test_every_api_route_is_documented_and_every_documented_path_exists():
    from petition import log_urls

    routes = set()
    for pattern in [*api_urls.urlpatterns, *log_urls.urlpatterns]:
        assert isinstance(pattern, URLPattern)
        routes.add("/api/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern)))
    assert routes == set(openapi.PATHS)


# Schemathesis calls the app in-process through WSGI, generates requests from the document and
# checks every answer against it: status codes, content type, response schemas, no 5xx.
SCHEMA = schemathesis.openapi.from_dict(json.loads(json.dumps(openapi.openapi_document())))
SCHEMA.app = get_wsgi_application()
# Requests that fit the document; a slug outside its pattern never reaches the API's URLs.
SCHEMA.config.generation.update(modes=["positive"], max_examples=15, deterministic=True)


@pytest.fixture
def wsgi_in_test_transaction(settings):
    """Let the real WSGI handler run inside the test's transaction: it closes the connection at
    the end of each request otherwise (Django's test client disconnects the same signals)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("page", [None, 1, 2, 0, "x"])
def test_every_endpoint_answers_as_documented(populated, wsgi_in_test_transaction, page):
    for path, methods in openapi.PATHS.items():
        operation = SCHEMA[path]["GET"]
        slugs = [populated.slug, "no-such-letter"] if "{slug}" in path else [None]
        for slug in slugs:
            case = operation.Case(
                path_parameters={"slug": slug} if slug else {},
                query={"page": page} if page is not None and "page" in str(methods) else {},
            )
            case.call_and_validate()


@SCHEMA.parametrize()
@hypothesis_settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_get_documented_answers(case, populated, wsgi_in_test_transaction):
    if "slug" in (case.path_parameters or {}) and case.path_parameters["slug"].startswith("l"):
        case.path_parameters["slug"] = populated.slug  # reach the real letter too
    response = case.call()
    if "/log/" in case.path and response.status_code == 400:
        # Indexes past the log's end fit the document (it cannot know how long a log is) and
        # are refused with the documented 400 that says how long it is: the one schema-valid
        # request the API rejects. Every other check still applies.
        assert "(the log has 8 entries)" in response.json()["error"]
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
    else:
        case.validate_response(response)
