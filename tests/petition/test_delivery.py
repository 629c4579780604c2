"""Deliveries: a frozen letter, its documents, its public page, and checks of its count."""

import csv
import io
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from pypdf import PdfReader

from lib import signed_note
from petition import deliveries, delivery_documents, services, tlog
from petition.models import Delivery, DeliveryName, Level, Organiser, Signature, Update
from tests.conftest import free_port, pending_signature, verified_signature
from tests.petition.test_cosign import approved_cosigner

pytestmark = pytest.mark.django_db

PUBLIC = ["Ottoline Quarrington", "Bartholomew Fenwick-Oyelaran", "Zinnia Achterberg"]
ANONYMOUS = "Marguerite Anonymousperson"
PRIVATE = "Theodora Privatesigner"
HIDDEN = "Spammy McSpamface"


@pytest.fixture
def coalition(make_letter):
    letter = make_letter(
        accepts_organisations=True,
        employer_domains="example.com",
        body="We ask the **board** to stop selling FaceFinder to the police.",
    )
    for n, name in enumerate(PUBLIC):
        verified_signature(
            letter, f"p{n}@example.com", name=name, affiliation="Example Corp",
            show_affiliation=True,
        )  # fmt: skip
    verified_signature(letter, "anon@example.com", name=ANONYMOUS, visibility=Level.ANONYMOUS)
    verified_signature(letter, "priv@example.org", name=PRIVATE, visibility=Level.PRIVATE)
    hidden = verified_signature(letter, "spam@example.org", name=HIDDEN)
    services.hide_signature(
        letter_id=letter.pk, signature_id=hidden.pk, actor=letter.created_by, reason="spam"
    )
    for n, name in enumerate(["Alpha Alliance", "Beta Union", "Zeta Coalition"]):
        cosignature = approved_cosigner(letter, name, n)
        if name == "Zeta Coalition":
            services.pin_cosign(cosignature_id=cosignature.pk, position=1)
    return letter


@pytest.fixture
def organiser_client(client, organiser):
    client.force_login(organiser)
    return client


def prepare(client, letter, django_capture_on_commit_callbacks, **fields) -> Delivery:
    data = {
        "addressee": "The Board of Example Corp",
        "cover_note": "Handed over at the annual meeting.",
        "include_names": "on",
        "include_organisations": "on",
        "include_counts": "on",
        **fields,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("organiser:deliveries", args=[letter.slug]), data)
    assert response.status_code == 302, response.content
    return Delivery.objects.filter(letter=letter).latest("created_at")


def download(client, letter, delivery, name: str) -> bytes:
    url = reverse("organiser:delivery_file", args=[letter.slug, delivery.code, name])
    response = client.get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", ["a4.pdf", "letter.pdf"])
def test_the_pdf_holds_the_letter_organisations_in_order_public_names_and_the_checkpoint(
    organiser_client, coalition, django_capture_on_commit_callbacks, name
):
    delivery = prepare(organiser_client, coalition, django_capture_on_commit_callbacks)
    assert delivery.status == Delivery.Status.READY
    text = flat(pdf_text(download(organiser_client, coalition, delivery, name)))

    assert "We ask the board to stop selling FaceFinder to the police." in text
    assert "Handed over at the annual meeting." in text
    # Leads first in the pinned order, then the others as filed.
    assert text.index("Zeta Coalition") < text.index("Alpha Alliance") < text.index("Beta Union")
    for public in PUBLIC:
        assert public in text
    for hidden in (ANONYMOUS, PRIVATE, HIDDEN):
        assert hidden not in text
    # The checkpoint the log signed, on the page and in the footer of every page.
    verified = tlog.signer().verifier().verify(delivery.checkpoint_note)
    _, size, root = signed_note.parse_checkpoint(verified)
    assert size == delivery.checkpoint_size == coalition.tally.log_size
    assert root.hex() == delivery.checkpoint_root
    for page in PdfReader(io.BytesIO(download(organiser_client, coalition, delivery, name))).pages:
        assert root.hex() in flat(page.extract_text()).replace(" ", "")
    assert "5 verified signatures" in text  # 3 public, 1 anonymous, 1 private; not the hidden
    assert delivery.short_url in text


def test_the_csv_and_print_page_list_exactly_the_public_names(
    organiser_client, coalition, django_capture_on_commit_callbacks
):
    delivery = prepare(organiser_client, coalition, django_capture_on_commit_callbacks)
    rows = list(
        csv.reader(
            io.StringIO(
                download(organiser_client, coalition, delivery, "names.csv").decode("utf-8-sig")
            )
        )
    )
    assert sorted(row[0] for row in rows[1:]) == sorted(PUBLIC)
    assert all(row[1] == "Example Corp" for row in rows[1:])
    page = download(organiser_client, coalition, delivery, "print.html").decode()
    for public in PUBLIC:
        assert public in page
    for hidden in (ANONYMOUS, PRIVATE, HIDDEN):
        assert hidden not in page
    assert delivery.checkpoint_root in page


def test_a_delivery_with_counts_only_names_nobody(
    organiser_client, coalition, django_capture_on_commit_callbacks
):
    delivery = prepare(
        organiser_client, coalition, django_capture_on_commit_callbacks, include_names=""
    )
    text = pdf_text(download(organiser_client, coalition, delivery, "a4.pdf"))
    assert not any(name in text for name in PUBLIC)
    assert delivery.names_count == 0 and delivery.verified == 5


def test_a_withdrawal_after_delivery_stays_in_it_and_leaves_the_next(
    organiser_client, coalition, django_capture_on_commit_callbacks
):
    first = prepare(organiser_client, coalition, django_capture_on_commit_callbacks)
    leaving = Signature.objects.get(letter=coalition, name=PUBLIC[0])
    services.withdraw(signature_id=leaving.pk)
    second = prepare(organiser_client, coalition, django_capture_on_commit_callbacks)
    assert PUBLIC[0] in pdf_text(download(organiser_client, coalition, first, "a4.pdf"))
    assert PUBLIC[0] not in pdf_text(download(organiser_client, coalition, second, "a4.pdf"))
    assert (first.verified, second.verified) == (5, 4)
    assert second.checkpoint_size == first.checkpoint_size + 1


def test_the_server_never_fetches_what_the_letter_links_to(
    organiser_client, make_letter, django_capture_on_commit_callbacks
):
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = free_port()
    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        letter = make_letter(body=f"![x](http://127.0.0.1:{port}/image.png) Stop it.")
        delivery = prepare(organiser_client, letter, django_capture_on_commit_callbacks)
    finally:
        server.shutdown()
    assert delivery.status == Delivery.Status.READY
    assert hits == []


def test_viewers_cannot_prepare_and_outsiders_see_nothing(
    client, coalition, django_user_model, django_capture_on_commit_callbacks
):
    viewer = django_user_model.objects.create_user(email="viewer@example.org")
    Organiser.objects.create(letter=coalition, user=viewer, role=Organiser.Role.VIEWER)
    client.force_login(viewer)
    url = reverse("organiser:deliveries", args=[coalition.slug])
    assert client.post(url, {"addressee": "X"}).status_code == 403
    outsider = django_user_model.objects.create_user(email="outsider@example.org")
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert not Delivery.objects.exists()


def test_a_delivery_is_public_only_once_delivered_and_tells_the_signers(
    organiser_client, coalition, django_capture_on_commit_callbacks
):
    delivery = prepare(organiser_client, coalition, django_capture_on_commit_callbacks)
    public = reverse("delivery", args=[delivery.code])
    assert organiser_client.get(public).status_code == 404
    assert (
        organiser_client.get(reverse("delivery_file", args=[delivery.code, "a4.pdf"])).status_code
        == 404
    )
    url = reverse("organiser:delivery_delivered", args=[coalition.slug, delivery.code])
    form = {
        "delivered_to": "The Board",
        "tell_signers": "on",
        "subject": "Delivered",
        "body": "We did it.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert organiser_client.post(url, form).status_code == 302
    page = organiser_client.get(public)
    assert page.status_code == 200
    assert b"Check this count" in page.content and b"The Board" in page.content
    assert Update.objects.filter(letter=coalition, subject="Delivered").count() == 1
    # Marking it again changes nothing and sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        organiser_client.post(url, form)
    assert Update.objects.filter(letter=coalition).count() == 1
    listing = organiser_client.get(reverse("letter_deliveries", args=[coalition.slug]))
    assert public.encode() in listing.content
    summary = organiser_client.get(reverse("delivery_json", args=[delivery.code])).json()
    assert (
        summary["counts"]["verified"] == 5
        and summary["checkpoint"]["size"] == delivery.checkpoint_size
    )


def test_an_update_needs_a_subject_and_a_message(
    organiser_client, coalition, django_capture_on_commit_callbacks
):
    delivery = prepare(organiser_client, coalition, django_capture_on_commit_callbacks)
    url = reverse("organiser:delivery_delivered", args=[coalition.slug, delivery.code])
    response = organiser_client.post(url, {"delivered_to": "The Board", "tell_signers": "on"})
    assert response.status_code == 400
    delivery.refresh_from_db()
    assert delivery.delivered_at is None


def test_the_names_copied_are_the_counted_public_ones(coalition):
    delivery = deliveries.prepare(
        letter_id=coalition.pk, actor=None, addressee="X", cover_note="",
        include_names=True, include_organisations=True, include_counts=True,
    )  # fmt: skip
    names = list(
        DeliveryName.objects.filter(delivery=delivery)
        .order_by("position")
        .values_list("name", flat=True)
    )
    assert names == sorted(PUBLIC, key=str.lower)
    pending_signature(coalition, "late@example.com", name="Late Pending")
    assert delivery.public == 3 and delivery.anonymous == 1 and delivery.private == 1


# --- The auditor, from the delivery's URL -----------------------------------------------------


@pytest.fixture
def delivered(transactional_db, live_server, settings, make_letter, organiser):
    settings.SITE_URL = live_server.url
    tlog.signer.cache_clear()
    letter = make_letter(employer_domains="example.com")
    for n in range(5):
        verified_signature(letter, f"s{n}@example.com", name=f"Signer {n}")
    delivery = deliveries.prepare(
        letter_id=letter.pk, actor=organiser, addressee="X", cover_note="",
        include_names=True, include_organisations=True, include_counts=True,
    )  # fmt: skip
    delivery_documents.build(delivery_id=delivery.pk)
    assert deliveries.mark_delivered(delivery_id=delivery.pk, actor=organiser, delivered_to="X")
    verified_signature(letter, "later@example.com", name="Later")  # the log moves on
    tlog.checkpoint(letter_id=letter.pk)
    yield delivery
    tlog.signer.cache_clear()


def audit_delivery(live_server, delivery, tmp_path) -> str:
    out = io.StringIO()
    url = live_server.url + delivery.get_absolute_url()
    call_command("auditlog", url, state_dir=str(tmp_path), stdout=out)
    return out.getvalue()


def test_the_auditor_verifies_a_delivery_from_its_url(delivered, live_server, tmp_path):
    output = audit_delivery(live_server, delivered, tmp_path)
    assert f"delivery {delivered.code}: checkpoint of 5 entries signed" in output
    assert "counts match: 5 signatures" in output


def test_the_auditor_catches_a_count_tampered_with_in_the_database(
    delivered, live_server, tmp_path
):
    Delivery.objects.filter(pk=delivered.pk).update(verified=6, public=6)
    with pytest.raises(CommandError, match="counts differ"):
        audit_delivery(live_server, delivered, tmp_path)


def test_the_auditor_catches_a_checkpoint_that_is_not_the_logs(delivered, live_server, tmp_path):
    other = "ab" * 32
    Delivery.objects.filter(pk=delivered.pk).update(checkpoint_root=other)
    with pytest.raises(CommandError, match="not its signed checkpoint"):
        audit_delivery(live_server, delivered, tmp_path)


def test_names_laid_out_in_chunks_join_into_one_pdf_numbered_throughout(
    organiser_client, make_letter, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(delivery_documents, "CHUNK", 2)
    letter = make_letter()
    names = [f"Chunked Signer {n:02d}" for n in range(7)]
    for n, name in enumerate(names):
        verified_signature(letter, f"c{n}@example.com", name=name)
    delivery = prepare(organiser_client, letter, django_capture_on_commit_callbacks)
    pages = PdfReader(io.BytesIO(download(organiser_client, letter, delivery, "a4.pdf"))).pages
    texts = [flat(page.extract_text()) for page in pages]
    assert len(pages) == 5  # the letter, then four chunks of at most two names
    for number, text in enumerate(texts, 1):
        assert text.endswith(f"Page {number}")
        assert delivery.checkpoint_root in text.replace(" ", "")
    joined = " ".join(texts)
    assert [joined.index(name) for name in names] == sorted(joined.index(name) for name in names)


def test_the_workspace_shows_progress_while_the_documents_are_made(
    organiser_client, coalition, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the task is not run
        organiser_client.post(
            reverse("organiser:deliveries", args=[coalition.slug]), {"addressee": "The Board"}
        )
    delivery = Delivery.objects.get(letter=coalition)
    Delivery.objects.filter(pk=delivery.pk).update(progress=40)
    page = organiser_client.get(reverse("organiser:delivery", args=[coalition.slug, delivery.code]))
    assert b'<progress id="delivery-progress" max="100" value="40">' in page.content
    assert b'http-equiv="refresh"' in page.content
    assert b"Mark delivered" not in page.content
