"""Organisations co-sign letters: who may co-sign, the listing, moderation, mail."""

import re
import time

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services as org_services
from accounts.models import Membership, Organisation
from petition import services, tasks
from petition.models import CoSignature, Mail, Organiser, Tally, reading_key
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db


def make_user(email: str, *, verified: bool = True, password: str | None = None, **fields):
    # No password unless a test logs in with one: hashing is slow, and force_login needs none.
    user = get_user_model().objects.create_user(email=email, password=password, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def make_org(admin, name: str = "Friends of the Earth", **fields) -> Organisation:
    return org_services.create_organisation(user=admin, name=name, **fields)


def add_member(organisation, user, role=Membership.Role.MEMBER):
    return Membership.objects.create(organisation=organisation, user=user, role=role)


@pytest.fixture
def coalition(make_letter):
    return make_letter(accepts_organisations=True)


@pytest.fixture
def admin():
    return make_user("ada@foe.example", name="Ada Admin")


@pytest.fixture
def org(admin):
    return make_org(admin, website="https://foe.example/")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def cosign_url(letter) -> str:
    return reverse("cosign", args=[letter.slug])


def post_cosign(client, letter, organisation_value, **extra):
    return client.post(
        cosign_url(letter), {"organisation": organisation_value, "statement": "", **extra}
    )


def cosign(letter, organisation, user, name: str = "", **kwargs) -> CoSignature:
    return services.cosign(
        letter=letter, organisation_id=organisation.pk, user=user, display_name=name, **kwargs
    )


def approved_cosigner(letter, name: str, n: int = 0, **org_fields) -> CoSignature:
    """An organisation with its own admin, co-signed and approved."""
    user = make_user(f"admin{n}-{abs(hash(name))}@orgs.example")
    organisation = make_org(user, name=name, **org_fields)
    cosignature = cosign(letter, organisation, user)
    services.approve_cosign(cosignature_id=cosignature.pk, by=letter.created_by)
    return cosignature


def listed_names(html: str) -> list[str]:
    section = html.split('id="cosigners-h"', 1)[1].split("</section>", 1)[0]
    return [
        re.sub(r"<[^>]+>", "", match).strip()
        for match in re.findall(r'<span class="who">(.*?)</span>', section, re.S)
    ]


# --- Only an admin of an organisation can co-sign for it ----------------------------------------


def test_an_admin_co_signs_through_the_page_and_waits_for_approval(admin_client, coalition, org):
    response = post_cosign(
        admin_client, coalition, org.slug, display_name="FoE Washington", statement="We stand."
    )
    assert response.status_code == 302
    cosignature = CoSignature.objects.get()
    assert cosignature.organisation == org
    assert cosignature.status == "pending"
    assert cosignature.display_name == "FoE Washington"
    assert cosignature.statement == "We stand."
    assert "FoE Washington" not in listed_names(
        admin_client.get(coalition.get_absolute_url()).content.decode()
    )


def test_a_member_who_is_not_an_admin_cannot_co_sign(client, coalition, org):
    member = make_user("mo@foe.example")
    add_member(org, member)
    client.force_login(member)
    response = post_cosign(client, coalition, org.slug)
    assert response.status_code == 400
    assert not CoSignature.objects.exists()
    assert b"Friends of the Earth" not in client.get(cosign_url(coalition)).content


def test_an_outsider_cannot_co_sign_by_typing_an_organisations_slug(client, coalition, org):
    client.force_login(make_user("olga@elsewhere.example"))
    assert post_cosign(client, coalition, org.slug).status_code == 400
    assert not CoSignature.objects.exists()


def test_an_admin_cannot_co_sign_for_another_organisation_by_editing_the_field(
    admin_client, coalition, org
):
    other = make_org(make_user("bob@greenpeace.example"), name="Greenpeace")
    for value in [other.slug, str(other.pk), f"{org.slug}' OR 1=1 --"]:
        assert post_cosign(admin_client, coalition, value).status_code == 400
    assert not CoSignature.objects.exists()


def test_the_service_refuses_a_member_even_without_the_form(coalition, org):
    member = make_user("mo@foe.example")
    add_member(org, member)
    with pytest.raises(services.NotOrganisationAdmin):
        cosign(coalition, org, member)
    assert not CoSignature.objects.exists()


def test_a_signed_out_visitor_is_sent_to_log_in_and_nothing_is_made(client, coalition, org):
    for response in [client.get(cosign_url(coalition)), post_cosign(client, coalition, org.slug)]:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert not CoSignature.objects.exists()


def test_only_an_admin_can_withdraw_and_not_for_another_organisation(client, coalition, org, admin):
    cosignature = cosign(coalition, org, admin)
    other_admin = make_user("bob@greenpeace.example")
    make_org(other_admin, name="Greenpeace")
    member = make_user("mo@foe.example")
    add_member(org, member)
    url = reverse("cosign_withdraw", args=[coalition.slug])

    assert client.post(url, {"organisation": org.slug}).status_code == 302  # to log in
    for user in [member, other_admin]:
        client.force_login(user)
        assert client.post(url, {"organisation": org.slug}).status_code == 404
        assert client.post(url, {"organisation": str(org.pk)}).status_code == 404
    with pytest.raises(services.NotOrganisationAdmin):
        services.withdraw_cosign(cosignature_id=cosignature.pk, by=member)
    cosignature.refresh_from_db()
    assert cosignature.status == "pending"

    client.force_login(admin)
    assert client.post(url, {"organisation": org.slug}).status_code == 302
    cosignature.refresh_from_db()
    assert cosignature.status == "withdrawn"


def test_a_letter_not_open_to_organisations_takes_no_co_signature(admin_client, letter, org):
    page = admin_client.get(cosign_url(letter))
    assert b"does not take co-signatures" in page.content
    assert post_cosign(admin_client, letter, org.slug).status_code == 403
    assert not CoSignature.objects.exists()


def test_a_letter_for_organisations_only_refuses_people(client, make_letter):
    from tests.conftest import sign_data

    only_orgs = make_letter(accepts_individuals=False, accepts_organisations=True)
    page = client.get(only_orgs.get_absolute_url()).content.decode()
    assert "Sign the letter" not in page
    assert "signed by organisations only" in page
    response = client.post(reverse("sign", args=[only_orgs.slug]), sign_data())
    assert response.status_code == 403
    assert not only_orgs.signatures.exists()


# --- Organisers moderate; nobody else can -------------------------------------------------------


def action_url(letter, cosignature) -> str:
    return reverse("cosigner_action", args=[letter.slug, cosignature.pk])


def test_an_organiser_approves_through_the_page(client, coalition, org, admin, organiser):
    cosignature = cosign(coalition, org, admin)
    client.force_login(organiser)
    page = client.get(reverse("cosigners_moderate", args=[coalition.slug]))
    assert page.status_code == 200
    assert b"Approve Friends of the Earth" in page.content
    assert client.post(action_url(coalition, cosignature), {"action": "approve"}).status_code == 302
    cosignature.refresh_from_db()
    assert cosignature.status == "approved"
    assert cosignature.decided_by == organiser
    assert Tally.objects.get(letter=coalition).cosigners == 1


def test_outsiders_viewers_and_signed_out_visitors_cannot_moderate(
    client, coalition, org, admin, make_letter
):
    cosignature = cosign(coalition, org, admin)
    viewer = make_user("vic@viewer.example")
    Organiser.objects.create(letter=coalition, user=viewer, role=Organiser.Role.VIEWER)
    pages = [
        reverse("cosigners_moderate", args=[coalition.slug]),
        action_url(coalition, cosignature),
    ]

    assert client.post(pages[1], {"action": "approve"}).status_code == 302  # to log in
    assert client.get(pages[0])["Location"].startswith(reverse("account_login"))
    client.force_login(admin)  # the organisation's admin is no organiser of the letter
    assert client.get(pages[0]).status_code == 404
    assert client.post(pages[1], {"action": "approve"}).status_code == 404
    client.force_login(viewer)
    assert client.get(pages[0]).status_code == 403
    assert client.post(pages[1], {"action": "approve"}).status_code == 403
    cosignature.refresh_from_db()
    assert cosignature.status == "pending"


def test_an_organiser_of_one_letter_cannot_reach_another_letters_co_signature(
    client, coalition, org, admin, make_letter
):
    cosignature = cosign(coalition, org, admin)
    stranger = make_user("sam@other.example")
    mine = make_letter(created_by=stranger, accepts_organisations=True)
    client.force_login(stranger)
    assert client.post(action_url(mine, cosignature), {"action": "approve"}).status_code == 404
    cosignature.refresh_from_db()
    assert cosignature.status == "pending"


def test_pinning_takes_a_position_and_refuses_nonsense(client, coalition, organiser):
    cosignature = approved_cosigner(coalition, "Oxfam")
    client.force_login(organiser)
    client.post(action_url(coalition, cosignature), {"action": "pin", "position": "2"})
    cosignature.refresh_from_db()
    assert cosignature.pinned_position == 2
    for bad in ["0", "-1", "x", "1000"]:
        client.post(action_url(coalition, cosignature), {"action": "pin", "position": bad})
        cosignature.refresh_from_db()
        assert cosignature.pinned_position == 2
    client.post(action_url(coalition, cosignature), {"action": "unpin"})
    cosignature.refresh_from_db()
    assert cosignature.pinned_position is None


def test_a_closed_letter_takes_no_new_approval(client, coalition, org, admin, organiser):
    cosignature = cosign(coalition, org, admin)
    services.close(letter_id=coalition.pk)
    client.force_login(organiser)
    client.post(action_url(coalition, cosignature), {"action": "approve"})
    cosignature.refresh_from_db()
    assert cosignature.status == "pending"
    assert Tally.objects.get(letter=coalition).cosigners == 0


# --- The count is exact through every change ----------------------------------------------------


def cosigners(letter) -> int:
    return Tally.objects.get(letter=letter).cosigners


def test_count_moves_once_per_change_and_never_on_a_repeat(coalition, org, admin, organiser):
    cosignature = cosign(coalition, org, admin)
    assert cosigners(coalition) == 0
    assert services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    assert not services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    assert cosigners(coalition) == 1
    assert services.reject_cosign(cosignature_id=cosignature.pk, by=organiser)
    assert not services.reject_cosign(cosignature_id=cosignature.pk, by=organiser)
    assert cosigners(coalition) == 0
    assert services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    assert services.withdraw_cosign(cosignature_id=cosignature.pk, by=admin)
    assert not services.withdraw_cosign(cosignature_id=cosignature.pk, by=admin)
    assert cosigners(coalition) == 0


def test_one_organisation_co_signs_a_letter_at_most_once(coalition, org, admin):
    first = cosign(coalition, org, admin)
    again = cosign(coalition, org, admin, name="Another name")
    assert again.pk == first.pk
    assert CoSignature.objects.count() == 1
    assert again.display_name == "Friends of the Earth"


def test_a_withdrawn_organisation_may_ask_again_on_the_same_row(coalition, org, admin, organiser):
    first = cosign(coalition, org, admin)
    services.approve_cosign(cosignature_id=first.pk, by=organiser)
    services.withdraw_cosign(cosignature_id=first.pk, by=admin)
    again = cosign(coalition, org, admin, name="FoE International")
    assert again.pk == first.pk
    assert again.status == "pending", "the organisers decide again"
    assert again.display_name == "FoE International"
    assert again.decided_by is None
    assert cosigners(coalition) == 0


def test_a_rejected_organisation_cannot_ask_again(client, coalition, org, admin, organiser):
    cosignature = cosign(coalition, org, admin)
    services.reject_cosign(cosignature_id=cosignature.pk, by=organiser)
    with pytest.raises(services.CosignRefused):
        cosign(coalition, org, admin)
    client.force_login(admin)
    assert post_cosign(client, coalition, org.slug).status_code == 400
    cosignature.refresh_from_db()
    assert cosignature.status == "rejected"


def test_verified_organisations_are_approved_at_once_where_the_letter_allows(
    make_letter, admin, org
):
    auto = make_letter(accepts_organisations=True, auto_approve_verified_orgs=True)
    unverified = cosign(auto, org, admin)
    assert unverified.status == "pending"

    other_admin = make_user("vera@verified.example")
    verified = make_org(other_admin, name="Verified Org", email_domains="verified.example")
    assert verified.is_verified
    # A verified mark proves a domain, not a name: it waits until site staff confirm the name.
    assert cosign(auto, verified, other_admin).status == "pending"
    services.withdraw_cosign(
        cosignature_id=CoSignature.objects.get(organisation=verified).pk, by=other_admin
    )
    org_services.confirm_name(organisation_id=verified.pk, by=other_admin)
    cosignature = cosign(auto, verified, other_admin)
    assert cosignature.status == "approved"
    assert cosignature.decided_by is None
    assert cosigners(auto) == 1


def test_verified_organisations_wait_where_the_letter_does_not_auto_approve(coalition):
    other_admin = make_user("vera@verified.example")
    verified = make_org(other_admin, name="Verified Org", email_domains="verified.example")
    assert cosign(coalition, verified, other_admin).status == "pending"


# --- The listing ----------------------------------------------------------------------------------


def test_pending_rejected_and_withdrawn_are_not_listed_approved_are(client, coalition, organiser):
    listed = approved_cosigner(coalition, "Listed League")
    for n, (name, end) in enumerate(
        [("Pending People", None), ("Rejected Rally", "reject"), ("Withdrawn Workers", "withdraw")]
    ):
        user = make_user(f"u{n}@orgs.example")
        cosignature = cosign(coalition, make_org(user, name=name), user)
        if end == "reject":
            services.reject_cosign(cosignature_id=cosignature.pk, by=organiser)
        if end == "withdraw":
            services.withdraw_cosign(cosignature_id=cosignature.pk, by=user)
    html = client.get(coalition.get_absolute_url()).content.decode()
    assert listed_names(html) == [listed.display_name]
    for name in ["Pending People", "Rejected Rally", "Withdrawn Workers"]:
        assert name not in html
    assert "<strong>1</strong> organisation" in html


NAMES = [
    "Zeta Org",
    "the Sierra Club",
    "Émile Foundation",
    "apple collective",
    "350.org",
    "3M Workers",
    "ACLU",
    "Ångström Society",
    "Newark Coalition",
    "New York Union",
    "Sierra Nevada Alliance",
    "Theatre Workers",
    "élan vital",
]
READING_ORDER = [
    "350.org",  # digits before letters
    "3M Workers",
    "ACLU",  # case ignored
    "Ångström Society",  # accents ignored: filed under A
    "apple collective",
    "élan vital",
    "Émile Foundation",
    "New York Union",  # word by word: "New York" before "Newark"
    "Newark Coalition",
    "the Sierra Club",  # a leading "The" is ignored: filed under S
    "Sierra Nevada Alliance",
    "Theatre Workers",  # only the whole word "The"
    "Zeta Org",
]


def test_approved_co_signers_are_listed_in_reading_order(client, coalition):
    for n, name in enumerate(NAMES):
        approved_cosigner(coalition, name, n)
    html = client.get(coalition.get_absolute_url()).content.decode()
    assert listed_names(html) == READING_ORDER
    assert f"<strong>{len(NAMES)}</strong> organisations" in html


def test_pinned_co_signers_come_first_in_the_chosen_order(client, coalition, organiser):
    made = {name: approved_cosigner(coalition, name, n) for n, name in enumerate(NAMES)}
    services.pin_cosign(cosignature_id=made["Zeta Org"].pk, position=1)
    services.pin_cosign(cosignature_id=made["ACLU"].pk, position=2)
    html = client.get(coalition.get_absolute_url()).content.decode()
    rest = [name for name in READING_ORDER if name not in {"Zeta Org", "ACLU"}]
    assert listed_names(html) == ["Zeta Org", "ACLU", *rest]


def test_reading_key_files_names_as_a_reader_expects():
    assert reading_key("The Sierra Club") == "sierra club"
    assert reading_key("  THE   Sierra-Club ") == "sierra club"
    assert reading_key("The") == "the"
    assert reading_key("Théâtre du Soleil") == "theatre du soleil"
    assert reading_key("Ærø Ålliance") == reading_key("ærø ålliance")
    assert sorted(NAMES, key=reading_key) == READING_ORDER


def test_the_listing_links_the_website_and_shows_no_contact_details(client, coalition, organiser):
    user = make_user("pat@privy.example", name="Pat Privy")
    organisation = make_org(
        user,
        name="Privy Council",
        website="https://privy.example/",
        email_domains="privy.example",
        description="zqsecretdescription",
    )
    cosignature = cosign(coalition, organisation, user, statement="We sign.")
    services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    html = client.get(coalition.get_absolute_url()).content.decode()
    assert (
        '<a href="https://privy.example/" rel="nofollow noopener noreferrer">Privy Council</a>'
        in html
    )
    assert "We sign." in html
    assert "verified: controls privy.example" in html
    for secret in ["pat@privy.example", "Pat Privy", "zqsecretdescription", ">privy.example<"]:
        assert secret not in html


def test_a_website_that_is_not_http_is_refused(admin_client):
    response = admin_client.post(
        reverse("organisation_create"), {"name": "Evil", "website": "javascript:alert(1)"}
    )
    assert response.status_code == 400
    assert not Organisation.objects.filter(name="Evil").exists()


# --- Queries do not grow with the number of co-signers --------------------------------------------


def page_queries(client, letter) -> int:
    # Rows made in bulk skip the public log whose size keys the page's cached fragments: start
    # cold, so every measurement renders (and queries) the whole page.
    from django.core.cache import cache

    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(letter.get_absolute_url()).status_code == 200
    return len(queries)


def bulk_cosigners(letter, count: int, start: int = 0) -> None:
    """Approved co-signers made in bulk (the services are tested above), with the tally kept."""
    users = get_user_model().objects.bulk_create(
        get_user_model()(email=f"bulk{n}@orgs.example") for n in range(start, start + count)
    )
    orgs = Organisation.objects.bulk_create(
        Organisation(
            name=f"Org {n}",
            slug=f"org-{n}",
            website=f"https://org{n}.example/",
            email_domains=f"org{n}.example",
            verified_domain=f"org{n}.example" if n % 2 == 0 else "",
            is_verified=n % 2 == 0,
            verified_at="2026-01-01T00:00:00Z" if n % 2 == 0 else None,
        )
        for n in range(start, start + count)
    )
    Membership.objects.bulk_create(
        Membership(organisation=o, user=u, role="admin") for o, u in zip(orgs, users)
    )
    CoSignature.objects.bulk_create(
        CoSignature(
            letter=letter,
            organisation=o,
            display_name=o.name,
            sort_key=reading_key(o.name),
            status="approved",
            statement="Together.",
            pinned_position=1 if n == start else None,
        )
        for n, o in enumerate(orgs, start)
    )
    from django.db.models import F

    Tally.objects.filter(letter=letter).update(cosigners=F("cosigners") + count)


def test_300_co_signers_render_in_under_20_queries(
    client, coalition, django_assert_max_num_queries
):
    bulk_cosigners(coalition, 300)
    with django_assert_max_num_queries(19):
        response = client.get(coalition.get_absolute_url())
    assert response.status_code == 200
    assert len(listed_names(response.content.decode())) == 300
    assert "<strong>300</strong> organisations" in response.content.decode()


def test_the_letter_page_query_count_does_not_grow_with_co_signers(client, admin, coalition):
    bulk_cosigners(coalition, 3)
    few = page_queries(client, coalition)
    bulk_cosigners(coalition, 200, start=3)
    assert page_queries(client, coalition) == few
    client.force_login(admin)  # and signed in, too
    signed_in = page_queries(client, coalition)
    bulk_cosigners(coalition, 100, start=203)
    assert page_queries(client, coalition) == signed_in


# --- Mail -----------------------------------------------------------------------------------------


def test_organisation_admins_hear_of_approval_once(deliver, coalition, org, admin, organiser):
    second_admin = make_user("abe@foe.example")
    add_member(org, second_admin, Membership.Role.ADMIN)
    add_member(org, make_user("mo@foe.example"))  # a member is not told
    cosignature = cosign(coalition, org, admin)
    Mail.objects.all().delete()  # the digest is tested below
    services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    outbox = deliver()
    assert sorted(m.to[0] for m in outbox) == ["abe@foe.example", "ada@foe.example"]
    assert all("is listed" in m.subject for m in outbox)
    assert all(coalition.get_absolute_url() in m.body for m in outbox)


def test_organisation_admins_hear_of_rejection_once(deliver, coalition, org, admin, organiser):
    cosignature = cosign(coalition, org, admin)
    Mail.objects.all().delete()
    services.reject_cosign(cosignature_id=cosignature.pk, by=organiser)
    services.reject_cosign(cosignature_id=cosignature.pk, by=organiser)
    outbox = deliver()
    assert [m.to for m in outbox] == [["ada@foe.example"]]
    assert "is not listed" in outbox[0].subject


def test_a_co_sign_request_schedules_the_organisers_digest(
    coalition, org, admin, django_capture_on_commit_callbacks, monkeypatch
):
    scheduled = []
    monkeypatch.setattr(services.cosigning, "schedule_cosign_digest", scheduled.append)
    with django_capture_on_commit_callbacks(execute=True):
        cosign(coalition, org, admin)
    assert scheduled == [coalition.pk]


def test_requests_arriving_together_make_one_digest_per_organiser(deliver, coalition, organiser):
    editor = make_user("eddie@letters.example")
    viewer = make_user("vic@letters.example")
    Organiser.objects.create(letter=coalition, user=editor, role=Organiser.Role.EDITOR)
    Organiser.objects.create(letter=coalition, user=viewer, role=Organiser.Role.VIEWER)
    for n, name in enumerate(["Oxfam", "Amnesty", "Greenpeace"]):
        user = make_user(f"a{n}@orgs.example")
        cosign(coalition, make_org(user, name=name), user)

    assert tasks.cosign_digest.apply(args=[coalition.pk]).get() == 3
    assert tasks.cosign_digest.apply(args=[coalition.pk]).get() == 0, "idempotent"
    outbox = deliver()
    assert sorted(m.to[0] for m in outbox) == ["eddie@letters.example", "organiser@example.org"]
    for message in outbox:
        assert "3 co-sign requests" in message.subject
        for name in ["Oxfam", "Amnesty", "Greenpeace"]:
            assert name in message.body
        assert reverse("cosigners_moderate", args=[coalition.slug]) in message.body


def test_a_later_request_makes_a_later_digest_mentioning_only_it(deliver, coalition, admin, org):
    cosign(coalition, org, admin)
    tasks.cosign_digest.apply(args=[coalition.pk])
    deliver().clear()
    user = make_user("late@orgs.example")
    cosign(coalition, make_org(user, name="Latecomers"), user)
    tasks.cosign_digest.apply(args=[coalition.pk])
    (message,) = deliver()
    assert "A co-sign request" in message.subject
    assert "Latecomers" in message.body and "Friends of the Earth" not in message.body


def test_the_sweep_queues_digests_a_lost_task_never_sent(deliver, coalition, org, admin):
    cosign(coalition, org, admin)
    assert services.send_due_cosign_digests(older_than=3600) == 0, "too recent: its task is due"
    assert services.send_due_cosign_digests(older_than=0) == 1
    assert services.send_due_cosign_digests(older_than=0) == 0
    assert [m.to for m in deliver()] == [["organiser@example.org"]]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_approval_and_rejection_mails_are_sent_once_through_the_worker(make_letter, real_mail):
    smtp = real_mail["smtp"]
    letter = make_letter(accepts_organisations=True)
    organiser = letter.created_by
    approved_admin = make_user("yes@approved.example")
    rejected_admin = make_user("no@rejected.example")
    approved = cosign(letter, make_org(approved_admin, name="Approved Org"), approved_admin)
    rejected = cosign(letter, make_org(rejected_admin, name="Rejected Org"), rejected_admin)

    for _ in range(2):  # a second click changes nothing and sends nothing
        services.approve_cosign(cosignature_id=approved.pk, by=organiser)
        services.reject_cosign(cosignature_id=rejected.pk, by=organiser)

    wait_for(lambda: smtp.texts("yes@approved.example"), 30, what="approval mail")
    wait_for(lambda: smtp.texts("no@rejected.example"), 30, what="rejection mail")
    wait_for(lambda: not Mail.objects.filter(kind__startswith="cosign-a").exists(), 15)
    wait_for(lambda: not Mail.objects.filter(kind__startswith="cosign-rej").exists(), 15)
    time.sleep(2)  # time for a duplicate to arrive, were there one
    assert len(smtp.texts("yes@approved.example")) == 1
    assert len(smtp.texts("no@rejected.example")) == 1
    assert "approved the co-signature of Approved Org" in smtp.texts("yes@approved.example")[0]
    assert "did not accept the co-signature of Rejected Org" in smtp.texts("no@rejected.example")[0]
    assert Tally.objects.get(letter=letter).cosigners == 1


def test_the_sweep_is_also_a_management_command(deliver, coalition, org, admin):
    from io import StringIO

    from django.core.management import call_command

    cosign(coalition, org, admin)
    out = StringIO()
    call_command("send_cosign_digests", older_than=0, stdout=out)
    assert "Queued the digest of 1 letter(s)." in out.getvalue()
    assert [m.to for m in deliver()] == [["organiser@example.org"]]
