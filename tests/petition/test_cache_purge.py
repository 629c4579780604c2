"""What a signer withdraws or a moderator hides leaves no copy in Redis: the pages and fragments
a change supersedes are deleted with it, not left under keys nobody reads until they expire."""

import pytest
import redis
from django.test import Client
from django.urls import reverse

from petition import pagecache, services
from tests.conftest import verified_signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_cache(settings, redis_server):
    """The shared cache on a Redis of this test's own, so every key in it can be read."""
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.FailSoftRedisCache", "LOCATION": redis_server.url}
    }
    pagecache.clear()
    yield redis.Redis.from_url(redis_server.url)
    pagecache.clear()


def everything_in(db: redis.Redis) -> bytes:
    """Every key and every value in the database, whatever its type."""
    found = []
    for key in db.scan_iter(count=1000):
        found.append(key)
        kind = db.type(key).decode()
        if kind == "string":
            found.append(db.get(key) or b"")
        elif kind == "list":
            found += db.lrange(key, 0, -1)
        elif kind == "set":
            found += db.smembers(key)
        elif kind == "zset":
            found += db.zrange(key, 0, -1)
        elif kind == "hash":
            for field, value in db.hgetall(key).items():
                found += [field, value]
        else:
            raise AssertionError(f"no reader for a Redis {kind}")
    return b"\n".join(found)


def render_every_cached_view(letter) -> None:
    """The letter page and tally as a new reader gets them (whole pages), and the letter page
    as a reader with a session gets it (the signers list as a fragment)."""
    with_session = Client()
    with_session.cookies["sessionid"] = "no-such-session"
    for url in (reverse("letter", args=[letter.slug]), reverse("tally", args=[letter.slug])):
        assert Client().get(url).status_code == 200
        assert with_session.get(url).status_code == 200


def test_withdrawn_relevelled_and_hidden_details_leave_no_copy_in_redis(
    redis_cache, letter, organiser, django_capture_on_commit_callbacks
):
    leaving = verified_signature(
        letter,
        "leaving@example.com",
        name="zqleavingname",
        visibility="anonymous",
        job_title="zqleavingjob",
        team="zqleavingteam",
        show_job_title=True,
        show_team=True,
    )
    shy = verified_signature(letter, "shy@example.com", name="zqshyname")
    hidden = verified_signature(
        letter, "hidden@example.com", name="zqhiddenname", city="zqhiddencity", show_city=True
    )
    staying = verified_signature(letter, "staying@example.com", name="zqstayingname")
    gone = [b"zqleavingjob", b"zqleavingteam", b"zqshyname", b"zqhiddenname", b"zqhiddencity"]

    render_every_cached_view(letter)
    before = everything_in(redis_cache)
    for detail in [*gone, b"zqstayingname"]:
        assert detail in before, f"{detail} was never cached: the test proves nothing"

    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw(signature_id=leaving.pk)
        services.change_level(signature_id=shy.pk, visibility="anonymous")
        services.hide_signature(
            letter_id=letter.pk, signature_id=hidden.pk, actor=organiser, reason="impostor"
        )
    render_every_cached_view(letter)

    after = everything_in(redis_cache)
    assert b"zqstayingname" in after, "the pages after the changes were not cached"
    for detail in gone:
        assert detail not in after, f"{detail} is still in Redis"
    assert staying.name == "zqstayingname"


def test_a_change_on_one_letter_keeps_another_letters_pages(
    redis_cache, make_letter, django_capture_on_commit_callbacks
):
    first, second = make_letter(), make_letter()
    leaving = verified_signature(first, "leaving@example.com", name="zqleavingname")
    verified_signature(second, "other@example.com", name="zqothername")
    render_every_cached_view(first)
    render_every_cached_view(second)
    with django_capture_on_commit_callbacks(execute=True):
        services.withdraw(signature_id=leaving.pk)
    after = everything_in(redis_cache)
    assert b"zqleavingname" not in after
    assert b"zqothername" in after


def test_a_change_while_redis_is_down_is_still_made(
    redis_cache, redis_server, letter, django_capture_on_commit_callbacks
):
    leaving = verified_signature(letter, "leaving@example.com", name="zqleavingname")
    render_every_cached_view(letter)
    redis_server.stop()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.withdraw(signature_id=leaving.pk) is True
    leaving.refresh_from_db()
    assert leaving.status == "withdrawn"
