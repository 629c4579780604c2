"""Organisations: created, verified, staffed and co-signing, through the web pages."""

import io
import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts import services
from accounts.models import Membership, Organisation, OrganisationInvite
from petition.models import CoSignature, Tally
from tests.conftest import tamper

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


def _png() -> bytes:
    # A real, decodable image: logos are redrawn on upload, so a broken one is refused.
    out = io.BytesIO()
    Image.new("RGBA", (1, 1)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()


def make_user(email: str, *, verified: bool = True, password: str | None = None, **fields):
    user = get_user_model().objects.create_user(email=email, password=password, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def link(message, part: str) -> str:
    return path_of(re.search(r"https?://\S+" + re.escape(part) + r"\S*", message.body).group(0))


@pytest.fixture
def admin():
    return make_user("ada@foe.example", name="Ada Admin")


@pytest.fixture
def org(admin):
    return services.create_organisation(user=admin, name="Friends of the Earth")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def create(client, **data):
    return client.post(reverse("organisation_create"), {"name": "Oxfam", **data})


# --- Creating and editing ------------------------------------------------------------------------


def test_a_signed_in_user_creates_an_organisation_and_becomes_its_admin(admin_client, admin):
    response = create(
        admin_client,
        website="https://oxfam.example/",
        email_domains="Oxfam.example\n@oxfam.example, campaigns.oxfam.example",
        description="Fighting poverty.",
    )
    organisation = Organisation.objects.get(name="Oxfam")
    assert response["Location"] == organisation.get_absolute_url()
    assert organisation.slug == "oxfam"
    assert organisation.domains == ["oxfam.example", "campaigns.oxfam.example"]
    assert Membership.objects.get(organisation=organisation).user == admin
    assert Membership.objects.get(organisation=organisation).role == "admin"
    page = admin_client.get(organisation.get_absolute_url()).content.decode()
    assert "Oxfam" in page and "Fighting poverty." in page


def test_a_signed_out_visitor_cannot_create_one(client):
    response = create(client)
    assert response["Location"].startswith(reverse("account_login"))
    assert not Organisation.objects.exists()


def test_slugs_are_unique_and_never_shadow_a_page(admin, admin_client):
    create(admin_client)
    create(admin_client)
    create(admin_client, name="New")
    assert sorted(Organisation.objects.values_list("slug", flat=True)) == [
        "new-2",
        "oxfam",
        "oxfam-2",
    ]


@pytest.mark.parametrize(
    "domains",
    ["gmail.com", "co.uk", "com", "example..org", "-bad.example", "exa mple.org\ngmail.com"],
)
def test_domains_anyone_can_have_are_refused(admin_client, domains):
    response = create(admin_client, email_domains=domains)
    assert response.status_code == 400
    assert not Organisation.objects.exists()


def test_the_name_is_required(admin_client):
    assert create(admin_client, name="   ").status_code == 400


def test_only_an_admin_edits_and_a_member_sees_no_edit(client, org, admin):
    member = make_user("mo@foe.example")
    Membership.objects.create(organisation=org, user=member, role="member")
    edit = reverse("organisation_edit", args=[org.slug])
    client.force_login(member)
    assert client.get(org.get_absolute_url()).status_code == 200
    assert client.get(edit).status_code == 403
    assert client.post(edit, {"name": "Hijacked"}).status_code == 403
    client.force_login(admin)
    response = client.post(edit, {"name": "Friends of the Earth International"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.name == "Friends of the Earth International"


def test_an_outsider_gets_404_for_every_organisation_page(client, org, admin):
    client.force_login(make_user("olga@elsewhere.example"))
    membership = Membership.objects.get(organisation=org)
    for url in [
        org.get_absolute_url(),
        reverse("organisation_edit", args=[org.slug]),
    ]:
        assert client.get(url).status_code == 404, url
    for url, data in [
        (
            reverse("organisation_invite_send", args=[org.slug]),
            {"email": "x@y.example", "role": "admin"},
        ),
        (reverse("organisation_member", args=[org.slug, membership.pk]), {"action": "remove"}),
        (reverse("organisation_edit", args=[org.slug]), {"name": "Mine now"}),
    ]:
        assert client.post(url, data).status_code == 404, url
    assert Membership.objects.filter(organisation=org).count() == 1
    assert not OrganisationInvite.objects.exists()


def test_a_signed_out_visitor_is_sent_to_log_in_from_every_organisation_page(client, org):
    for url in [
        reverse("organisations"),
        org.get_absolute_url(),
        reverse("organisation_edit", args=[org.slug]),
    ]:
        assert client.get(url)["Location"].startswith(reverse("account_login")), url


def test_a_png_logo_is_kept_under_a_new_name(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    response = create(admin_client, logo=SimpleUploadedFile("my logo.png", PNG, "image/png"))
    assert response.status_code == 302
    logo = Organisation.objects.get().logo
    assert logo.name.startswith("organisation-logos/") and logo.name.endswith(".png")
    assert "my logo" not in logo.name


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("logo.png", b"<svg onload=alert(1)></svg>"),  # not what it claims to be
        ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"),
        ("logo.html", PNG),
        ("big.png", PNG + b"\0" * 600_000),
    ],
)
def test_a_logo_that_is_not_a_small_image_is_refused(
    admin_client, settings, tmp_path, name, content
):
    settings.MEDIA_ROOT = tmp_path
    response = create(admin_client, logo=SimpleUploadedFile(name, content))
    assert response.status_code == 400
    assert not Organisation.objects.exists()


# --- Staffing: invitations and roles -------------------------------------------------------------


def invite(client, org, email="mo@foe.example", role="member"):
    return client.post(
        reverse("organisation_invite_send", args=[org.slug]), {"email": email, "role": role}
    )


def test_an_admin_invites_by_email_and_the_invitee_joins(admin_client, org, deliver):
    assert invite(admin_client, org).status_code == 302
    (mail,) = deliver()
    assert mail.to == ["mo@foe.example"]
    assert "Friends of the Earth" in mail.subject
    url = link(mail, "/orgs/invitations/")
    client = Client()

    member = make_user("mo@foe.example")
    client.force_login(member)
    page = client.get(url)
    assert b"Join Friends of the Earth" in page.content
    assert not Membership.objects.filter(user=member).exists(), "a GET changes nothing"
    assert client.post(url)["Location"] == org.get_absolute_url()
    assert Membership.objects.get(user=member).role == "member"
    assert client.post(url).status_code == 302, "accepting twice changes nothing"
    assert Membership.objects.filter(user=member).count() == 1


def test_inviting_an_address_again_resends_the_same_invitation(admin_client, org, deliver):
    invite(admin_client, org)
    invite(admin_client, org, email="MO@foe.example", role="admin")
    assert OrganisationInvite.objects.get().role == "admin"
    assert len(deliver()) == 2


def test_a_member_cannot_invite(client, org):
    member = make_user("mo@foe.example")
    Membership.objects.create(organisation=org, user=member, role="member")
    client.force_login(member)
    assert invite(client, org, email="friend@x.example", role="admin").status_code == 403
    assert not OrganisationInvite.objects.exists()


def test_only_the_account_with_the_invited_address_verified_can_accept(admin_client, org, deliver):
    invite(admin_client, org, role="admin")
    url = link(deliver()[0], "/orgs/invitations/")
    client = Client()

    assert b"Sign in" in client.get(url).content  # signed out: asked to sign in
    assert client.post(url).status_code == 200 and not Membership.objects.filter(role="member")

    forwarded_to = make_user("eve@elsewhere.example")
    client.force_login(forwarded_to)
    assert b"Only the account that has confirmed" in client.get(url).content
    assert client.post(url).status_code == 403

    unconfirmed = make_user("mo@foe.example", verified=False)
    client.force_login(unconfirmed)
    assert client.post(url).status_code == 403
    assert Membership.objects.filter(organisation=org).count() == 1


def test_a_used_invitation_lets_nobody_else_in(admin_client, org, deliver):
    invite(admin_client, org)
    url = link(deliver()[0], "/orgs/invitations/")
    client = Client()
    first = make_user("mo@foe.example")
    client.force_login(first)
    client.post(url)
    # The same address moves to another account (say, the first was deleted and re-made).
    EmailAddress.objects.filter(user=first).delete()
    second = make_user("mo2@foe.example")
    EmailAddress.objects.create(user=second, email="mo@foe.example", verified=True)
    client.force_login(second)
    assert client.post(url).status_code == 400
    assert not Membership.objects.filter(user=second).exists()


def test_a_tampered_invitation_link_is_refused(admin_client, org, deliver):
    invite(admin_client, org)
    url = link(deliver()[0], "/orgs/invitations/")
    token = url.rstrip("/").rsplit("/", 1)[1]
    bad = reverse("organisation_invite", args=[tamper(token)])
    assert admin_client.get(bad).status_code == 400
    assert admin_client.post(bad).status_code == 400
    assert not OrganisationInvite.objects.filter(accepted_at__isnull=False).exists()


def test_an_admin_promotes_a_member_and_the_last_admin_cannot_leave(admin_client, org, admin):
    member = make_user("mo@foe.example")
    membership = Membership.objects.create(organisation=org, user=member, role="member")
    mine = Membership.objects.get(user=admin)
    url = lambda m: reverse("organisation_member", args=[org.slug, m.pk])  # noqa: E731

    admin_client.post(url(mine), {"action": "role", "role": "member"})
    admin_client.post(url(mine), {"action": "remove"})
    mine.refresh_from_db()
    assert mine.role == "admin", "the last admin stays"

    admin_client.post(url(membership), {"action": "role", "role": "admin"})
    membership.refresh_from_db()
    assert membership.role == "admin"
    admin_client.post(url(mine), {"action": "remove"})
    assert not Membership.objects.filter(pk=mine.pk).exists(), "now there is another admin"


def test_a_member_cannot_change_roles_but_may_leave(client, org):
    member = make_user("mo@foe.example")
    membership = Membership.objects.create(organisation=org, user=member, role="member")
    client.force_login(member)
    url = reverse("organisation_member", args=[org.slug, membership.pk])
    assert client.post(url, {"action": "role", "role": "admin"}).status_code == 403
    membership.refresh_from_db()
    assert membership.role == "member"
    assert client.post(url, {"action": "remove"}).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


# --- Verification --------------------------------------------------------------------------------


def org_with_domains(admin, domains: str) -> Organisation:
    return services.create_organisation(user=admin, name="Domain Org", email_domains=domains)


@pytest.mark.parametrize(
    ("address", "domains", "verified"),
    [
        ("ada@foe.example", "foe.example", True),
        ("ada@uk.foe.example", "foe.example", True),  # subdomains count
        ("ada@FOE.example", "foe.example", True),
        ("ada@notfoe.example", "foe.example", False),  # look-alikes do not
        ("ada@foe.example.evil.test", "foe.example", False),
        ("ada@foe.example", "", False),
        ("ada@gmail.com", "gmail.com", False),  # even if stored past the form
    ],
)
def test_an_admin_with_a_verified_address_on_a_domain_verifies_it(address, domains, verified):
    admin = make_user(address)
    organisation = org_with_domains(admin, domains)
    assert organisation.is_verified is verified
    if verified:
        assert organisation.verified_via == "domain" and organisation.verified_at


def test_an_unverified_address_or_a_mere_member_verifies_nothing(org):
    make_user("x@members.example")  # not in the organisation
    unconfirmed_admin = make_user("una@members.example", verified=False)
    Membership.objects.create(organisation=org, user=unconfirmed_admin, role="admin")
    member = make_user("mo@members.example")
    Membership.objects.create(organisation=org, user=member, role="member")
    Organisation.objects.filter(pk=org.pk).update(email_domains="members.example")
    assert services.refresh_domain_verification(organisation_id=org.pk) is False


def test_adding_the_domain_on_the_edit_page_verifies_and_removing_it_takes_it_back(
    admin_client, org
):
    edit = reverse("organisation_edit", args=[org.slug])
    admin_client.post(edit, {"name": org.name, "email_domains": "foe.example"})
    org.refresh_from_db()
    assert org.is_verified
    admin_client.post(edit, {"name": org.name, "email_domains": "other.example"})
    org.refresh_from_db()
    assert not org.is_verified


def test_confirming_an_address_through_allauth_verifies_the_organisation(client, deliver):
    admin = make_user("ada@personal.example")
    organisation = services.create_organisation(user=admin, name="FoE", email_domains="foe.example")
    assert not organisation.is_verified
    client.force_login(admin)
    client.post(reverse("account_email"), {"email": "ada@foe.example", "action_add": ""})
    organisation.refresh_from_db()
    assert not organisation.is_verified, "added, not yet confirmed"
    confirm = link(deliver()[-1], "/accounts/confirm-email/")
    assert client.post(confirm).status_code == 302
    organisation.refresh_from_db()
    assert organisation.is_verified and organisation.verified_via == "domain"


def test_staff_verify_in_the_admin_and_that_survives_a_domain_change(admin_client, org):
    # Staff vouch for a domain the organisation names (checked some other way).
    Organisation.objects.filter(pk=org.pk).update(email_domains="friends.example")
    client = Client()
    staff = get_user_model().objects.create_superuser(email="staff@site.example", password=None)
    client.force_login(staff)
    response = client.post(
        reverse("admin:accounts_organisation_changelist"),
        {"action": "mark_verified", "_selected_action": [org.pk]},
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.is_verified and org.verified_via == "staff"
    assert org.verified_domain == "friends.example"
    admin_client.post(
        reverse("organisation_edit", args=[org.slug]),
        {"name": org.name, "email_domains": "whatever.example"},
    )
    org.refresh_from_db()
    assert org.is_verified


def test_a_non_staff_user_cannot_verify(admin_client, org):
    response = admin_client.post(
        reverse("admin:accounts_organisation_changelist"),
        {"action": "mark_verified", "_selected_action": [org.pk]},
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    org.refresh_from_db()
    assert not org.is_verified


# --- The whole journey through the web pages -----------------------------------------------------


def test_create_staff_co_sign_approve_list_and_withdraw_through_the_pages(
    client, django_user_model, make_letter, organiser, deliver
):
    letter = make_letter(accepts_organisations=True)
    founder_client, newcomer_client, organiser_client, reader = (
        Client(),
        Client(),
        Client(),
        Client(),
    )
    founder = make_user("founder@greenworks.example", name="Fran Founder")
    founder_client.force_login(founder)

    # The founder creates the organisation and invites a colleague.
    response = founder_client.post(
        reverse("organisation_create"),
        {
            "name": "Green Works",
            "website": "https://greenworks.example/",
            "email_domains": "greenworks.example",
        },
    )
    organisation = Organisation.objects.get()
    assert response["Location"] == organisation.get_absolute_url()
    assert organisation.is_verified, "the founder's confirmed address is on its domain"
    founder_client.post(
        reverse("organisation_invite_send", args=[organisation.slug]),
        {"email": "newcomer@greenworks.example", "role": "member"},
    )
    invitation = link(deliver()[-1], "/orgs/invitations/")

    # The colleague creates an allauth account with that address, confirms it, logs in, joins.
    assert b"Create an account" in newcomer_client.get(invitation).content
    newcomer_client.post(
        reverse("account_signup"),
        {"email": "newcomer@greenworks.example", "password1": PASSWORD, "password2": PASSWORD},
    )
    confirm = link(deliver()[-1], "/accounts/confirm-email/")
    assert newcomer_client.post(confirm).status_code == 302
    newcomer_client.post(
        reverse("account_login"), {"login": "newcomer@greenworks.example", "password": PASSWORD}
    )
    assert newcomer_client.post(invitation)["Location"] == organisation.get_absolute_url()
    newcomer = django_user_model.objects.get(email="newcomer@greenworks.example")

    # A member cannot co-sign; the founder makes them an admin, and then they can.
    cosign = reverse("cosign", args=[letter.slug])
    assert newcomer_client.post(cosign, {"organisation": organisation.slug}).status_code == 400
    membership = Membership.objects.get(user=newcomer)
    founder_client.post(
        reverse("organisation_member", args=[organisation.slug, membership.pk]),
        {"action": "role", "role": "admin"},
    )
    page = newcomer_client.get(letter.get_absolute_url()).content.decode()
    assert cosign in page, "the letter page offers co-signing"
    response = newcomer_client.post(
        cosign,
        {
            "organisation": organisation.slug,
            "display_name": "Green Works UK",
            "statement": "We stand with the workers.",
        },
    )
    assert response.status_code == 302
    assert "Green Works UK" not in reader.get(letter.get_absolute_url()).content.decode()

    # The organiser hears of it, and approves on the moderation page.
    from petition import tasks

    tasks.cosign_digest.apply(args=[letter.pk])
    digest = [m for m in deliver() if m.to == [organiser.email]][-1]
    moderate = link(digest, "/cosigners/")
    organiser_client.force_login(organiser)
    assert b"Green Works UK" in organiser_client.get(moderate).content
    cosignature = CoSignature.objects.get()
    organiser_client.post(
        reverse("cosigner_action", args=[letter.slug, cosignature.pk]), {"action": "approve"}
    )
    approvals = [m for m in deliver() if "is listed" in m.subject]
    assert sorted(m.to[0] for m in approvals) == [
        "founder@greenworks.example",
        "newcomer@greenworks.example",
    ]

    # Listed, with its link, statement and verified mark; counted apart from people.
    page = reader.get(letter.get_absolute_url()).content.decode()
    website = '<a href="https://greenworks.example/" rel="nofollow noopener noreferrer">'
    assert website + "Green Works UK</a>" in page
    assert "We stand with the workers." in page
    assert "verified: controls greenworks.example" in page
    assert Tally.objects.get(letter=letter).cosigners == 1
    assert Tally.objects.get(letter=letter).verified == 0

    # An admin withdraws from the organisation's page; the listing and the count follow.
    org_page = founder_client.get(organisation.get_absolute_url()).content.decode()
    assert "Withdraw from" in org_page
    founder_client.post(
        reverse("cosign_withdraw", args=[letter.slug]),
        {"organisation": organisation.slug, "next": "organisation"},
    )
    assert "Green Works UK" not in reader.get(letter.get_absolute_url()).content.decode()
    assert Tally.objects.get(letter=letter).cosigners == 0
    assert CoSignature.objects.get().status == "withdrawn"


def test_organisation_pages_pass_the_markup_rules(admin_client, org, make_letter):
    """No inline script or style (CSP forbids them), and every form field has a label."""
    letter = make_letter(accepts_organisations=True)
    pages = [
        reverse("organisations"),
        reverse("organisation_create"),
        org.get_absolute_url(),
        reverse("organisation_edit", args=[org.slug]),
        reverse("cosign", args=[letter.slug]),
        letter.get_absolute_url(),
    ]
    for url in pages:
        html = admin_client.get(url).content.decode()
        assert "<script>" not in html and " style=" not in html and "<style" not in html, url
        for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
            if 'type="hidden"' in html.split(f'id="{field_id}"')[0].rsplit("<", 1)[1]:
                continue
            assert f'for="{field_id}"' in html, f"{url}: #{field_id} has no label"


def test_the_moderation_page_passes_the_markup_rules(client, organiser, make_letter, org, admin):
    from petition import services as petition_services

    letter = make_letter(accepts_organisations=True)
    cosignature = petition_services.cosign(letter=letter, organisation_id=org.pk, user=admin)
    petition_services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    client.force_login(organiser)
    html = client.get(reverse("cosigners_moderate", args=[letter.slug])).content.decode()
    assert " style=" not in html and "<script>" not in html
    for field_id in re.findall(r'<input[^>]*type="number"[^>]*id="([^"]+)"', html):
        assert f'for="{field_id}"' in html
