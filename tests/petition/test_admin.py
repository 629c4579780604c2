"""The Django admin, through its pages as a superuser: it never shows a private signer's name or
email (pending ones included), and nothing in it moves a count, the log or a version."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from petition.models import Level, Signature, Tally
from tests.conftest import pending_signature, verified_signature

pytestmark = pytest.mark.django_db

SECRETS = ("Zqprivatename", "zqprivate@example.com")


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser(email="staff@site.example", password=None)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def private_pending(letter):
    return pending_signature(
        letter, "zqprivate@example.com", name="Zqprivatename", visibility=Level.PRIVATE
    )


def change_url(signature) -> str:
    return reverse("admin:petition_signature_change", args=[signature.pk])


def test_the_list_never_shows_a_pending_private_signers_name_or_email(staff, private_pending):
    html = staff.get(reverse("admin:petition_signature_changelist")).content.decode()
    assert f">{private_pending.pk}<" in html or str(private_pending.pk) in html
    for secret in SECRETS:
        assert secret.lower() not in html.lower()


def test_searching_by_a_private_signers_name_or_email_finds_nothing(staff, private_pending, letter):
    verified_signature(letter, "zqpublic@example.com", name="Zqpublicname")
    changelist = reverse("admin:petition_signature_changelist")
    for term in ("zqprivate@example.com", "Zqprivatename"):
        html = staff.get(changelist, {"q": term}).content.decode()
        assert "0 signatures" in html, term
    assert "1 signature" in staff.get(changelist, {"q": "Zqpublicname"}).content.decode()


def test_the_detail_page_never_shows_a_pending_private_signers_name_or_email(
    staff, private_pending
):
    response = staff.get(change_url(private_pending))
    assert response.status_code == 200
    for secret in SECRETS:
        assert secret.lower() not in response.content.decode().lower()


def test_an_anonymous_signers_name_stays_visible_to_staff_as_to_organisers(staff, letter):
    signature = pending_signature(
        letter, "zqanon@example.com", name="Zqanonname", visibility=Level.ANONYMOUS
    )
    assert "Zqanonname" in staff.get(change_url(signature)).content.decode()


def test_the_admin_cannot_change_what_counts(staff, letter):
    signature = verified_signature(letter, "zqpublic@example.com", name="Zqpublicname")
    tally_before = list(Tally.objects.filter(letter=letter).values())
    other = letter.versions.order_by("number").first()
    response = staff.post(
        change_url(signature),
        {
            "letter": letter.pk,
            "version": other.pk,
            "name": "Zqpublicname",
            "email": "zqpublic@example.com",
            "email_hash": "0" * 64,
            "visibility": "private",
            "status": "withdrawn",
            "is_hidden": "on",
            "is_verified_employee": "on",
            "employer_domain": "example.com",
            "log_ref": "f" * 64,
        },
    )
    assert response.status_code in (302, 403)
    after = Signature.objects.get(pk=signature.pk)
    assert (after.status, after.visibility, after.is_hidden) == ("verified", "public", False)
    assert after.email_hash == signature.email_hash and after.log_ref == signature.log_ref
    assert after.is_verified_employee == signature.is_verified_employee
    assert list(Tally.objects.filter(letter=letter).values()) == tally_before
    page = staff.get(change_url(signature)).content.decode()
    for field in (
        "status",
        "visibility",
        "letter",
        "version",
        "email_hash",
        "is_hidden",
        "log_ref",
        "is_verified_employee",
        "employer_domain",
        "verified_at",
    ):
        assert f'name="{field}"' not in page, field  # fmt: skip


def test_the_admin_cannot_add_or_delete_signatures(staff, letter):
    signature = verified_signature(letter, "zqpublic@example.com", name="Zqpublicname")
    assert staff.get(reverse("admin:petition_signature_add")).status_code == 403
    delete = reverse("admin:petition_signature_delete", args=[signature.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:petition_signature_changelist")
    staff.post(changelist, {"action": "delete_selected", "_selected_action": [signature.pk],
                            "post": "yes"})  # fmt: skip
    assert Signature.objects.filter(pk=signature.pk).exists()
    assert Tally.objects.get(letter=letter).verified == 1


def test_the_admin_cannot_rewrite_a_published_letter_or_delete_its_tally(staff, letter):
    url = reverse("admin:petition_letter_change", args=[letter.pk])
    page = staff.get(url).content.decode()
    for field in ("status", "body", "title", "published_at"):
        assert f'name="{field}"' not in page, field
    tally = reverse("admin:petition_tally_delete", args=[letter.pk])
    assert staff.post(tally, {"post": "yes"}).status_code == 403
    assert Tally.objects.filter(letter=letter).exists()
