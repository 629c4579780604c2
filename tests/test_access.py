"""Access: walk every URL in the URLconf as people who should see nothing private, and check they
see nothing private.

The walk iterates the live URLconf (django.urls.get_resolver, recursively), so a view added later
is walked without editing this file. Each path parameter is filled with values of real objects the
actor has no right to (another organiser's letter and draft, another organisation, another user's
signature, tokens minted for another letter). A parameter name the walk does not know fails the
test loudly: add it to FILLERS with the objects it names.

The actors: a signed-out visitor, a plain user, a member of another organisation and an organiser
of another letter. Nobody among them may:
- see any marker planted in the victim's private data (names and addresses of anonymous, private,
  pending, hidden and withdrawn signers, unticked details, the draft, the other organisation's
  contact details and members);
- get more than a 302-to-login, 403 or 404 from a page that shows those markers to an insider;
- get past the admin's login;
- change anything by POSTing to any URL (every table is compared before and after).
"""

import itertools
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils.http import int_to_base36
from django.utils.regex_helper import normalize

from lib import addresses
from petition import deliveries, delivery_documents, services, tokens
from petition.models import Letter, Signature

pytestmark = pytest.mark.django_db

# --- the URLconf ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    regex: str  # the full regular expression, from the root
    display: str  # the route as written, for messages
    callback: object
    name: str  # namespaced name, or "" for unnamed patterns
    namespace: str

    @property
    def forms(self) -> list[tuple[str, list[str]]]:
        """Django's own reversal forms: [("letters/%(slug)s/", ["slug"]), ...]."""
        return normalize(self.regex)


def all_routes() -> list[Route]:
    """Every URLPattern reachable from ROOT_URLCONF, with its full regex."""
    found = []

    def walk(patterns, regex_prefix: str, display_prefix: str, namespaces: list[str]):
        for pattern in patterns:
            own = pattern.pattern.regex.pattern.removeprefix("^")
            display = display_prefix + str(pattern.pattern).removeprefix("^")
            if isinstance(pattern, URLResolver):
                spaces = namespaces + [pattern.namespace] if pattern.namespace else namespaces
                # A resolver's regex has no end anchor; an endpoint's ends in \Z or $.
                walk(pattern.url_patterns, regex_prefix + own, display, spaces)
            elif isinstance(pattern, URLPattern):
                name = ":".join([*namespaces, pattern.name]) if pattern.name else ""
                found.append(
                    Route(
                        regex="^" + regex_prefix + own,
                        display=display,
                        callback=pattern.callback,
                        name=name,
                        namespace=":".join(namespaces),
                    )
                )

    walk(get_resolver().url_patterns, "", "", [])
    return found


class Unfillable(Exception):
    pass


def concrete_urls(route: Route, fillers: dict[str, list[str]], limit: int = 12) -> list[str]:
    """The route filled with every combination of candidate values (up to `limit`), each checked to
    resolve back to this very route. Raises Unfillable for a parameter nobody described."""
    urls = []
    for fmt, params in route.forms:
        missing = [p for p in params if p not in fillers]
        if missing:
            raise Unfillable(f"{route.display} ({route.name or 'unnamed'}): {missing}")
        for values in itertools.islice(itertools.product(*(fillers[p] for p in params)), limit):
            url = "/" + fmt % dict(zip(params, values, strict=True))
            try:
                match = resolve(url)
            except Resolver404:
                continue  # e.g. an organisation's slug in a regex that only takes letter slugs
            if match.func is route.callback:
                urls.append(url)
    if not urls:
        raise Unfillable(f"{route.display} ({route.name or 'unnamed'}): no value resolves to it")
    return urls


# --- the world: a victim's private data and people with no right to it ----------------------------

PASSWORD = "a-long-test-password-Zq9"


@dataclass
class World:
    owner: object  # organises letter A
    letter: Letter  # open, with private data
    draft: Letter  # the same owner's unpublished letter
    other_letter: Letter  # organised by `other_organiser`
    victim: object  # a user who signed letter A anonymously and runs organisation X
    actors: dict[str, object | None] = field(default_factory=dict)
    insiders: list = field(default_factory=list)  # accounts entitled to the markers
    markers: list[str] = field(default_factory=list)
    fillers: dict[str, list[str]] = field(default_factory=dict)


def _user(django_user_model, email: str, **fields):
    from allauth.account.models import EmailAddress

    user = django_user_model.objects.create_user(email=email, password=PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _signature(letter: Letter, *, email: str, verify: bool = True, **fields) -> Signature:
    services.sign(letter=letter, email=email, **{"name": "", "visibility": "public", **fields})
    signature = Signature.objects.get(letter=letter, email_hash=addresses.email_hash(email))
    if verify:
        services.verify(signature_id=signature.pk)
        signature.refresh_from_db()
    return signature


def build_world(django_user_model, make_letter) -> World:
    owner = _user(django_user_model, "owner-a@example.org", name="Owner of A")
    letter = make_letter(
        slug="letter-a", title="Letter A", created_by=owner, employer_domains="example.com"
    )
    draft = make_letter(
        publish=False,
        slug="draft-a",
        title="DRAFTTITLEMARKER",
        body="DRAFTBODYMARKER",
        created_by=owner,
    )
    from petition.models import Organiser

    # publish() makes the creator the owner; a draft gets its owner here.
    Organiser.objects.get_or_create(letter=draft, user=owner, defaults={"role": "owner"})
    other_organiser = _user(django_user_model, "organiser-c@example.org", name="Organiser of C")
    other_letter = make_letter(slug="letter-c", title="Letter C", created_by=other_organiser)
    victim = _user(
        django_user_model, "victimaccountmarker@example.net", name="VICTIMACCOUNTNAMEMARKER"
    )

    markers = [
        "DRAFTTITLEMARKER",
        "DRAFTBODYMARKER",
        "victimaccountmarker@example.net",
        "VICTIMACCOUNTNAMEMARKER",
    ]
    # Public: the name is public, the address and the unticked details are not.
    _signature(
        letter,
        email="publicsignermarker@example.com",
        name="Pat Public",
        job_title="PUBLICJOBMARKER",
        team="Public team shown",
        show_team=True,
    )
    # Anonymous, signed by the victim's account: name, address and unticked employer are secret.
    anonymous = _signature(
        letter,
        email="anonsignermarker@example.com",
        name="ANONNAMEMARKER",
        visibility="anonymous",
        affiliation="ANONAFFMARKER",
    )
    Signature.objects.filter(pk=anonymous.pk).update(user=victim)
    # Private: name and address are erased on verification; the unticked city stays secret.
    _signature(
        letter, email="privatesigner@example.com", visibility="private", city="PRIVCITYMARKER"
    )
    # Private and still pending: name and address are held until confirmation.
    _signature(
        letter,
        email="privpendingmarker@example.com",
        name="PRIVPENDINGNAMEMARKER",
        visibility="private",
        verify=False,
    )
    # Public but pending, hidden by a moderator, withdrawn: none is listed.
    _signature(letter, email="pendingmarker@example.com", name="PENDINGNAMEMARKER", verify=False)
    hidden = _signature(letter, email="hiddenmarker@example.com", name="HIDDENNAMEMARKER")
    Signature.objects.filter(pk=hidden.pk).update(is_hidden=True, hidden_reason="HIDREASONMARKER")
    withdrawn = _signature(letter, email="withdrawnmarker@example.com", name="WITHDRAWNNAMEMARKER")
    services.withdraw(signature_id=withdrawn.pk)
    markers += [
        "publicsignermarker@example.com",
        "PUBLICJOBMARKER",
        "anonsignermarker@example.com",
        "ANONNAMEMARKER",
        "ANONAFFMARKER",
        "PRIVCITYMARKER",
        "privpendingmarker@example.com",
        "PRIVPENDINGNAMEMARKER",
        "pendingmarker@example.com",
        "PENDINGNAMEMARKER",
        "hiddenmarker@example.com",
        "HIDDENNAMEMARKER",
        "HIDREASONMARKER",
        "withdrawnmarker@example.com",
        "WITHDRAWNNAMEMARKER",
    ]

    # Deliveries of letter A: one handed over (public, named by public signers only), one only
    # prepared (the organisers' alone).
    delivered, prepared = (
        deliveries.prepare(
            letter_id=letter.pk,
            actor=owner,
            addressee="The Board",
            cover_note="",
            include_names=True,
            include_organisations=True,
            include_counts=True,
        )  # fmt: skip
        for _ in range(2)
    )
    delivery_documents.build(delivery_id=delivered.pk)
    deliveries.mark_delivered(delivery_id=delivered.pk, actor=owner, delivered_to="The Board")

    plain = _user(django_user_model, "plain@example.org", name="Plain User")
    org_member = _user(django_user_model, "member-y@example.org", name="Member of Y")
    # The other organiser also signed their own letter: tokens for that signature are "theirs".
    own = _signature(other_letter, email="organiser-c@example.org", name="Organiser of C")

    world = World(
        owner=owner,
        letter=letter,
        draft=draft,
        other_letter=other_letter,
        victim=victim,
        actors={
            "signed-out visitor": None,
            "plain user": plain,
            "member of another organisation": org_member,
            "organiser of another letter": other_organiser,
        },
        insiders=[owner],
        markers=markers,
    )
    organisation_ids = _organisations(world, org_member)

    # Tokens the actor could hold: one for their own signature on another letter (valid, but
    # foreign at letter A's URLs), one made for the other purpose, and plain rubbish.
    ids = {"signature_id": own.pk, "letter_id": other_letter.pk, "email_hash": own.email_hash}
    foreign = [tokens.make(tokens.VERIFY, **ids), tokens.make(tokens.MANAGE, **ids)]
    wrong_letter = tokens.make(
        tokens.MANAGE,
        signature_id=anonymous.pk,
        letter_id=other_letter.pk,
        email_hash=anonymous.email_hash,
    )
    signature_type = ContentType.objects.get_for_model(Signature)
    victim_ids = [str(letter.pk), str(anonymous.pk), str(victim.pk), str(draft.pk)]
    world.fillers = {
        # Letters: the victim's open letter and their draft; organisations: the other one.
        "slug": [letter.slug, draft.slug, *organisation_ids["slugs"]],
        "letter_slug": [letter.slug, draft.slug],
        "org_slug": organisation_ids["slugs"] or ["no-organisation"],
        "token": [*foreign, wrong_letter, "not-a-token"],
        # Ids of other people's objects.
        "pk": victim_ids + organisation_ids["ids"],
        "id": victim_ids + organisation_ids["ids"],
        "signature_id": [str(anonymous.pk), str(hidden.pk)],
        "public_id": [str(anonymous.public_id), str(hidden.public_id)],
        # My signatures: the level a signer switches a signature to.
        "level": ["public", "anonymous", "private"],
        # Organisation logos: a stored file's name (public, as the co-signer list shows it); and
        # a delivery's files.
        "name": ["0" * 32 + ".png", "names.csv", "print.html", "a4.pdf"],
        "letter_id": [str(letter.pk), str(draft.pk)],
        "user_id": [str(victim.pk), str(owner.pk)],
        # Django's admin: every object of the victim's, behind the admin login.
        "object_id": victim_ids,
        "content_type_id": [str(signature_type.pk)],
        "app_label": ["petition", "accounts", "account", "auth"],
        "url": ["no-such-page/"],
        # allauth: an email-confirmation key and a password-reset key are secrets mailed to their
        # owner; the actor can only guess one, for the victim's account.
        "key": ["not-a-real-key", "Mg:1abcde:fakesignature"],
        "uidb36": [int_to_base36(victim.pk)],
        # Deliveries: the public one, the one only prepared, and a guess; their files.
        "code": [delivered.code, prepared.code, "nosuchcode"],
    }
    return world


def _organisations(world: World, org_member) -> dict[str, list[str]]:
    """Organisation X (run by the victim: contact domains, an open invitation and a pending
    co-signature of letter A that only its admins and A's organisers may see) and organisation Y
    (the actor's). Letter A's own workspace data: an invitation to organise it, an update sent to
    its signers. Returns the ids and slugs URLs may name these objects by."""
    from accounts.models import Membership, Organisation, OrganisationInvite
    from petition.models import CoSignature, Organiser, OrganiserInvite, Update

    letter, victim, owner = world.letter, world.victim, world.owner
    x = Organisation.objects.create(
        name="Organisation X",
        slug="organisation-x",
        email_domains="orgxdomainmarker.example",
        description="Public description of X",
    )
    membership = Membership.objects.create(organisation=x, user=victim, role=Membership.Role.ADMIN)
    y = Organisation.objects.create(name="Organisation Y", slug="organisation-y")
    Membership.objects.create(organisation=y, user=org_member, role=Membership.Role.ADMIN)
    org_invite = OrganisationInvite.objects.create(
        organisation=x, email="orginvitemarker@example.net", invited_by=victim
    )
    Letter.objects.filter(pk=letter.pk).update(accepts_organisations=True)
    cosignature = CoSignature.objects.create(
        letter=letter,
        organisation=x,
        display_name="Organisation X",
        statement="PENDINGCOSIGNMARKER",
        requested_by=victim,
        sort_key="organisation x",
    )
    letter_invite = OrganiserInvite.objects.create(
        letter=letter, email="organiserinvitemarker@example.net", invited_by=owner
    )
    update = Update.objects.create(
        letter=letter,
        subject="UPDATESUBJECTMARKER",
        body="UPDATEBODYMARKER",
        created_by=owner,
        status=Update.Status.SENT,
    )
    world.markers += [
        "orgxdomainmarker.example",
        "orginvitemarker@example.net",
        "PENDINGCOSIGNMARKER",
        "organiserinvitemarker@example.net",
        "UPDATESUBJECTMARKER",
        "UPDATEBODYMARKER",
    ]
    world.insiders.append(victim)
    owner_seat = Organiser.objects.get(letter=letter, user=owner)
    ids = [x, membership, org_invite, cosignature, letter_invite, update, owner_seat]
    return {"slugs": [x.slug], "ids": [str(obj.pk) for obj in ids]}


# --- the walk -------------------------------------------------------------------------------------


def walk_urls(world: World) -> tuple[list[tuple[Route, str]], list[str]]:
    """(route, url) for every route filled with the world's values, and the routes that could not
    be filled."""
    pairs, unfillable = [], []
    for route in all_routes():
        # Django's admin lets no non-staff account past its login, whatever the object: one
        # filling per admin route is enough to check that.
        limit = 1 if route.namespace == "admin" else 40
        try:
            pairs += [(route, url) for url in concrete_urls(route, world.fillers, limit)]
        except Unfillable as exc:
            unfillable.append(str(exc))
    return pairs, unfillable


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return content.decode("utf-8", errors="replace")


def leaked(world: World, text: str) -> list[str]:
    lowered = text.lower()
    return [m for m in world.markers if m.lower() in lowered]


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def request(client: Client, user, method: str, url: str):
    if user is not None and "_auth_user_id" not in client.session:
        client.force_login(user)  # a POST to a logout URL signed the actor out: sign back in
    return getattr(client, method)(url)


def snapshot() -> dict:
    """Every row of every model of ours, allauth's and auth's, but for last-login times."""
    state = {}
    for config in ("petition", "accounts", "account", "auth"):
        for model in apps.get_app_config(config).get_models():
            rows = model.objects.order_by("pk").values()
            state[model._meta.label] = [
                {k: v for k, v in row.items() if k not in {"last_login"}} for row in rows
            ]
    return state


def insider_pages(world: World, pairs) -> set[str]:
    """URLs whose GET shows an insider (the letter's owner, organisation X's admin) a marker: the
    private pages the walk must find closed to everyone else."""
    private = set()
    for insider in world.insiders:
        client = client_for(insider)
        own = {insider.email.lower(), insider.name.lower()}  # their own account pages
        for route, url in pairs:
            if route.namespace == "admin":
                continue
            response = request(client, insider, "get", url)
            found = leaked(world, body_of(response)) if response.status_code == 200 else []
            if [m for m in found if m.lower() not in own]:
                private.add(url)
    return private


# --- tests ----------------------------------------------------------------------------------------


@pytest.fixture
def world(django_user_model, make_letter, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    return build_world(django_user_model, make_letter)


def test_every_url_pattern_can_be_filled(world):
    pairs, unfillable = walk_urls(world)
    assert not unfillable, (
        "URL patterns the access walk cannot fill; add their parameters to FILLERS in "
        "tests/test_access.py:\n" + "\n".join(unfillable)
    )
    assert len({route.display for route, _ in pairs}) == len(all_routes())


def test_insiders_do_see_the_markers_somewhere(world):
    """The walk's markers are real: the owner's workspace shows private signer data, so a page
    closed to the actors below is closed for a reason."""
    pairs, _ = walk_urls(world)
    private = insider_pages(world, pairs)
    assert any(world.letter.slug in url for url in private), "no organiser page shows signer data"


ACTORS = [
    "signed-out visitor",
    "plain user",
    "member of another organisation",
    "organiser of another letter",
]


@pytest.mark.parametrize("actor", ACTORS)
def test_actor_reaches_no_private_data_through_any_url(world, actor):
    pairs, unfillable = walk_urls(world)
    assert not unfillable, "\n".join(unfillable)
    private = insider_pages(world, pairs)
    user = world.actors[actor]
    client = client_for(user)
    before = snapshot()
    problems = []
    for route, url in pairs:
        for method in ("get", "post"):
            response = request(client, user, method, url)
            status = response.status_code
            where = f"{method.upper()} {url} ({route.name or route.display}) -> {status}"
            if status >= 500:
                problems.append(f"{where}: server error")
            found = leaked(world, body_of(response))
            if found:
                problems.append(f"{where}: shows {found}")
            location = response.get("Location", "")
            # A page about one object (a letter, an organisation...) that shows an insider
            # private data is closed to everyone else. A page with no parameter shows each
            # signed-in user their own things (/manage/, /me/...): there the marker check above
            # is the test.
            names_an_object = any(params for _, params in route.forms)
            if method == "get" and url in private and names_an_object:
                to_login = status == 302 and "login" in location
                if not (to_login or status in (403, 404)):
                    problems.append(f"{where}: an insider's page is not closed")
            if route.namespace == "admin" and method == "get":
                if route.name == "admin:login":
                    continue
                # Logging out of the admin is a POST; a GET is refused or sent to the login.
                logout = route.name == "admin:logout"
                expected = (302, 405) if logout else (302,)
                target = "/admin/" if logout else "/admin/login/"  # /admin/ sends to the login
                if status not in expected or (status == 302 and target not in location):
                    problems.append(f"{where}: the admin is not behind its login")
    assert not problems, "\n".join(problems)
    assert snapshot() == before, "a POST by an outsider changed stored data"


def test_an_organiser_of_another_letter_cannot_open_the_workspace_of_letter_a(world):
    """The same check from the other side, spelled out for the organiser views that exist."""
    organiser_routes = [
        r
        for r in all_routes()
        if getattr(r.callback, "__module__", "").startswith("petition.views.organiser.")
    ]
    client = client_for(world.actors["organiser of another letter"])
    for route in organiser_routes:
        for url in concrete_urls(route, world.fillers):
            if world.letter.slug in url or world.draft.slug in url:
                assert client.get(url).status_code in (403, 404), url
