"""Abuse controls and security headers: rate limits, the honeypot, disposable addresses, the
Content Security Policy, frame protection, HTTPS-only cookies and HSTS, and `check --deploy`."""

import json
import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from lib import ratelimit
from petition.models import Mail, Signature
from tests.conftest import ROOT, sign_data
from tests.test_access import all_routes, body_of, build_world, client_for, walk_urls

pytestmark = pytest.mark.django_db

# --- rate limits ----------------------------------------------------------------------------------

IP = "203.0.113.5"


def sign(client, letter, ip=IP, **data):
    return client.post(reverse("sign", args=[letter.slug]), sign_data(**data), REMOTE_ADDR=ip)


def resend(client, letter, email, ip=IP):
    return client.post(reverse("resend", args=[letter.slug]), {"email": email}, REMOTE_ADDR=ip)


def manage_request(client, letter, email, ip=IP):
    url = reverse("manage_request", args=[letter.slug])
    return client.post(url, {"email": email}, REMOTE_ADDR=ip)


def assert_friendly_429(response, letter):
    assert response.status_code == 429
    page = response.content.decode()
    assert "Please wait a little" in page
    assert letter.get_absolute_url() in page, "the page leads back to the letter"


def test_signing_is_limited_per_ip(client, letter, settings):
    settings.SIGN_LIMIT_PER_IP = "3/h"
    for n in range(3):
        assert sign(client, letter, email=f"s{n}@example.com").status_code == 302
    response = sign(client, letter, email="s3@example.com")
    assert_friendly_429(response, letter)
    assert not Signature.objects.filter(email="s3@example.com").exists()
    assert sign(client, letter, ip="203.0.113.6", email="s4@example.com").status_code == 302


def test_signing_is_limited_per_address_whatever_the_ip_and_spelling(client, letter, settings):
    settings.SIGN_LIMIT_PER_EMAIL = "2/h"
    assert sign(client, letter, ip="198.51.100.1", email="ada@example.com").status_code == 302
    assert sign(client, letter, ip="198.51.100.2", email="ADA@Example.com").status_code == 302
    response = sign(client, letter, ip="198.51.100.3", email=" Ada@EXAMPLE.com ")
    assert_friendly_429(response, letter)
    assert sign(client, letter, ip="198.51.100.4", email="bob@example.com").status_code == 302


def test_a_forged_forwarded_for_header_does_not_reset_the_ip_limit(client, letter, settings):
    settings.SIGN_LIMIT_PER_IP = "2/h"
    settings.TRUST_X_FORWARDED_FOR = False
    statuses = []
    for n in range(3):
        response = client.post(
            reverse("sign", args=[letter.slug]),
            sign_data(email=f"g{n}@example.com"),
            REMOTE_ADDR=IP,
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
        statuses.append(response.status_code)
    assert statuses == [302, 302, 429]


def test_behind_a_trusted_proxy_the_limit_is_per_client_address(client, letter, settings):
    settings.SIGN_LIMIT_PER_IP = "1/h"
    settings.TRUST_X_FORWARDED_FOR = True
    url = reverse("sign", args=[letter.slug])
    proxy = "10.1.1.1"

    def post(email, forwarded):
        return client.post(
            url, sign_data(email=email), REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    # The proxy appends the address it saw; anything to its left is the client's to forge.
    assert post("p1@example.com", "192.0.2.1") == 302
    assert post("p2@example.com", "192.0.2.2") == 302
    assert post("p3@example.com", "6.6.6.6, 192.0.2.1") == 429


def test_resending_is_limited_per_ip(client, letter, settings):
    settings.RESEND_LIMIT = "2/h"
    assert resend(client, letter, "r1@example.com").status_code == 302
    assert resend(client, letter, "r2@example.com").status_code == 302
    assert_friendly_429(resend(client, letter, "r3@example.com"), letter)


def test_resending_is_limited_per_address(client, letter, settings):
    settings.RESEND_LIMIT = "2/h"
    assert resend(client, letter, "r@example.com", ip="198.51.100.1").status_code == 302
    assert resend(client, letter, "r@example.com", ip="198.51.100.2").status_code == 302
    assert_friendly_429(resend(client, letter, "r@example.com", ip="198.51.100.3"), letter)


def test_manage_link_requests_are_limited_per_ip(client, letter, settings):
    settings.MANAGE_LIMIT = "2/h"
    assert manage_request(client, letter, "m1@example.com").status_code == 200
    assert manage_request(client, letter, "m2@example.com").status_code == 200
    assert_friendly_429(manage_request(client, letter, "m3@example.com"), letter)


def test_manage_link_requests_are_limited_per_address(client, letter, settings):
    settings.MANAGE_LIMIT = "2/h"
    assert manage_request(client, letter, "m@example.com", ip="198.51.100.1").status_code == 200
    assert manage_request(client, letter, "m@example.com", ip="198.51.100.2").status_code == 200
    response = manage_request(client, letter, "M@example.com", ip="198.51.100.3")
    assert_friendly_429(response, letter)


def test_limits_are_settings_with_sane_defaults():
    for name in ("SIGN_LIMIT_PER_IP", "SIGN_LIMIT_PER_EMAIL", "RESEND_LIMIT", "MANAGE_LIMIT"):
        count, window = ratelimit.parse(getattr(django_settings, name))
        assert count >= 1 and window >= 60, name


def test_rate_limit_keys_hold_no_address_or_ip(client, letter):
    sign(client, letter, ip="198.51.100.77", email="secret-address@example.com")
    location = django_settings.CACHES["default"].get("LOCATION")
    if "redis" not in django_settings.CACHES["default"]["BACKEND"].lower():
        from django.core.cache import cache

        keys = list(cache._cache.keys())  # locmem
    else:
        import redis

        keys = [k.decode() for k in redis.Redis.from_url(location).keys("*rl:*")]
    assert any("rl:sign-email" in k for k in keys)
    assert not [k for k in keys if "secret-address" in k or "198.51.100.77" in k]


def test_rate_limit_counts_expire_with_their_window():
    """A count lives as long as its window (and a second hit does not push the expiry back)."""
    import redis

    if "redis" not in django_settings.CACHES["default"]["BACKEND"].lower():
        pytest.fail("runs with REDIS_URL set, as `make test` does")
    assert ratelimit.hit("ttl-probe", "203.0.113.10", "5/m")
    server = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    (key,) = server.keys("*rl:ttl-probe:*")
    first = server.ttl(key)
    assert 0 < first <= 61
    assert server.get(key) == b"1"
    assert ratelimit.hit("ttl-probe", "203.0.113.10", "5/m")
    assert server.get(key) == b"2" and server.ttl(key) <= first


SHARED_LIMIT_PROBE = """
import django
django.setup()
from lib import ratelimit
print([ratelimit.hit("shared-probe", "203.0.113.9", "2/h") for _ in range(2)])
"""


def test_rate_limits_are_shared_by_every_web_process(settings):
    """Another process (a second gunicorn worker) spends the allowance; this one sees it spent."""
    if not os.environ.get("REDIS_URL"):
        pytest.fail("runs with REDIS_URL set, as `make test` does")
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    other = subprocess.run(
        [sys.executable, "-c", SHARED_LIMIT_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert other.stdout.strip().splitlines()[-1] == "[True, True]"
    assert ratelimit.hit("shared-probe", "203.0.113.9", "2/h") is False


def test_allauth_locks_an_account_after_repeated_failed_logins(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user(
        email="target@example.org", password="right-password-1"
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    url = reverse("account_login")
    for n in range(5):  # from five addresses: the limit is per account, not only per IP
        response = client.post(
            url, {"login": user.email, "password": f"wrong-{n}"}, REMOTE_ADDR=f"192.0.2.{n}"
        )
        assert response.status_code == 200
    response = client.post(url, {"login": user.email, "password": "right-password-1"})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session, "not even the right password gets in now"


def test_allauth_rate_limits_answer_with_a_friendly_page(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/h/ip"}
    url = reverse("account_signup")
    statuses = [
        client.post(
            url, {"email": f"new{n}@example.org", "password1": "x", "password2": "y"}
        ).status_code
        for n in range(3)
    ]
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    response = client.post(url, {"email": "late@example.org"})
    assert response.status_code == 429
    assert "Please wait a little" in response.content.decode(), "our page, not a bare 429"
    assert "Content-Security-Policy" in response


def test_allauth_rate_limits_are_configured():
    limits = django_settings.ACCOUNT_RATE_LIMITS
    for action in ("login_failed", "signup", "reset_password", "confirm_email"):
        assert limits.get(action), action


# --- organisation requests ------------------------------------------------------------------------


@pytest.fixture
def org_admin(django_user_model):
    from accounts import services as account_services

    def make(email: str, organisations: int = 1):
        user = django_user_model.objects.create_user(email=email, password="a-long-password-9")
        orgs = [
            account_services.create_organisation(user=user, name=f"{email} org {n}")
            for n in range(organisations)
        ]
        return user, orgs

    return make


def test_cosigning_is_limited_per_account(client, make_letter, org_admin, settings):
    settings.ORG_REQUEST_LIMIT = "2/h"
    letter = make_letter(accepts_organisations=True)
    user, orgs = org_admin("admin@ngo.example", organisations=3)
    client.force_login(user)
    url = reverse("cosign", args=[letter.slug])
    statuses = [
        client.post(url, {"organisation": org.slug}, REMOTE_ADDR=f"198.51.100.{n}").status_code
        for n, org in enumerate(orgs)
    ]
    assert statuses == [302, 302, 429]
    assert letter.cosignatures.count() == 2


def test_creating_organisations_is_limited_per_ip(client, django_user_model, settings):
    from accounts.models import Organisation

    settings.ORG_REQUEST_LIMIT = "2/h"
    statuses = []
    for n in range(3):  # three accounts from one address
        user = django_user_model.objects.create_user(email=f"maker{n}@example.org")
        client.force_login(user)
        response = client.post(reverse("organisation_create"), {"name": f"Org {n}"})
        statuses.append(response.status_code)
    assert statuses == [302, 302, 429]
    assert Organisation.objects.count() == 2
    assert "Please wait a little" in response.content.decode()


def test_invitations_to_one_address_are_limited_whoever_sends_them(client, org_admin, settings):
    settings.ORG_REQUEST_LIMIT = "2/h"
    statuses = []
    for n in range(3):  # three admins of three organisations, from three addresses
        user, (org,) = org_admin(f"admin{n}@ngo.example")
        client.force_login(user)
        response = client.post(
            reverse("organisation_invite_send", args=[org.slug]),
            {"email": "Target@Example.org", "role": "member"},
            REMOTE_ADDR=f"198.51.100.{n}",
        )
        statuses.append(response.status_code)
    assert statuses == [302, 302, 429]
    assert Mail.objects.filter(to__iexact="target@example.org").count() == 2


def test_inviting_organisers_is_limited(client, letter, organiser, settings):
    settings.ORG_REQUEST_LIMIT = "2/h"
    client.force_login(organiser)
    url = reverse("organiser:invite", args=[letter.slug])
    statuses = [
        client.post(url, {"email": f"helper{n}@example.org", "role": "editor"}).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]


# --- honeypot and disposable addresses ------------------------------------------------------------


def test_a_bot_filling_the_honeypot_is_answered_like_a_person_and_nothing_is_stored(client, letter):
    response = sign(client, letter, email="bot@example.com", website="http://spam.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("check_inbox", args=[letter.slug])
    assert not Signature.objects.exists()
    assert not Mail.objects.exists()


def test_the_honeypot_is_hidden_from_people_and_assistive_technology(client, letter):
    page = client.get(letter.get_absolute_url()).content.decode()
    start = page.index('name="website"')
    wrapper = page.rfind("<div", 0, start)
    snippet = page[wrapper : start + 80]
    assert 'class="hp"' in snippet and 'aria-hidden="true"' in snippet
    assert 'tabindex="-1"' in snippet and 'autocomplete="off"' in snippet
    css = (ROOT / "static" / "css" / "site.css").read_text()
    assert ".hp {" in css and "-10000px" in css


@pytest.mark.parametrize(
    "email", ["throwaway@mailinator.com", "THROWAWAY@MailInator.COM", "x@eu.mailinator.com"]
)
def test_a_letter_refuses_disposable_addresses_when_set_to(client, make_letter, email):
    letter = make_letter(block_disposable=True)
    response = sign(client, letter, email=email)
    assert response.status_code == 400
    assert "does not accept disposable addresses" in response.content.decode()
    assert not Signature.objects.exists()


def test_a_letter_may_accept_disposable_addresses(client, make_letter):
    letter = make_letter(block_disposable=False)
    assert sign(client, letter, email="throwaway@mailinator.com").status_code == 302
    assert Signature.objects.filter(email="throwaway@mailinator.com").exists()


def test_a_lookalike_of_a_disposable_domain_is_not_refused(client, make_letter):
    letter = make_letter(block_disposable=True)
    assert sign(client, letter, email="someone@notmailinator.com").status_code == 302


# --- headers --------------------------------------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    assert header, f"no Content-Security-Policy on {response.wsgi_request.path}"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


class InlineCode(HTMLParser):
    """Collects what a strict CSP blocks: inline scripts, event-handler attributes, inline styles,
    javascript: URLs."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name == "style":
                self.found.append(f"style= on <{tag}>")
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"javascript: URL on <{tag}>")


def is_embed(route) -> bool:
    """The embeddable widget, which other sites may frame."""
    name = route.name or route.display
    return "embed" in name or "widget" in name


def test_the_policy_allows_no_inline_script_or_style(client):
    directives = csp_directives(client.get("/"))
    for directive in ("script-src", "style-src", "default-src"):
        values = directives.get(directive, [])
        assert "'unsafe-inline'" not in values, directive
        assert "'unsafe-eval'" not in values, directive
        assert "*" not in values, directive
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


def test_every_page_sends_the_policy_and_frame_protection_and_has_no_inline_code(
    django_user_model, make_letter
):
    """Every page any walker reaches (a visitor, and the letter's owner in the workspace): the CSP
    is there, framing is refused except on the embed widget, and nothing in the HTML would need
    'unsafe-inline' to work."""
    world = build_world(django_user_model, make_letter)
    pairs, _ = walk_urls(world)
    problems, pages = [], 0
    for user in (None, world.owner):
        client = client_for(user)
        for route, url in pairs:
            response = client.get(url)
            if response.status_code != 200:
                continue
            pages += 1
            where = f"{url} as {'owner' if user else 'visitor'}"
            if not response.get("Content-Security-Policy"):
                problems.append(f"{where}: no Content-Security-Policy")
            # The embed widget may be framed (checked below); nothing else may.
            if not is_embed(route) and response.get("X-Frame-Options") != "DENY":
                problems.append(f"{where}: X-Frame-Options is {response.get('X-Frame-Options')}")
            if "html" in response.get("Content-Type", ""):
                parser = InlineCode()
                parser.feed(body_of(response))
                problems += [f"{where}: {what}" for what in parser.found]
    assert pages > 10
    assert not problems, "\n".join(problems)


def test_the_embed_widget_alone_may_be_framed(client, letter):
    embeds = [r for r in all_routes() if is_embed(r)]
    if not embeds:
        pytest.fail("no embed widget in the URLconf")
    for route in embeds:
        url = "/" + route.forms[0][0] % {p: letter.slug for p in route.forms[0][1]}
        response = client.get(url)
        assert response.status_code == 200, url
        assert "X-Frame-Options" not in response, url
        directives = csp_directives(response)
        assert directives.get("frame-ancestors") != ["'none'"], url
        assert "'unsafe-inline'" not in directives.get("script-src", []), url
    # The letter page itself stays unframeable.
    assert client.get(letter.get_absolute_url())["X-Frame-Options"] == "DENY"


# --- production settings, in a process of their own -----------------------------------------------


def production_env(**extra) -> dict:
    db = django_settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "ALLOWED_HOSTS", "SITE_URL"}}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        SITE_URL="https://letters.example.org",
        EMAIL_URL="smtp://mail.example.org:587?tls=1",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        STATIC_MANIFEST="0",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(extra)
    return env


def test_check_deploy_is_clean_with_production_settings():
    env = production_env()
    # Production keeps the log's signing key in a secret store; `make check-deploy` does this too.
    env["LOG_SIGNING_KEY"] = subprocess.run(
        [sys.executable, "manage.py", "generate_log_key", "--name", "letters.example.org"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


HTTPS_PROBE = """
import json, django
django.setup()
from django.test import Client
from allauth.account.models import EmailAddress
from accounts.models import User

user = User.objects.create_user(email="probe@example.org", password="a-long-probe-password-7")
EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
client = Client(HTTP_HOST="letters.example.org")
plain = client.get("/")
page = client.get("/accounts/login/", secure=True)
login = client.post(
    "/accounts/login/", {"login": user.email, "password": "a-long-probe-password-7"}, secure=True
)
proxied = Client(HTTP_HOST="letters.example.org").get("/", HTTP_X_FORWARDED_PROTO="https")
cookies = {
    name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]), "samesite": m["samesite"]}
    for name, m in client.cookies.items()
}
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "hsts": page.get("Strict-Transport-Security", ""),
    "login": login.status_code,
    "proxied": proxied.status_code,
    "cookies": cookies,
}))
"""


@pytest.mark.django_db(transaction=True)
def test_with_an_https_site_url_cookies_are_secure_and_hsts_is_sent():
    result = subprocess.run(
        [sys.executable, "-c", HTTPS_PROBE],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://letters.example.org/"]
    assert "max-age=31536000" in seen["hsts"] and "includeSubDomains" in seen["hsts"]
    assert seen["login"] == 302
    assert seen["proxied"] == 200, "behind the TLS proxy, X-Forwarded-Proto is honoured"
    assert seen["cookies"]["sessionid"]["secure"] and seen["cookies"]["sessionid"]["httponly"]
    assert seen["cookies"]["csrftoken"]["secure"]
    assert seen["cookies"]["sessionid"]["samesite"] == "Lax"
