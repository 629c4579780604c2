"""The access log of a real gunicorn, run with the project's config/gunicorn.py as the Dockerfile
runs it: an organiser's search and the links mailed to signers leave no name, address or token
in it, only paths."""

import contextlib
import http.cookiejar
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from petition import emails
from tests.conftest import ROOT, free_port, verified_signature, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn serving the app on the test database, its access log in a file."""
    db = settings.DATABASES["default"]
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DEBUG": "0",
        "STATIC_MANIFEST": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "REDIS_URL": "",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--config",
            "config/gunicorn.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(log),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up():
        try:
            return urllib.request.urlopen(f"{base}/", timeout=5).status == 200
        except OSError:
            return False

    try:
        wait_for(up, 30, 0.2, "gunicorn")
        yield base, log
    finally:
        server.terminate()
        server.wait(10)


def browser(session: str | None = None):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    if session:
        opener.addheaders = [("Cookie", f"{settings.SESSION_COOKIE_NAME}={session}")]
    return opener, jar


def post(opener, jar, url: str, page: str, data: dict, referer: str = ""):
    token = TOKEN_FIELD.search(page).group(1)
    csrf = next(c.value for c in jar if c.name == settings.CSRF_COOKIE_NAME)
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode(),
        headers={
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={opener.session}; "
            f"{settings.CSRF_COOKIE_NAME}={csrf}",
            "Referer": referer or url,
        },
    )
    return opener.open(request, timeout=10)


def test_an_organisers_search_leaves_no_name_or_address_in_the_access_log(
    gunicorn, letter, organiser
):
    base, log = gunicorn
    verified_signature(
        letter, "zqanonmail@example.com", name="Zqanonname Person", visibility="anonymous"
    )
    verified_signature(letter, "someone@example.org", name="Someone Else")
    client = Client()
    client.force_login(organiser)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    opener, jar = browser(session)
    opener.session = session
    url = base + reverse("organiser:signatures", args=[letter.slug])
    page = opener.open(url, timeout=10).read().decode()

    found = []
    for q in ("Zqanonname", "zqanonmail@example.com"):
        response = post(opener, jar, url, page, {"q": q, "status": "all"})
        found.append(response.read().decode())
        # The results' own links (the next page, a hide that comes back here) carry no term.
        assert q not in response.url
    # An old bookmark with the term in its query string: logged without it all the same.
    found.append(opener.open(url + "?q=zqanonmail&status=all", timeout=10).read().decode())
    for html in found[:2]:
        assert "Zqanonname Person" in html and "Someone Else" not in html, "no search was made"

    text = log.read_text()
    assert f"/manage/{letter.slug}/signatures/" in text, text
    for secret in ("Zqanonname", "zqanonname", "zqanonmail", "%40example", "q="):
        assert secret not in text, f"{secret} reached the access log:\n{text}"


def test_tokens_in_mailed_links_stay_out_of_the_access_log(gunicorn, letter):
    base, log = gunicorn
    signature = verified_signature(letter, "zqtoken@example.com", name="Token Holder")
    links = [
        emails.verify_url(signature),
        emails.manage_url(signature),
        emails.unsubscribe_url(signature),
    ]
    tokens = []
    for link in links:
        path = urllib.parse.urlsplit(link).path
        tokens.append(path.rstrip("/").rsplit("/", 1)[1])
        request = urllib.request.Request(
            base + path + "?utm=zqquerymarker", headers={"Referer": base + path}
        )
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=10).read()

    # gunicorn writes a request's line after answering it: wait for all three.
    def logged() -> int:
        return sum('"GET / ' not in line for line in log.read_text().splitlines())

    wait_for(lambda: logged() >= len(links), 10, 0.1, "a log line for each link")
    text = log.read_text()
    assert f"GET /letters/{letter.slug}/confirm/[token]/ HTTP/1.1" in text, text
    assert f"/letters/{letter.slug}/my-signature/[token]/" in text, text
    assert "/updates/stop/[token]/" in text, text
    for token in tokens:
        assert len(token) > 20
        for piece in token.split(":"):
            assert piece not in text, f"a token reached the access log:\n{text}"
    assert "zqquerymarker" not in text
