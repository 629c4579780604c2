"""Bad input: property-based tests of every form a visitor or user can reach, of every URL with
broken bytes in it, and of the API against its own OpenAPI schema.

The forms are not listed here: they are found by fetching every page of the URL walk (see
tests/test_access.py), a signer's confirm and manage links, and every page those link to, as a
visitor, a plain user, an organisation admin and an organiser in their own workspace, and reading
the <form> elements. A form added later is fuzzed without editing this file.

For every input: no 500, and markup a user typed never comes back unescaped, neither in the
answer, nor in the mails written to the outbox, nor on any page once what was stored is shown.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from petition import emails, services
from petition.models import Mail, Signature
from tests.test_access import all_routes, body_of, build_world, client_for, walk_urls

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same inputs every run: a red build is reproducible
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

# --- what we type ---------------------------------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "</textarea><svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{ settings.SECRET_KEY }}{% debug %}",
    '[x](javascript:alert(1)) <a href="javascript:alert(1)">x</a>',
    "\u202eevil\u202c",
    "Robert'); DROP TABLE petition_signature;--",
]
# What must never come back as live markup (checked on the lower-cased page).
UNESCAPED = [
    "<script>alert(",
    "<img src=x onerror",
    "<svg onload",
    'href="javascript:',
    "href='javascript:",
    'src="javascript:',
]

control_text = st.text(alphabet=st.characters(max_codepoint=0x1F), min_size=1, max_size=20)
long_text = st.integers(300, 60_000).map(lambda n: ("ü<script>alert(1)</script>x" * n)[:n])
free_text = st.text(max_size=80)
payload = st.sampled_from(PAYLOADS)
mixed = st.builds(lambda a, p, b: a + p + b, free_text, payload, control_text | st.just(""))
junk = st.one_of(free_text, payload, mixed, control_text, long_text, st.just("\x00"))

emails_ok = st.one_of(
    st.just("fuzz@example.com"),
    st.sampled_from(["ada@example.com", "x@mailinator.com", "someone@orgx.example"]),
    # Quoted local parts are valid addresses and may carry markup into pages and mails.
    st.sampled_from(['"<script>alert(1)</script>"@example.com', '"a\\"b"@example.org']),
    st.from_regex(r"\A[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,20}\.(com|org|net)\Z"),
)


# --- the forms on the pages -----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text, email, password, hidden, checkbox, radio, select, textarea, file...
    value: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Form:
    page: str
    action: str
    method: str
    fields: tuple[Field, ...]

    @property
    def key(self) -> tuple:
        try:
            route = resolve(urlsplit(self.action).path).route
        except Resolver404:
            route = self.action
        return (route, self.method, tuple(sorted({f.name for f in self.fields})))


class FormParser(HTMLParser):
    def __init__(self, page: str):
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self._form = None
        self._fields: dict[str, Field] = {}
        self._select = None
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "a" and a.get("href"):
            link = urlsplit(urljoin(self.page, a["href"]))
            if link.netloc == "testserver":
                self.links.append(link.path + (f"?{link.query}" if link.query else ""))
        if tag == "form":
            self._form = (urljoin(self.page, a.get("action") or self.page), a.get("method", "get"))
            self._fields = {}
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in {"submit", "button", "image", "reset"}:
                self._add(Field(name, "choice", "", (a.get("value", ""),)))
            elif kind in {"radio", "checkbox"}:
                old = self._fields.get(name)
                options = (old.options if old else ()) + (a.get("value", "on"),)
                self._fields[name] = Field(name, kind, "", options)
            else:
                self._add(Field(name, kind, a.get("value", "")))
        elif tag == "textarea" and name:
            self._add(Field(name, "textarea", ""))
        elif tag == "select" and name:
            self._select = name
            self._add(Field(name, "select", ""))
        elif tag == "option" and self._select:
            old = self._fields[self._select]
            value = a.get("value", "")
            self._fields[self._select] = Field(old.name, "select", "", (*old.options, value))
        elif tag == "button" and name:
            old = self._fields.get(name)
            options = (old.options if old else ()) + (a.get("value", ""),)
            self._fields[name] = Field(name, "choice", "", options)

    def _add(self, field: Field):
        self._fields.setdefault(field.name, field)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "form" and self._form is not None:
            action, method = self._form
            fields = tuple(f for f in self._fields.values() if f.name != "csrfmiddlewaretoken")
            self.forms.append(Form(self.page, action, method.lower(), fields))
            self._form = None


def value_for(field: Field):
    """Mostly something the form would accept (so the fuzz reaches the services and the pages
    that show what was stored), often junk."""
    if field.name == "website":
        return st.just("")  # the honeypot: filled, the sign form stops before validating
    if field.kind in {"radio", "select", "choice"}:
        good = st.sampled_from(field.options or ("",))
    elif field.kind == "checkbox":
        good = st.sampled_from([None, field.options[0] if field.options else "on"])
    elif field.kind == "email" or "email" in field.name or field.name == "login":
        good = emails_ok
    elif field.kind == "hidden":
        good = st.just(field.value)
    elif field.kind == "file":
        return st.one_of(
            st.none(),
            st.binary(max_size=2048).map(lambda b: SimpleUploadedFile("x<script>.png", b)),
            st.builds(lambda: SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)),
        )
    elif field.kind == "password" or "password" in field.name:
        good = st.just("a-long-fuzz-password-Q7!")
    elif field.kind in {"url"} or field.name in {"website", "url"}:
        good = st.sampled_from(["https://example.org", "javascript:alert(1)", ""])
    else:
        good = st.one_of(mixed, payload, free_text)
    return st.one_of(good, good, junk, st.none())


def payloads_for(form: Form):
    return st.fixed_dictionaries({f.name: value_for(f) for f in form.fields}).map(
        lambda d: {k: v for k, v in d.items() if v is not None}
    )


def assert_escaped(response, where: str):
    """Markup typed by a user never comes back live in HTML (JSON and CSV answers carry it as
    data, under their own content type, which browsers do not render: nosniff is set)."""
    content_type = response.get("Content-Type", "")
    if "html" not in content_type and content_type:
        assert response.get("X-Content-Type-Options") == "nosniff", where
        return
    assert_markup_escaped(body_of(response), where)


def assert_markup_escaped(html: str, where: str):
    lowered = html.lower()
    for marker in UNESCAPED:
        assert marker not in lowered, f"unescaped {marker!r} in {where}"


def send(client: Client, form: Form, data: dict):
    url = urlsplit(form.action)
    path = url.path + (f"?{url.query}" if url.query else "")
    if form.method == "post":
        return client.post(path, data)
    return client.get(path, {k: v for k, v in data.items() if not hasattr(v, "read")})


def fuzz_form(client: Client, user, form: Form, examples: int):
    @settings(FUZZ, max_examples=examples)
    @given(data=payloads_for(form))
    def run(data):
        if user is not None and "_auth_user_id" not in client.session:
            client.force_login(user)
        response = send(client, form, data)
        where = f"{form.method.upper()} {form.action} with {sorted(data)}"
        assert response.status_code < 500, where
        assert_escaped(response, where)

    run()


# --- the actors and pages -------------------------------------------------------------------------

UNLIMITED = {
    "SIGN_LIMIT_PER_IP": "1000000/h",
    "SIGN_LIMIT_PER_EMAIL": "1000000/h",
    "RESEND_LIMIT": "1000000/h",
    "MANAGE_LIMIT": "1000000/h",
    "ACCOUNT_RATE_LIMITS": False,
}


@pytest.fixture
def world(django_user_model, make_letter, settings):
    # Every login attempt checks a password: a fast hasher keeps hundreds of them cheap.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for name, value in UNLIMITED.items():
        setattr(settings, name, value)
    # Other engineers' limits are settings too: lift every *_LIMIT* one for the fuzz.
    from django.conf import settings as live

    for name in dir(live):
        value = getattr(live, name, None)
        if name.isupper() and isinstance(value, str) and re.fullmatch(r"\d+/\d*[smhd]", value):
            setattr(settings, name, "1000000/h")
    return build_world(django_user_model, make_letter)


def signer_links(world) -> list[str]:
    """The pages a signer reaches through their mails: confirm and manage, with real tokens."""
    services.sign(
        letter=world.letter, name="Link Holder", email="holder@example.com", visibility="public"
    )
    signature = Signature.objects.get(email="holder@example.com")
    verify = emails.verify_url(signature).removeprefix(emails.absolute(""))
    manage = emails.manage_url(signature).removeprefix(emails.absolute(""))
    return [verify, manage]


@dataclass
class Found:
    forms: list  # (actor, Form), each form once, fuzzed as the first actor who reached it
    pages: dict  # actor -> the HTML pages that actor reached (200)


def followable(url: str) -> bool:
    return not url.startswith(("/admin/", "/static/", "/media/")) and "logout" not in url


def discover(world, actors, max_links: int = 150) -> Found:
    """Every page of the URL walk, and every page linked from those (an actor's own organisation,
    say, which the walk does not name), as each actor; the forms on them."""
    pairs, _ = walk_urls(world)
    # The admin answers non-staff with its login page only: that page stands for all of it.
    seeds = sorted({url for route, url in pairs if route.namespace != "admin"})
    seeds += ["/admin/login/", *signer_links(world)]
    found = Found(forms=[], pages={})
    seen = set()
    for user in actors:
        client = client_for(user)
        found.pages[user] = []
        queue, visited = list(seeds), set(seeds)
        budget = len(seeds) + max_links
        while queue and len(visited) <= budget:
            url = queue.pop(0)
            response = client.get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            found.pages[user].append(url)
            parser = FormParser("http://testserver" + url)
            parser.feed(body_of(response))
            for link in parser.links:
                if link not in visited and followable(link):
                    visited.add(link)
                    queue.append(link)
            for form in parser.forms:
                if form.key not in seen and "logout" not in form.action:
                    seen.add(form.key)
                    found.forms.append((user, form))
    return found


def destructive(form: Form) -> bool:
    """Closes, deletes, removes or withdraws something the other forms need: fuzzed last."""
    words = [form.action, *(option for f in form.fields for option in f.options)]
    return any(w in text for text in words for w in ("delete", "close", "remove", "withdraw"))


def test_every_form_survives_hostile_input_and_escapes_it(world):
    """Every form a visitor, a user, an organisation admin, a signer with their links or an
    organiser (in their own workspace) can reach."""
    owner = world.owner
    actors = [
        None,
        world.actors["plain user"],
        world.actors["member of another organisation"],
        owner,
    ]
    found = discover(world, actors)
    routes = {str(form.key[0]) for _, form in found.forms}
    for expected in (
        "letters/<slug:slug>/sign/",
        "letters/<slug:slug>/resend/",
        "letters/<slug:slug>/my-signature/",
        "accounts/login/",
        "accounts/signup/",
        "letters/<slug:slug>/my-signature/<str:token>/",
    ):
        assert expected in routes, f"no {expected} form found among {sorted(routes)}"
    # Forms that close or delete what the others need go last.
    for user, form in sorted(found.forms, key=lambda pair: destructive(pair[1])):
        examples = 10 if user is owner else 25
        fuzz_form(client_for(user), user, form, examples=examples)
    assert_outbox_escaped()

    # What was stored is shown only as text: confirm whatever the fuzz signed, read every page.
    for signature_id in Signature.objects.filter(status="pending").values_list("pk", flat=True):
        services.verify(signature_id=signature_id)
    assert_outbox_escaped()
    for user, urls in found.pages.items():
        client = client_for(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, url
            assert_escaped(response, f"GET {url}")


def assert_outbox_escaped():
    for mail in Mail.objects.all():
        assert_markup_escaped(mail.html, f"the HTML of a {mail.kind} mail")


# --- URLs with broken bytes -----------------------------------------------------------------------

BROKEN = [
    "%ff%fe",  # not UTF-8
    "%00",
    "%ed%a0%80",  # an encoded surrogate
    quote("<script>alert(1)</script>"),
    "a" * 3000,
    "..%2f..%2fetc%2fpasswd",
]


def broken_urls() -> list[str]:
    """Every route with each parameter replaced by broken bytes, and broken query strings."""
    urls = []
    for route in all_routes():
        for fmt, params in route.forms:
            if not params:
                urls += ["/" + fmt + "?page=%ff%fe&next=%3Cscript%3Ealert(1)%3C/script%3E"]
                continue
            # The admin is Django's own and answers everyone here with its login: two values do.
            values = BROKEN[:2] if route.namespace == "admin" else BROKEN
            for bad in values:
                urls.append("/" + fmt % dict.fromkeys(params, bad))
    return urls


def test_broken_bytes_in_any_url_never_give_a_server_error(world):
    problems = []
    for user, methods in ((None, ("get", "post")), (world.owner, ("get",))):
        client = client_for(user)
        for url in broken_urls():
            for method in methods:
                response = getattr(client, method)(url)
                if response.status_code >= 500:
                    problems.append(f"{method.upper()} {url}: {response.status_code}")
                else:
                    assert_escaped(response, url)
    assert not problems, "\n".join(problems)


@settings(FUZZ, max_examples=40)
@given(
    index=st.integers(min_value=0),
    segment=st.one_of(
        st.text(min_size=1, max_size=40).map(lambda t: quote(t, safe="")),
        st.binary(min_size=1, max_size=12).map(lambda b: "".join(f"%{x:02x}" for x in b)),
    ),
    query=st.binary(max_size=30).map(lambda b: "".join(f"%{x:02x}" for x in b)),
)
def test_arbitrary_bytes_in_path_parameters_and_query_strings(world, index, segment, query):
    if not hasattr(world, "real_urls"):
        world.real_urls = [url for _, url in walk_urls(world)[0]]
    real = world.real_urls
    url = real[index % len(real)]
    # Replace the last path segment with the fuzzed one, and add a fuzzed query string.
    parts = url.rstrip("/").split("/")
    broken = "/".join(parts[:-1] + [segment]) + "/?page=" + query + "&q=" + query
    for client in (Client(), client_for(world.owner)):
        response = client.get(broken)
        assert response.status_code < 500, broken
        assert_escaped(response, broken)


def test_the_text_fields_of_the_sign_form_keep_no_control_characters(client, world):
    url = f"/letters/{world.letter.slug}/sign/"
    response = client.post(
        url,
        {
            "name": "Ada\x00\x07 Love\u202elace",
            "email": "ctl@example.com",
            "visibility": "public",
            "job_title": "A\tB\nC",
        },
    )
    # A NUL byte is refused with a message (PostgreSQL cannot store one), never a 500.
    assert response.status_code in (302, 400)
    response = client.post(
        url,
        {
            "name": "Ada\x07 Love\x1blace",
            "email": "ctl2@example.com",
            "visibility": "public",
            "job_title": "A\tB\nC",
        },
    )
    assert response.status_code == 302
    signature = Signature.objects.get(email="ctl2@example.com")
    assert signature.name == "Ada Love lace"
    assert signature.job_title == "A B C"


# --- the API, against its OpenAPI schema ----------------------------------------------------------

SCHEMA_PATH = "/api/openapi.json"


def api_exists() -> bool:
    try:
        resolve(SCHEMA_PATH)
    except Resolver404:
        return False
    return True


def test_the_api_matches_its_schema_and_never_fails(world, settings):
    """schemathesis generates requests from /api/openapi.json, valid and invalid (its pytest
    plugin's lazy loader does not run under pytest 9, so each operation's strategy is driven
    here): no 5xx, and every answer matches the schema's content type and body schema."""
    import schemathesis
    from django.core import signals
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import close_old_connections

    if not api_exists():
        pytest.fail(f"no {SCHEMA_PATH} in the URLconf")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost", "testserver"]
    # A bare WSGIHandler closes the database connection after each request, which would end the
    # test's transaction; Django's test client unhooks the same signal handlers.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        check_api(schemathesis.openapi.from_wsgi(SCHEMA_PATH, WSGIHandler()))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def check_api(schema):
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
    )

    checks = [not_a_server_error, content_type_conformance, response_schema_conformance]
    operations, failures = [], []
    for result in schema.get_all_operations():
        operation = result.ok()  # an invalid schema raises here, loudly
        operations.append(f"{operation.method.upper()} {operation.path}")
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @settings_for_api
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                case.call_and_validate(checks=checks)

            try:
                run()
            except Unsatisfiable:
                assert mode is schemathesis.GenerationMode.NEGATIVE, operations[-1]
                # No parameter and no body: there is no invalid request of this operation.
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - gather them all
                failures.append(f"{operations[-1]} ({mode.value}): {exc}")
    assert operations, "the schema lists no operations"
    assert not failures, "\n\n".join(failures)


settings_for_api = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def test_the_api_schema_is_served_when_the_api_exists(client, world):
    if not api_exists():
        pytest.fail(f"no {SCHEMA_PATH} in the URLconf")
    response = client.get(SCHEMA_PATH)
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert spec["paths"], "the schema lists operations"
