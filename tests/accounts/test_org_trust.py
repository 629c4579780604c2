"""What the verified-organisation mark proves, and the attacks on it: a forged name with a domain
the forger owns, a website off the proven domain, throwaway domains, auto-approval of names
nobody confirmed; and invitations that can be taken back."""

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Membership, Organisation, OrganisationInvite, OrganisationVerification
from lib import maildomains
from petition import services as petition_services
from petition.forms import signing as petition_forms
from petition.models import CoSignature, Organiser, OrganiserInvite

pytestmark = pytest.mark.django_db


def make_user(email: str, *, verified: bool = True, **fields):
    user = get_user_model().objects.create_user(email=email, password=None, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def link(message, part: str) -> str:
    url = re.search(r"https?://\S+" + re.escape(part) + r"\S*", message.body).group(0)
    parts = urlsplit(url)
    return parts.path


@pytest.fixture
def forger():
    return make_user("boss@forged-amnesty.example")


@pytest.fixture
def forged(forger):
    """Anyone can name an organisation anything and prove a domain they own."""
    return services.create_organisation(
        user=forger,
        name="Amnesty International",
        email_domains="forged-amnesty.example",
        website="https://www.forged-amnesty.example/",
    )


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser(email="staff@site.example", password=None)


@pytest.fixture
def staff(superuser) -> Client:
    return logged_in(superuser)


def approve(letter, organisation, user):
    cosignature = petition_services.cosign(
        letter=letter, organisation_id=organisation.pk, user=user
    )
    petition_services.approve_cosign(cosignature_id=cosignature.pk, by=letter.created_by)
    return cosignature


# --- The mark says which domain was proven, wherever it appears ---


def test_the_letter_page_names_the_proven_domain_beside_the_mark(
    client, make_letter, forged, forger
):
    letter = make_letter(accepts_organisations=True)
    approve(letter, forged, forger)
    page = client.get(letter.get_absolute_url()).content.decode()
    assert "verified: controls forged-amnesty.example" in page


def test_the_api_names_the_proven_domain(client, make_letter, forged, forger):
    letter = make_letter(accepts_organisations=True)
    approve(letter, forged, forger)
    data = client.get(reverse("api_cosigners", args=[letter.slug])).json()
    assert data["results"][0]["verified"] is True
    assert data["results"][0]["verified_domain"] == "forged-amnesty.example"
    schema = client.get(reverse("api_openapi")).json()["components"]["schemas"]["CoSigner"]
    assert "verified_domain" in schema["required"]


def test_an_unverified_organisation_has_no_domain_in_the_api(client, make_letter):
    user = make_user("ann@personal.example")
    organisation = services.create_organisation(user=user, name="Unproven")
    letter = make_letter(accepts_organisations=True)
    approve(letter, organisation, user)
    result = client.get(reverse("api_cosigners", args=[letter.slug])).json()["results"][0]
    assert result["verified"] is False and result["verified_domain"] is None


def test_the_organisation_page_and_moderation_page_name_the_domain(
    make_letter, forged, forger, organiser
):
    page = logged_in(forger).get(forged.get_absolute_url()).content.decode()
    assert "verified: controls forged-amnesty.example" in page
    listing = logged_in(forger).get(reverse("organisations")).content.decode()
    assert "verified: controls forged-amnesty.example" in listing
    letter = make_letter(accepts_organisations=True)
    petition_services.cosign(letter=letter, organisation_id=forged.pk, user=forger)
    moderation = logged_in(organiser).get(reverse("cosigners_moderate", args=[letter.slug]))
    assert "verified: controls forged-amnesty.example" in moderation.content.decode()


# --- The website must be on the proven domain ---


@pytest.mark.parametrize(
    "website",
    [
        "https://amnesty.org/",
        "https://forged-amnesty.example.evil.test/",
        "https://notforged-amnesty.example/",
        "https://forged-amnesty.example@amnesty.org/",
    ],
)
def test_a_website_off_the_organisations_domains_is_refused(forger, website):
    response = logged_in(forger).post(
        reverse("organisation_create"),
        {"name": "Amnesty International", "email_domains": "forged-amnesty.example",
         "website": website},
    )  # fmt: skip
    assert response.status_code == 400
    assert "must be on one of the organisation" in response.content.decode()
    assert not Organisation.objects.exists()


@pytest.mark.parametrize(
    "website", ["https://forged-amnesty.example/", "https://www.forged-amnesty.example/about"]
)
def test_a_website_on_the_domain_or_a_subdomain_is_accepted(forger, website):
    response = logged_in(forger).post(
        reverse("organisation_create"),
        {"name": "Amnesty International", "email_domains": "forged-amnesty.example",
         "website": website},
    )  # fmt: skip
    assert response.status_code == 302
    assert Organisation.objects.get().public_website == website


def test_a_website_on_a_domain_not_yet_proven_is_not_shown(client, make_letter):
    user = make_user("ann@personal.example")
    organisation = services.create_organisation(
        user=user,
        name="Amnesty",
        email_domains="amnesty.example",
        website="https://amnesty.example/",
    )
    assert not organisation.is_verified
    letter = make_letter(accepts_organisations=True)
    approve(letter, organisation, user)
    page = client.get(letter.get_absolute_url()).content.decode()
    assert "Amnesty" in page and "https://amnesty.example/" not in page
    result = client.get(reverse("api_cosigners", args=[letter.slug])).json()["results"][0]
    assert result["website"] is None


def test_a_website_stored_past_the_form_is_not_shown_off_the_proven_domain(
    client, make_letter, forged, forger
):
    Organisation.objects.filter(pk=forged.pk).update(website="https://amnesty.org/")
    letter = make_letter(accepts_organisations=True)
    approve(letter, forged, forger)
    page = client.get(letter.get_absolute_url()).content.decode()
    assert "https://amnesty.org/" not in page
    assert (
        client.get(reverse("api_cosigners", args=[letter.slug])).json()["results"][0]["website"]
        is None
    )


# --- Throwaway and public-mail domains prove nothing ---


def test_the_sign_form_and_organisations_share_one_disposable_list():
    assert petition_forms.is_disposable is maildomains.is_disposable
    assert not hasattr(petition_forms, "DISPOSABLE_DOMAINS"), "one list, not a copy"
    assert maildomains.is_disposable("eu.mailinator.com")


@pytest.mark.parametrize(
    "domain", ["mailinator.com", "eu.mailinator.com", "yopmail.com", "gmail.com"]
)
def test_a_disposable_or_public_mail_domain_is_refused_on_the_form(domain):
    user = make_user(f"me@{domain}")
    response = logged_in(user).post(
        reverse("organisation_create"), {"name": "Amnesty International", "email_domains": domain}
    )
    assert response.status_code == 400
    assert not Organisation.objects.exists()


@pytest.mark.parametrize("domain", ["mailinator.com", "eu.mailinator.com", "sharklasers.com"])
def test_a_disposable_domain_stored_past_the_form_verifies_nothing(domain):
    user = make_user(f"me@{domain}")
    organisation = services.create_organisation(user=user, name="Amnesty International")
    Organisation.objects.filter(pk=organisation.pk).update(email_domains=domain)
    assert services.refresh_domain_verification(organisation_id=organisation.pk) is False
    organisation.refresh_from_db()
    assert not organisation.is_verified and not organisation.verified_domain


# --- Auto-approval only for names site staff confirmed ---


def test_a_verified_but_unconfirmed_name_waits_even_where_the_letter_auto_approves(
    client, make_letter, forged, forger
):
    letter = make_letter(accepts_organisations=True, auto_approve_verified_orgs=True)
    assert forged.is_verified
    cosignature = petition_services.cosign(letter=letter, organisation_id=forged.pk, user=forger)
    assert cosignature.status == CoSignature.Status.PENDING
    assert "Amnesty International" not in client.get(letter.get_absolute_url()).content.decode()


def test_staff_confirm_the_name_in_the_admin_and_then_it_is_approved_at_once(
    make_letter, forged, forger, staff, superuser
):
    response = staff.post(
        reverse("admin:accounts_organisation_changelist"),
        {"action": "confirm_name", "_selected_action": [forged.pk]},
    )
    assert response.status_code == 302
    forged.refresh_from_db()
    assert forged.name_confirmed and forged.name_confirmed_by == superuser
    assert forged.name_confirmed_at is not None
    letter = make_letter(accepts_organisations=True, auto_approve_verified_orgs=True)
    cosignature = petition_services.cosign(letter=letter, organisation_id=forged.pk, user=forger)
    assert cosignature.status == CoSignature.Status.APPROVED


def test_a_confirmed_organisation_listed_under_another_name_waits(make_letter, forged, forger):
    services.confirm_name(organisation_id=forged.pk, by=forger)
    letter = make_letter(accepts_organisations=True, auto_approve_verified_orgs=True)
    cosignature = petition_services.cosign(
        letter=letter, organisation_id=forged.pk, user=forger, display_name="Greenpeace"
    )
    assert cosignature.status == CoSignature.Status.PENDING


def test_renaming_an_organisation_drops_the_staff_confirmation(forged, forger, superuser):
    services.confirm_name(organisation_id=forged.pk, by=superuser)
    logged_in(forger).post(
        reverse("organisation_edit", args=[forged.slug]),
        {"name": "Greenpeace", "email_domains": "forged-amnesty.example"},
    )
    forged.refresh_from_db()
    assert forged.name == "Greenpeace" and not forged.name_confirmed
    assert forged.name_confirmed_by is None and forged.name_confirmed_at is None


def test_a_non_staff_user_cannot_confirm_a_name(forged, forger):
    response = logged_in(forger).post(
        reverse("admin:accounts_organisation_changelist"),
        {"action": "confirm_name", "_selected_action": [forged.pk]},
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    forged.refresh_from_db()
    assert not forged.name_confirmed


def test_the_admin_form_cannot_set_the_confirmation_or_the_mark(forged, staff):
    url = reverse("admin:accounts_organisation_change", args=[forged.pk])
    page = staff.get(url).content.decode()
    for field in ("name_confirmed", "is_verified", "verified_domain"):
        assert f'name="{field}"' not in page


# --- Who verified what, when and how ---


def test_an_email_verification_leaves_a_record_staff_can_read(client, deliver, staff):
    admin = make_user("ada@personal.example")
    organisation = services.create_organisation(user=admin, name="FoE", email_domains="foe.example")
    client.force_login(admin)
    client.post(reverse("account_email"), {"email": "ada@foe.example", "action_add": ""})
    client.post(link(deliver()[-1], "/accounts/confirm-email/"))
    record = OrganisationVerification.objects.get(organisation=organisation)
    assert record.user == admin and record.domain == "foe.example"
    assert record.method == OrganisationVerification.Method.EMAIL
    assert record.address == "ada@foe.example" and record.created_at
    page = staff.get(reverse("admin:accounts_organisation_change", args=[organisation.pk]))
    html = page.content.decode()
    assert "email link to ada@foe.example" in html and "foe.example" in html


def test_losing_the_domain_is_recorded_too(forged, forger):
    services.update_organisation(organisation=forged, by=forger, email_domains="other.example")
    forged.refresh_from_db()
    assert not forged.is_verified and not forged.verified_domain
    events = list(
        OrganisationVerification.objects.filter(organisation=forged)
        .order_by("pk")
        .values_list("event", flat=True)
    )
    assert events == ["granted", "withdrawn"]


def test_verification_records_are_read_only_in_the_admin(forged, staff):
    record = OrganisationVerification.objects.get(organisation=forged)
    assert staff.get(reverse("admin:accounts_organisationverification_add")).status_code == 403
    change = reverse("admin:accounts_organisationverification_change", args=[record.pk])
    staff.post(change, {"domain": "amnesty.org", "address": "x@amnesty.org"})
    record.refresh_from_db()
    assert record.domain == "forged-amnesty.example"
    delete = reverse("admin:accounts_organisationverification_delete", args=[record.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert OrganisationVerification.objects.filter(pk=record.pk).exists()


# --- Invitations can be taken back ---


@pytest.fixture
def org_invite(forged, forger, deliver):
    services.invite(
        organisation=forged, email="new@forged-amnesty.example", role="admin", by=forger
    )
    return OrganisationInvite.objects.get(), link(deliver()[-1], "/orgs/invitations/")


def revoke_url(invite) -> str:
    return reverse("organisation_invite_revoke", args=[invite.organisation.slug, invite.pk])


def test_an_admin_revokes_an_invitation_and_its_link_then_says_so(forged, forger, org_invite):
    invite, url = org_invite
    assert logged_in(forger).post(revoke_url(invite)).status_code == 302
    invite.refresh_from_db()
    assert invite.revoked_at is not None and invite.revoked_by == forger
    invitee = make_user("new@forged-amnesty.example")
    client = logged_in(invitee)
    response = client.get(url)
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()
    assert client.post(url).status_code == 410
    assert not Membership.objects.filter(user=invitee).exists()
    page = logged_in(forger).get(forged.get_absolute_url()).content.decode()
    assert "new@forged-amnesty.example" not in page


def test_a_member_or_an_outsider_cannot_revoke(forged, org_invite):
    invite, _url = org_invite
    member = make_user("mo@forged-amnesty.example")
    Membership.objects.create(organisation=forged, user=member, role="member")
    assert logged_in(member).post(revoke_url(invite)).status_code == 403
    assert logged_in(make_user("out@elsewhere.example")).post(revoke_url(invite)).status_code == 404
    invite.refresh_from_db()
    assert invite.revoked_at is None


def test_an_address_can_be_invited_again_after_a_revocation(forged, forger, org_invite, deliver):
    invite, old_url = org_invite
    logged_in(forger).post(revoke_url(invite))
    services.invite(
        organisation=forged, email="new@forged-amnesty.example", role="member", by=forger
    )
    new_url = link(deliver()[-1], "/orgs/invitations/")
    invitee = logged_in(make_user("new@forged-amnesty.example"))
    assert invitee.post(old_url).status_code == 410
    assert invitee.post(new_url).status_code == 302
    assert Membership.objects.get(user__email="new@forged-amnesty.example").role == "member"


def test_an_accepted_invitation_cannot_be_revoked(forged, forger, org_invite):
    invite, url = org_invite
    logged_in(make_user("new@forged-amnesty.example")).post(url)
    logged_in(forger).post(revoke_url(invite))
    invite.refresh_from_db()
    assert invite.revoked_at is None
    assert Membership.objects.filter(user__email="new@forged-amnesty.example").exists()


@pytest.fixture
def team_invite(letter, organiser, deliver):
    petition_services.invite_organiser(
        letter_id=letter.pk, actor=organiser, email="ed@example.org", role="editor"
    )
    return OrganiserInvite.objects.get(), link(deliver()[-1], "/manage/invites/")


def test_an_owner_revokes_a_team_invitation_and_its_link_then_says_so(
    letter, organiser, team_invite
):
    invite, url = team_invite
    revoke = reverse("organiser:revoke_invite", args=[letter.slug, invite.pk])
    assert logged_in(organiser).post(revoke).status_code == 302
    invite.refresh_from_db()
    assert invite.revoked_at is not None
    editor = logged_in(make_user("ed@example.org"))
    response = editor.get(url)
    assert response.status_code == 410 and "withdrawn" in response.content.decode()
    assert editor.post(url).status_code == 410
    assert not Organiser.objects.filter(user__email="ed@example.org").exists()
    team = logged_in(organiser).get(reverse("organiser:team", args=[letter.slug]))
    assert "ed@example.org" not in team.content.decode()


def test_an_editor_cannot_revoke_a_team_invitation(letter, team_invite):
    invite, _url = team_invite
    editor = make_user("other-ed@example.org")
    Organiser.objects.create(letter=letter, user=editor, role="editor")
    revoke = reverse("organiser:revoke_invite", args=[letter.slug, invite.pk])
    assert logged_in(editor).post(revoke).status_code == 403
    invite.refresh_from_db()
    assert invite.revoked_at is None
