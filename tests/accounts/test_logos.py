"""Organisation logos: type-checked by content and made small on upload, then served from the
media storage (local by default, S3-compatible through django-storages)."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from accounts.models import Organisation
from config.settings import media_storage_from_env
from petition import services

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def image_file(name: str, size=(1200, 600), format="PNG") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=format)
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def create(client, organiser, logo) -> object:
    client.force_login(organiser)
    return client.post(reverse("organisation_create"), {"name": "Allied Campaign", "logo": logo})


def test_an_uploaded_logo_is_resized_to_a_png_and_served(client, organiser):
    assert create(client, organiser, image_file("big.jpg", format="JPEG")).status_code == 302
    organisation = Organisation.objects.get()
    assert organisation.logo.name.endswith(".png")
    with default_storage.open(organisation.logo.name) as stored, Image.open(stored) as image:
        assert image.format == "PNG" and image.size == (256, 128)

    client.logout()  # public: the co-signer list shows it to every reader
    response = client.get(organisation.logo.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "immutable" in response["Cache-Control"]
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("logo.png", b"GIF89a" + b"\0" * 64, content_type="image/png"),
        SimpleUploadedFile("logo.png", b"\x89PNG\r\n\x1a\n" + b"junk" * 20),
        SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>", content_type="image/png"),
    ],
    ids=["gif-named-png", "png-header-then-junk", "svg"],
)
def test_a_file_that_is_not_a_png_jpeg_or_webp_is_refused_with_a_message(client, organiser, upload):
    response = create(client, organiser, upload)
    assert response.status_code == 400
    assert "The logo must be a PNG, JPEG or WebP image." in response.content.decode()
    assert not Organisation.objects.exists()


def test_only_a_current_logo_is_served(client, organiser):
    create(client, organiser, image_file("a.png"))
    organisation = Organisation.objects.get()
    old_url = organisation.logo.url
    response = client.post(
        reverse("organisation_edit", args=[organisation.slug]),
        {"name": organisation.name, "logo": image_file("b.png")},
    )
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert client.get(organisation.logo.url).status_code == 200
    assert client.get(old_url).status_code == 404
    assert client.get("/media/organisation-logos/../../settings.py").status_code == 404


def test_the_letter_lists_a_co_signer_with_its_logo(client, organiser, make_letter):
    create(client, organiser, image_file("a.png"))
    organisation = Organisation.objects.get()
    letter = make_letter(accepts_organisations=True, auto_approve_verified_orgs=False)
    cosignature = services.cosign(letter=letter, organisation_id=organisation.pk, user=organiser)
    services.approve_cosign(cosignature_id=cosignature.pk, by=organiser)
    html = client.get(letter.get_absolute_url()).content.decode()
    assert f'src="{organisation.logo.url}"' in html


def test_media_storage_is_local_by_default_and_s3_compatible_from_the_environment(monkeypatch):
    from storages.backends.s3 import S3Storage

    monkeypatch.delenv("MEDIA_STORAGE", raising=False)
    assert media_storage_from_env()["BACKEND"].endswith("FileSystemStorage")
    monkeypatch.setenv("MEDIA_STORAGE", "s3")
    monkeypatch.setenv("S3_BUCKET", "logos")
    monkeypatch.setenv("S3_ENDPOINT_URL", "https://s3.example.org")
    monkeypatch.setenv("S3_CUSTOM_DOMAIN", "media.example.org")
    config = media_storage_from_env()
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    storage = S3Storage(**config["OPTIONS"])
    assert storage.url("organisation-logos/x.png") == (
        "https://media.example.org/organisation-logos/x.png"
    )
