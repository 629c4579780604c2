"""Updates to signers: who gets them, batches that survive a crash without mailing anyone twice,
the unsubscribe link, and the progress page."""

import re
import threading
from collections import Counter

import pytest
from django.urls import reverse

from lib import addresses
from petition import emails, services
from petition.models import Mail, Signature, Update, UpdateDelivery
from tests.conftest import link_in

pytestmark = pytest.mark.django_db

OPTED_IN = [f"fan{n}@example.com" for n in range(7)]


def signed(letter, email, *, verify=True, **fields):
    data = {"name": "Pat", "visibility": "public", "wants_updates": True, **fields}
    services.sign(letter=letter, email=email, **data)
    signature = Signature.objects.get(letter=letter, email_hash=addresses.email_hash(email))
    if verify:
        services.verify(signature_id=signature.pk)
        signature.refresh_from_db()
    return signature


@pytest.fixture
def audience(letter):
    """Seven opted-in verified signers, and everyone an update must not reach."""
    for email in OPTED_IN:
        signed(
            letter, email, visibility="anonymous" if email.endswith("3@example.com") else "public"
        )
    signed(letter, "quiet@example.com", wants_updates=False)
    signed(letter, "pending@example.com", verify=False)
    signed(letter, "private@example.com", visibility="private")  # address erased on verifying
    hidden = signed(letter, "hidden@example.com")
    services.hide_signature(letter_id=letter.pk, signature_id=hidden.pk, actor=None, reason="spam")
    gone = signed(letter, "withdrawn@example.com")
    services.withdraw(signature_id=gone.pk)
    Mail.objects.all().delete()  # verification and confirmation mails are not the point here
    return letter


def update_for(letter, organiser) -> Update:
    update, _ = services.send_update(
        letter_id=letter.pk, actor=organiser, subject="News from the campaign", body="We *won*."
    )
    return update


def run_to_the_end(update: Update, batch_size: int = 3) -> int:
    batches = 0
    while services.deliver_update_batch(update_id=update.pk, batch_size=batch_size):
        batches += 1
    return batches


def recipients(deliver) -> Counter:
    return Counter(m.to[0] for m in deliver() if m.subject == "News from the campaign")


def test_an_update_goes_in_batches_to_verified_opted_in_signers_only(audience, organiser, deliver):
    update = update_for(audience, organiser)
    assert update.total == len(OPTED_IN)
    assert run_to_the_end(update, batch_size=3) == 3
    assert recipients(deliver) == Counter(OPTED_IN)
    update.refresh_from_db()
    assert (update.status, update.queued, update.total) == ("sent", 7, 7)
    assert (update.delivered, update.failed, update.left) == (7, 0, 0)
    assert update.finished_at is not None


@pytest.mark.parametrize(
    "crash_after",
    [
        0,  # before the first mail
        3,  # between batches: the first batch committed, the second had not begun
        4,  # half-way through the second batch
        6,  # the last mail of the last full batch
    ],
)
def test_a_send_interrupted_half_way_and_restarted_mails_every_signer_exactly_once(
    audience, organiser, deliver, monkeypatch, crash_after
):
    update = update_for(audience, organiser)
    real = emails.update_to_signer
    queued = []

    def crashing(update, signature):
        if len(queued) == crash_after:
            raise RuntimeError("the worker died")
        queued.append(signature.pk)
        return real(update, signature)

    monkeypatch.setattr(emails, "update_to_signer", crashing)
    with pytest.raises(RuntimeError):
        run_to_the_end(update, batch_size=3)
    committed = UpdateDelivery.objects.filter(update=update).count()
    assert committed == crash_after - crash_after % 3, "only whole batches commit"
    assert Mail.objects.filter(kind="update").count() == committed

    monkeypatch.setattr(emails, "update_to_signer", real)  # the worker restarts
    run_to_the_end(update, batch_size=3)
    assert recipients(deliver) == Counter(OPTED_IN), "everyone once, nobody twice"
    update.refresh_from_db()
    assert (update.status, update.queued) == ("sent", len(OPTED_IN))


def test_running_a_finished_update_again_mails_nobody(audience, organiser, deliver):
    update = update_for(audience, organiser)
    run_to_the_end(update)
    assert services.deliver_update_batch(update_id=update.pk) == 0
    Update.objects.filter(pk=update.pk).update(status="sending")  # as if the finish was lost
    assert services.deliver_update_batch(update_id=update.pk) == 0
    assert sum(recipients(deliver).values()) == len(OPTED_IN)


def test_a_stalled_update_is_resumed_by_the_periodic_job(audience, organiser, deliver):
    update = update_for(audience, organiser)
    services.deliver_update_batch(update_id=update.pk, batch_size=3)  # then the chain was lost
    assert services.resume_stalled_updates(idle_seconds=0) == 1  # tasks run inline in tests
    assert recipients(deliver) == Counter(OPTED_IN)
    assert services.resume_stalled_updates(idle_seconds=0) == 0


def test_signers_who_confirm_after_the_update_was_written_do_not_get_it(
    audience, organiser, deliver
):
    update = update_for(audience, organiser)
    signed(audience, "latecomer@example.com")
    run_to_the_end(update)
    assert "latecomer@example.com" not in recipients(deliver)


def test_each_update_mail_has_an_unsubscribe_link_that_works_on_post_only(
    client, audience, organiser, deliver
):
    run_to_the_end(update_for(audience, organiser))
    message = next(m for m in deliver() if m.to == ["fan1@example.com"])
    assert "<em>won</em>" in message.alternatives[0][0]
    link = link_in(message, "/updates/stop/")
    page = client.get(link)
    assert page.status_code == 200 and b"Stop updates" in page.content
    signature = Signature.objects.get(email="fan1@example.com")
    assert signature.wants_updates, "a GET (a mail scanner) changes nothing"
    client.post(link)
    signature.refresh_from_db()
    assert not signature.wants_updates
    assert signature.status == "verified", "the signature itself is untouched"

    second, _ = services.send_update(
        letter_id=audience.pk, actor=organiser, subject="Second", body="Again"
    )
    run_to_the_end(second)
    assert "fan1@example.com" not in [m.to[0] for m in deliver() if m.subject == "Second"]


def test_an_unsubscribe_link_for_another_letter_or_purpose_is_refused(
    client, audience, make_letter
):
    from petition import tokens

    signature = Signature.objects.get(email="fan1@example.com")
    other = make_letter()
    ids = {"signature_id": signature.pk, "email_hash": signature.email_hash}
    foreign = tokens.make(tokens.UNSUBSCRIBE, letter_id=other.pk, **ids)
    wrong_purpose = tokens.make(tokens.MANAGE, letter_id=audience.pk, **ids)
    for token in (foreign, wrong_purpose):
        response = client.post(reverse("unsubscribe", args=[audience.slug, token]))
        assert response.status_code == 400
    signature.refresh_from_db()
    assert signature.wants_updates


def test_organiser_writes_previews_and_sends_an_update_through_the_pages(
    client, audience, organiser, deliver, django_capture_on_commit_callbacks
):
    client.force_login(organiser)
    url = reverse("organiser:updates", args=[audience.slug])
    page = client.get(url)
    assert b"Send to 7 signers" in page.content
    data = _form(client, audience)
    preview = client.post(url, {**data, "preview": "1"})
    assert b"<em>won</em>" in preview.content
    assert not Update.objects.exists(), "a preview sends nothing"
    confirm = client.post(url, {**data, "send": "1"})
    assert b"<em>won</em>" in confirm.content
    assert not Update.objects.exists(), "the first click only asks for confirmation"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**data, "confirm": "1"})
    update = Update.objects.get()
    assert response["Location"] == reverse("organiser:update", args=[audience.slug, update.pk])
    assert recipients(deliver) == Counter(OPTED_IN)
    progress = client.get(response["Location"]).content.decode()
    assert "7 sent, 0 failed, 0 left" in progress and 'value="100"' in progress


def test_the_progress_page_shows_how_far_sending_has_come(client, audience, organiser, deliver):
    update = update_for(audience, organiser)
    services.deliver_update_batch(update_id=update.pk, batch_size=3)
    client.force_login(organiser)
    page = client.get(reverse("organiser:update", args=[audience.slug, update.pk]))
    text = page.content.decode()
    assert "0 sent, 0 failed, 7 left" in text
    assert 'value="0"' in text
    deliver()
    text = client.get(reverse("organiser:update", args=[audience.slug, update.pk])).content
    assert "3 sent, 0 failed, 4 left" in text.decode()
    assert b'value="42"' in text
    assert b'http-equiv="refresh"' in text


def test_an_empty_update_is_refused_with_a_message(client, letter, organiser):
    client.force_login(organiser)
    response = client.post(
        reverse("organiser:updates", args=[letter.slug]), {"subject": "", "body": ""}
    )
    assert response.status_code == 400
    assert b"This field is required" in response.content


# --- exactly once from the form, with a confirmation step ---------------------------------------


def _form(client, letter) -> dict:
    """The update form as the page hands it out: subject, body and its idempotency key."""
    page = client.get(reverse("organiser:updates", args=[letter.slug])).content.decode()
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key, "the form carries an idempotency key"
    return {"subject": "News from the campaign", "body": "We *won*.", "key": key.group(1)}


def test_sending_asks_for_confirmation_with_the_real_number_of_signers(client, audience, organiser):
    client.force_login(organiser)
    url = reverse("organiser:updates", args=[audience.slug])
    data = _form(client, audience)
    page = client.post(url, {**data, "send": "1"})
    assert page.status_code == 200
    assert "This will email 7 signers who asked for updates" in page.content.decode()
    assert not Update.objects.exists(), "nothing goes before the second click"
    response = client.post(url, {**data, "confirm": "1"})
    assert response.status_code == 302
    assert Update.objects.get().total == 7


def test_submitting_the_same_form_twice_mails_each_signer_once(
    client, audience, organiser, deliver, django_capture_on_commit_callbacks
):
    client.force_login(organiser)
    url = reverse("organiser:updates", args=[audience.slug])
    data = {**_form(client, audience), "confirm": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, data)
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url, data)  # a double click, a browser retry, the back button
    assert Update.objects.count() == 1
    assert first["Location"] == again["Location"]
    page = client.get(again["Location"]).content.decode()
    assert "already queued" in page
    assert recipients(deliver) == Counter(OPTED_IN)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submits_of_one_form_mail_each_signer_once(audience, organiser, deliver):
    from django.db import connection
    from django.test import Client

    clients = [Client(), Client()]
    for c in clients:
        c.force_login(organiser)
    url = reverse("organiser:updates", args=[audience.slug])
    data = {**_form(clients[0], audience), "confirm": "1"}
    barrier = threading.Barrier(2)
    answers = []

    def submit(c):
        try:
            barrier.wait()
            answers.append(c.post(url, data).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [302, 302]
    assert Update.objects.count() == 1
    update = Update.objects.get()
    while services.deliver_update_batch(update_id=update.pk):
        pass
    assert recipients(deliver) == Counter(OPTED_IN)


def test_an_organiser_pauses_and_resumes_an_update_from_the_workspace(
    client, audience, organiser, deliver, django_capture_on_commit_callbacks
):
    update = update_for(audience, organiser)
    services.deliver_update_batch(update_id=update.pk, batch_size=3)  # 3 mails in the outbox
    client.force_login(organiser)
    page_url = reverse("organiser:update", args=[audience.slug, update.pk])
    client.post(reverse("organiser:pause_update", args=[audience.slug, update.pk]))
    assert services.deliver_update_batch(update_id=update.pk, batch_size=3) == 0
    assert recipients(deliver) == Counter(), "the queued mail is held back too"
    page = client.get(page_url).content.decode()
    assert "0 sent, 0 failed, 7 left (paused)" in page and "Resume sending" in page

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("organiser:resume_update", args=[audience.slug, update.pk]))
    while services.deliver_update_batch(update_id=update.pk, batch_size=3):
        pass
    assert recipients(deliver) == Counter(OPTED_IN)
    page = client.get(page_url).content.decode()
    assert "7 sent, 0 failed, 0 left" in page and "Pause sending" not in page


def test_a_viewer_cannot_pause_an_update(client, audience, organiser, django_user_model):
    from petition.models import Organiser

    update = update_for(audience, organiser)
    viewer = django_user_model.objects.create_user(email="v@example.org", password="x" * 20)
    Organiser.objects.create(letter=audience, user=viewer, role=Organiser.Role.VIEWER)
    client.force_login(viewer)
    response = client.post(reverse("organiser:pause_update", args=[audience.slug, update.pk]))
    assert response.status_code == 403
    update.refresh_from_db()
    assert update.paused_at is None


# --- translations: each signer gets the update in the language they read the letter in --------

SPANISH_UPDATE = {"subject_es": "Noticias de la campaña", "body_es": "*Ganamos*."}


@pytest.fixture
def multilingual(letter):
    """A letter offered in Spanish and German, with a signer who read it in each language and
    one who read the English original."""
    from petition import translations

    for language, title in (("es", "Carta número uno"), ("de", "Brief Nummer eins")):
        translations.add_translation(
            letter_id=letter.pk, actor=None, language=language, title=title,
            addressee="—", body=f"{title}.",
        )  # fmt: skip
    signed(letter, "sol@example.com", language="es")
    signed(letter, "greta@example.com", language="de")
    signed(letter, "ada@example.com")
    Mail.objects.all().delete()
    return letter


def test_each_signer_gets_the_update_in_their_language_or_else_the_original(
    client, multilingual, organiser, deliver, django_capture_on_commit_callbacks
):
    client.force_login(organiser)
    url = reverse("organiser:updates", args=[multilingual.slug])
    data = {**_form(client, multilingual), **SPANISH_UPDATE}
    confirm = client.post(url, {**data, "send": "1"}).content.decode()
    assert "Noticias de la campaña" in confirm and "<em>Ganamos</em>" in confirm
    assert '<input type="hidden" name="body_es" value="*Ganamos*."' in confirm, "kept to confirm"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**data, "confirm": "1"})

    assert response.status_code == 302
    mails = {m.to[0]: m for m in deliver() if m.to[0] != organiser.email}
    assert set(mails) == {"sol@example.com", "greta@example.com", "ada@example.com"}
    spanish = mails["sol@example.com"]
    assert spanish.subject == "Noticias de la campaña"
    assert "*Ganamos*." in spanish.body and "<em>Ganamos</em>" in spanish.alternatives[0][0]
    # No German translation of the update: the German signer gets it as written, as does the
    # signer of the English original.
    for address in ("greta@example.com", "ada@example.com"):
        assert mails[address].subject == "News from the campaign"
        assert "We *won*." in mails[address].body and "Ganamos" not in mails[address].body
    # The organisers see what was sent in each language.
    detail = client.get(response["Location"]).content.decode()
    assert 'lang="es"' in detail and "Noticias de la campaña" in detail


def test_the_form_offers_the_letters_languages_only(client, multilingual, organiser):
    client.force_login(organiser)
    page = client.get(reverse("organiser:updates", args=[multilingual.slug])).content.decode()
    assert 'name="subject_es"' in page and 'name="body_de"' in page
    assert 'name="subject_fr"' not in page and 'name="subject_en-gb"' not in page
    assert "Translations (optional)" in page


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"subject_fr": "Nouvelles", "body_fr": "Gagné."},
            "The letter is not offered in Français",
        ),
        (
            {"subject_en-gb": "News", "body_en-gb": "Won."},
            "English is the letter&#x27;s original language",
        ),
        ({"subject_xx": "?", "body_xx": "?"}, "The letter is not offered in xx"),
        ({"subject_es": "Noticias"}, "Give both the subject and the message in Español"),
    ],
)
def test_a_translation_the_letter_cannot_send_is_refused_with_a_form_error(
    client, multilingual, organiser, fields, error
):
    client.force_login(organiser)
    url = reverse("organiser:updates", args=[multilingual.slug])
    data = {**_form(client, multilingual), **fields}
    for step in ("send", "confirm"):
        response = client.post(url, {**data, step: "1"})
        assert response.status_code == 400
        assert error in response.content.decode()
    assert not Update.objects.exists()


def test_a_form_submitted_twice_keeps_its_translations_once(
    client, multilingual, organiser, deliver, django_capture_on_commit_callbacks
):
    client.force_login(organiser)
    url = reverse("organiser:updates", args=[multilingual.slug])
    data = {**_form(client, multilingual), **SPANISH_UPDATE, "confirm": "1"}
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url, data)
    update = Update.objects.get()
    assert [(t.language, t.subject) for t in update.translations.all()] == [
        ("es", "Noticias de la campaña")
    ]
    assert Counter(m.to[0] for m in deliver()) == Counter(
        {"sol@example.com": 1, "greta@example.com": 1, "ada@example.com": 1}
    )
