"""The organiser workspace: who may reach it, writing and versioning a letter, publishing and
closing, the team, moderation with its audit log, and milestones."""

from datetime import timedelta

import pytest
from django.core import signing
from django.urls import URLPattern, reverse
from django.utils import timezone

from lib import addresses
from petition import deliveries, delivery_documents, emails, organiser_urls, services
from petition.models import (
    AuditEvent,
    ExportRecord,
    Letter,
    LetterVersion,
    Mail,
    Milestone,
    Organiser,
    OrganiserInvite,
    Signature,
    Tally,
    Update,
)

pytestmark = pytest.mark.django_db


def signed(letter, email, *, verify=True, **fields):
    data = {"name": "Pat Public", "visibility": "public", **fields}
    services.sign(letter=letter, email=email, **data)
    signature = Signature.objects.get(letter=letter, email_hash=addresses.email_hash(email))
    if verify:
        services.verify(signature_id=signature.pk)
        signature.refresh_from_db()
    return signature


@pytest.fixture
def users(django_user_model):
    def make(email, name):
        # No password: tests log in with force_login, and hashing one costs half a second.
        return django_user_model.objects.create_user(email=email, password=None, name=name)

    return {
        "editor": make("editor@example.org", "Eddie Editor"),
        "viewer": make("viewer@example.org", "Vera Viewer"),
        "outsider": make("outsider@example.org", "Otto Outsider"),
    }


@pytest.fixture
def team(letter, organiser, users):
    Organiser.objects.create(letter=letter, user=users["editor"], role=Organiser.Role.EDITOR)
    Organiser.objects.create(letter=letter, user=users["viewer"], role=Organiser.Role.VIEWER)
    return {"owner": organiser, **users}


@pytest.fixture
def world(letter, team):
    """A letter with signers whose private details are markers no outsider may ever see."""
    public = signed(letter, "publicmarker@example.com", name="PUBLICNAMEMARKER", team="TEAMMARKER")
    anonymous = signed(
        letter, "anonmarker@example.com", name="ANONNAMEMARKER", visibility="anonymous"
    )
    hidden = signed(letter, "hiddenmarker@example.com", name="HIDDENNAMEMARKER")
    services.hide_signature(
        letter_id=letter.pk, signature_id=hidden.pk, actor=team["owner"], reason="spam"
    )
    update, _ = services.send_update(
        letter_id=letter.pk, actor=team["owner"], subject="UPDATESUBJECTMARKER", body="Hello"
    )
    services.record_export(
        letter=letter, user=team["owner"], what="signatures", format="csv", filters={}, rows=3
    )
    invite = services.invite_organiser(
        letter_id=letter.pk, actor=team["owner"], email="invitee@example.org", role="editor"
    )
    delivery = deliveries.prepare(
        letter_id=letter.pk, actor=team["owner"], addressee="The Board", cover_note="",
        include_names=True, include_organisations=True, include_counts=True,
    )  # fmt: skip
    delivery_documents.build(delivery_id=delivery.pk)
    return {
        "delivery": delivery,
        "letter": letter,
        "public": public,
        "anonymous": anonymous,
        "hidden": hidden,
        "update": update,
        "invite": invite,
        "markers": [
            "PUBLICNAMEMARKER",
            "publicmarker@example.com",
            "TEAMMARKER",
            "ANONNAMEMARKER",
            "anonmarker@example.com",
            "HIDDENNAMEMARKER",
            "UPDATESUBJECTMARKER",
            "invitee@example.org",
        ],
        **team,
    }


def organiser_urls_for(world) -> list[str]:
    """Every URL of the workspace, filled with the world's real objects."""
    letter = world["letter"]
    values = {
        "slug": letter.slug,
        "pk": None,
        "public_id": world["anonymous"].public_id,
        "token": signing.dumps({"i": world["invite"].pk}, salt=emails.INVITE_SALT),
        "code": world["delivery"].code,
        "name": "names.csv",
    }
    urls = []
    for pattern in organiser_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {k: values[k] for k in pattern.pattern.converters}
        if "pk" in kwargs:
            kwargs["pk"] = (
                world["update"].pk
                if "update" in pattern.name
                else Organiser.objects.get(letter=letter, user=world["viewer"]).pk
            )
        urls.append(reverse(f"organiser:{pattern.name}", kwargs=kwargs))
    return urls


def state(letter) -> dict:
    letter.refresh_from_db()
    return {
        "letter": (letter.title, letter.body, letter.status, letter.deadline, letter.goal),
        "hidden": list(Signature.objects.filter(is_hidden=True).values_list("pk", flat=True)),
        "versions": LetterVersion.objects.count(),
        "organisers": list(Organiser.objects.order_by("pk").values_list("user_id", "role")),
        "invites": OrganiserInvite.objects.filter(accepted_at__isnull=False).count(),
        "exports": ExportRecord.objects.count(),
        "updates": Update.objects.count(),
        "paused": Update.objects.filter(paused_at__isnull=False).count(),
        "deliveries": list(letter.deliveries.values_list("pk", "delivered_at")),
        "tally": Tally.objects.filter(letter=letter).values_list("verified", flat=True).first(),
    }


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


# --- Access: every organiser URL ----------------------------------------------------------------


def test_the_workspace_has_the_urls_this_test_walks(world):
    assert len(organiser_urls_for(world)) == len(organiser_urls.urlpatterns) >= 20


def test_signed_out_visitor_gets_the_login_page_from_every_organiser_url(client, world):
    before = state(world["letter"])
    for url in organiser_urls_for(world):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert reverse("account_login") in response["Location"], url
            assert not any(m in body(response) for m in world["markers"]), url
    assert state(world["letter"]) == before


def test_another_signed_in_user_gets_404_from_every_organiser_url(client, world):
    client.force_login(world["outsider"])
    before = state(world["letter"])
    for url in organiser_urls_for(world):
        for method in (client.get, client.post):
            response = method(url)
            if url == reverse("organiser:dashboard") or url == reverse("organiser:create"):
                # Their own dashboard and their own new letter: nothing of this letter in it.
                assert response.status_code in (200, 400, 405), url
            elif "/invites/" in url:
                # An invitation mailed to another address: refused, naming no letter.
                assert response.status_code == 403, url
                assert world["letter"].title not in body(response)
            else:
                assert response.status_code == 404, url
            text = body(response)
            assert not any(m in text for m in world["markers"]), url
            assert world["letter"].title not in text or "/invites/" in url, url
    assert state(world["letter"]) == before


def test_a_viewer_sees_the_figures(client, world):
    client.force_login(world["viewer"])
    response = client.get(reverse("organiser:letter", args=[world["letter"].slug]))
    assert response.status_code == 200
    assert "2</strong> verified signatures" in body(response)
    assert world["letter"].title in body(response)


def test_a_viewer_cannot_edit_moderate_or_export(client, world):
    client.force_login(world["viewer"])
    before = state(world["letter"])
    slug = world["letter"].slug
    public_id = world["public"].public_id
    viewer_pk = Organiser.objects.get(user=world["viewer"]).pk
    forbidden = [
        ("get", reverse("organiser:edit", args=[slug]), {}),
        (
            "post",
            reverse("organiser:edit", args=[slug]),
            {"title": "T", "addressee": "A", "body": "B"},
        ),
        ("get", reverse("organiser:settings", args=[slug]), {}),
        ("post", reverse("organiser:settings", args=[slug]), {"allow_public": "on", "goal": "5"}),
        ("post", reverse("organiser:close", args=[slug]), {}),
        ("post", reverse("organiser:publish", args=[slug]), {}),
        ("post", reverse("organiser:reopen", args=[slug]), {}),
        ("get", reverse("organiser:signatures", args=[slug]), {}),
        ("post", reverse("organiser:hide", args=[slug, public_id]), {"reason": "spam"}),
        ("post", reverse("organiser:restore", args=[slug, world["hidden"].public_id]), {}),
        (
            "post",
            reverse("organiser:export_download", args=[slug]),
            {"format": "csv", "status": "all"},
        ),
        ("post", reverse("organiser:updates", args=[slug]), {"subject": "S", "body": "B"}),
        ("get", reverse("organiser:team", args=[slug]), {}),
        (
            "post",
            reverse("organiser:invite", args=[slug]),
            {"email": "x@example.org", "role": "owner"},
        ),
        ("post", reverse("organiser:set_role", args=[slug, viewer_pk]), {"role": "owner"}),
        ("post", reverse("organiser:remove_organiser", args=[slug, viewer_pk]), {}),
        ("post", reverse("organiser:deliveries", args=[slug]), {"addressee": "A"}),
        (
            "post",
            reverse("organiser:delivery_delivered", args=[slug, world["delivery"].code]),
            {"delivered_to": "A"},
        ),
    ]
    for method, url, data in forbidden:
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (method, url)
        assert not any(m in body(response) for m in world["markers"]), url
    assert state(world["letter"]) == before


def test_a_viewer_sees_the_export_log_but_no_export_form(client, world):
    client.force_login(world["viewer"])
    response = client.get(reverse("organiser:exports", args=[world["letter"].slug]))
    assert response.status_code == 200
    text = body(response)
    assert "Export log" in text and "organiser@example.org" in text
    assert reverse("organiser:export_download", args=[world["letter"].slug]) not in text


def test_an_editor_cannot_manage_the_team(client, world):
    client.force_login(world["editor"])
    slug = world["letter"].slug
    response = client.post(
        reverse("organiser:invite", args=[slug]), {"email": "x@example.org", "role": "owner"}
    )
    assert response.status_code == 403
    assert not OrganiserInvite.objects.filter(email="x@example.org").exists()


def test_an_organiser_of_one_letter_cannot_reach_another_through_its_signature_ids(
    client, world, make_letter, organiser
):
    other = make_letter()
    stranger = signed(other, "stranger@example.com", name="STRANGER")
    client.force_login(world["editor"])
    response = client.post(
        reverse("organiser:hide", args=[world["letter"].slug, stranger.public_id]),
        {"reason": "spam"},
    )
    assert response.status_code == 404
    stranger.refresh_from_db()
    assert not stranger.is_hidden


# --- My letters, writing, versions -------------------------------------------------------------


def test_my_letters_lists_my_letters_with_figures_from_the_tally(
    client, world, django_assert_max_num_queries, make_letter
):
    make_letter(title="Someone else's letter", created_by=world["outsider"])
    client.force_login(world["editor"])
    with django_assert_max_num_queries(6):
        response = client.get(reverse("organiser:dashboard"))
    text = body(response)
    assert world["letter"].title in text
    assert "Someone else" not in text
    assert '<strong class="figure">2</strong> verified' in text


def test_base_page_links_to_my_letters_when_signed_in(client, organiser):
    client.force_login(organiser)
    assert reverse("organiser:dashboard") in body(client.get(reverse("home")))


def test_preview_renders_markdown_without_saving(client, organiser):
    client.force_login(organiser)
    response = client.post(
        reverse("organiser:create"),
        {"title": "Stop it", "addressee": "The Board", "body": "We *ask*", "preview": "1"},
    )
    assert response.status_code == 200
    assert "<em>ask</em>" in body(response)
    assert not Letter.objects.filter(title="Stop it").exists()


def test_preview_is_sanitised(client, organiser):
    client.force_login(organiser)
    response = client.post(
        reverse("organiser:create"),
        {"title": "T", "addressee": "A", "body": "<script>alert(1)</script>", "preview": "1"},
    )
    assert "<script>alert(1)" not in body(response)


def test_creating_a_letter_makes_a_draft_owned_by_its_creator(client, organiser):
    client.force_login(organiser)
    response = client.post(
        reverse("organiser:create"),
        {"title": "Stop the contract", "addressee": "The Board", "body": "We ask."},
    )
    letter = Letter.objects.get(title="Stop the contract")
    assert response["Location"] == reverse("organiser:letter", args=[letter.slug])
    assert letter.status == "draft" and letter.slug == "stop-the-contract"
    assert Organiser.objects.get(letter=letter).role == "owner"
    assert client.get(letter.get_absolute_url()).status_code == 404, "a draft is not public"


def test_a_letter_titled_like_a_workspace_page_gets_another_slug(organiser):
    letter = services.create_letter(user=organiser, title="New", addressee="A", body="B")
    assert letter.slug == "new-letter"
    again = services.create_letter(user=organiser, title="New", addressee="A", body="B")
    assert again.slug == "new-letter-2"


def test_invalid_letter_form_shows_errors_not_a_server_error(client, organiser):
    client.force_login(organiser)
    response = client.post(reverse("organiser:create"), {"title": "", "body": ""})
    assert response.status_code == 400
    assert "This field is required" in body(response)


def test_draft_edits_change_the_text_without_versions(client, organiser):
    client.force_login(organiser)
    letter = services.create_letter(user=organiser, title="Draft", addressee="A", body="one")
    client.post(
        reverse("organiser:edit", args=[letter.slug]),
        {"title": "Draft", "addressee": "A", "body": "two"},
    )
    letter.refresh_from_db()
    assert letter.body == "two"
    assert not letter.versions.exists()


def test_edit_after_publication_makes_a_new_version_and_keeps_what_people_signed(client, world):
    letter = world["letter"]
    client.force_login(world["editor"])
    response = client.post(
        reverse("organiser:edit", args=[letter.slug]),
        {"title": letter.title, "addressee": letter.addressee, "body": "We ask you to *pause*."},
    )
    assert response.status_code == 302
    v1, v2 = LetterVersion.objects.filter(letter=letter).order_by("number")
    assert v1.body == "We ask you to *stop*." and v2.body == "We ask you to *pause*."
    assert v1.signature_count == 2 and v2.signature_count == 0
    assert world["public"].version_id == v1.pk
    later = signed(letter, "later@example.com")
    assert later.version_id == v2.pk
    v2.refresh_from_db()
    assert v2.signature_count == 1
    assert AuditEvent.objects.filter(letter=letter, action="version").exists()


def test_editing_only_the_addressee_makes_no_new_version(world):
    letter = world["letter"]
    services.edit_letter(
        letter_id=letter.pk,
        actor=world["owner"],
        title=letter.title,
        addressee="CEO",
        body=letter.body,
    )
    assert letter.versions.count() == 1


def test_versions_page_shows_each_version_its_count_and_the_change(client, world):
    letter = world["letter"]
    services.edit_letter(
        letter_id=letter.pk,
        actor=world["owner"],
        title=letter.title,
        addressee=letter.addressee,
        body="We ask you to *pause*.",
    )
    page = client.get(reverse("letter_versions", args=[letter.slug]))
    text = body(page)
    assert page.status_code == 200
    assert "Version 2 (current)" in text and "Version 1" in text
    assert "removed: </span>stop</del>" in text and "added: </span>pause</ins>" in text
    lines = body(client.get(reverse("letter_versions", args=[letter.slug]), {"view": "lines"}))
    assert "<del>- We ask you to *stop*.</del>" in lines
    assert "<ins>+ We ask you to *pause*.</ins>" in lines
    assert "<strong>2</strong> signed this version" in text
    assert reverse("letter_versions", args=[letter.slug]) in body(
        client.get(letter.get_absolute_url())
    )


def test_versions_page_of_a_draft_is_not_found(client, organiser):
    draft = services.create_letter(user=organiser, title="Secret", addressee="A", body="B")
    assert client.get(reverse("letter_versions", args=[draft.slug])).status_code == 404


# --- Publishing, closing, the deadline -----------------------------------------------------------


def test_publish_close_and_reopen_through_the_pages(client, organiser):
    client.force_login(organiser)
    letter = services.create_letter(user=organiser, title="Flow", addressee="A", body="B")
    client.post(reverse("organiser:publish", args=[letter.slug]))
    letter.refresh_from_db()
    assert letter.status == "open" and letter.versions.count() == 1
    client.post(reverse("organiser:close", args=[letter.slug]))
    letter.refresh_from_db()
    assert letter.status == "closed"
    client.post(reverse("organiser:reopen", args=[letter.slug]))
    letter.refresh_from_db()
    assert letter.status == "open"
    actions = list(AuditEvent.objects.filter(letter=letter).order_by("pk").values_list("action"))
    assert actions == [("create",), ("publish",), ("close",), ("reopen",)]


def test_publish_and_close_are_post_only(client, world):
    client.force_login(world["owner"])
    response = client.get(reverse("organiser:close", args=[world["letter"].slug]))
    assert response.status_code == 405


def test_a_letter_past_its_deadline_closes_itself_and_cannot_reopen_until_moved(world):
    letter = world["letter"]
    Letter.objects.filter(pk=letter.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    assert services.close_letters_past_deadline() == 1
    assert services.close_letters_past_deadline() == 0
    letter.refresh_from_db()
    assert letter.status == "closed"
    event = AuditEvent.objects.get(letter=letter, action="close")
    assert event.actor is None and "deadline" in event.reason
    with pytest.raises(services.WorkspaceError):
        services.reopen(letter_id=letter.pk)


def test_the_deadline_job_is_a_management_command(world):
    from django.core.management import call_command

    Letter.objects.filter(pk=world["letter"].pk).update(
        deadline=timezone.now() - timedelta(minutes=1)
    )
    call_command("close_due_letters")
    world["letter"].refresh_from_db()
    assert world["letter"].status == "closed"


def test_settings_page_saves_every_setting_and_logs_it(client, world):
    client.force_login(world["editor"])
    letter = world["letter"]
    deadline = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    response = client.post(
        reverse("organiser:settings", args=[letter.slug]),
        {
            "deadline": deadline.strftime("%Y-%m-%dT%H:%M"),
            "goal": "500",
            "allow_public": "on",
            "allow_private": "on",
            "employer_domains": "@Example.com\nexample.net",
            "employees_only": "on",
            "accepts_individuals": "on",
            "accepts_organisations": "on",
        },
    )
    assert response.status_code == 302
    letter.refresh_from_db()
    assert (letter.goal, letter.deadline, letter.allow_anonymous) == (500, deadline, False)
    assert letter.domains == ["example.com", "example.net"]
    assert letter.employees_only and letter.accepts_organisations and not letter.block_disposable
    assert AuditEvent.objects.filter(letter=letter, action="settings").exists()


def test_settings_refuse_a_letter_nobody_can_sign(client, world):
    client.force_login(world["owner"])
    response = client.post(
        reverse("organiser:settings", args=[world["letter"].slug]),
        {"accepts_individuals": "on", "goal": ""},
    )
    assert response.status_code == 400
    assert "at least one way to sign" in body(response)


def test_settings_refuse_a_past_deadline_and_a_bad_domain(client, world):
    client.force_login(world["owner"])
    response = client.post(
        reverse("organiser:settings", args=[world["letter"].slug]),
        {
            "deadline": "2001-01-01T00:00",
            "allow_public": "on",
            "accepts_individuals": "on",
            "employer_domains": "not a domain!",
        },
    )
    assert response.status_code == 400
    text = body(response)
    assert "in the future" in text and "is not a domain" in text


# --- The team ---------------------------------------------------------------------------------


def test_owner_invites_by_email_and_the_invitee_joins_with_that_role(
    client, world, deliver, django_user_model
):
    client.force_login(world["owner"])
    slug = world["letter"].slug
    client.post(
        reverse("organiser:invite", args=[slug]), {"email": "New@Example.org", "role": "viewer"}
    )
    message = [m for m in deliver() if m.to == ["new@example.org"]][-1]
    link = next(w for w in message.body.split() if "/manage/invites/" in w)
    link = link.replace("http://127.0.0.1:8000", "")
    newcomer = django_user_model.objects.create_user(email="new@example.org", password=None)
    client.force_login(newcomer)
    page = client.get(link)
    assert page.status_code == 200 and "Accept the invitation" in body(page)
    assert not Organiser.objects.filter(user=newcomer).exists(), "a GET joins nobody"
    response = client.post(link)
    assert response["Location"] == reverse("organiser:letter", args=[slug])
    assert Organiser.objects.get(user=newcomer).role == "viewer"
    assert client.post(link).status_code == 302, "a second click changes nothing"
    assert Organiser.objects.filter(user=newcomer).count() == 1


def test_an_invitation_cannot_be_used_by_another_account(client, world):
    link = emails.invite_url(world["invite"]).replace("http://127.0.0.1:8000", "")
    client.force_login(world["outsider"])
    assert client.post(link).status_code == 403
    assert not Organiser.objects.filter(user=world["outsider"]).exists()


def test_a_forged_invitation_link_is_refused(client, world):
    client.force_login(world["outsider"])
    forged = signing.dumps({"i": world["invite"].pk}, salt="another-salt")
    response = client.post(reverse("organiser:accept_invite", args=[forged]))
    assert response.status_code == 400


def test_the_last_owner_cannot_be_demoted_or_removed(world):
    owner_row = Organiser.objects.get(user=world["owner"])
    with pytest.raises(services.WorkspaceError):
        services.set_organiser_role(
            letter_id=world["letter"].pk,
            organiser_id=owner_row.pk,
            actor=world["owner"],
            role="viewer",
        )
    with pytest.raises(services.WorkspaceError):
        services.remove_organiser(
            letter_id=world["letter"].pk, organiser_id=owner_row.pk, actor=world["owner"]
        )


def test_owner_changes_a_role_and_removes_an_organiser(client, world):
    client.force_login(world["owner"])
    slug = world["letter"].slug
    viewer = Organiser.objects.get(user=world["viewer"])
    client.post(reverse("organiser:set_role", args=[slug, viewer.pk]), {"role": "editor"})
    viewer.refresh_from_db()
    assert viewer.role == "editor"
    client.post(reverse("organiser:remove_organiser", args=[slug, viewer.pk]))
    assert not Organiser.objects.filter(pk=viewer.pk).exists()
    assert AuditEvent.objects.filter(action="role").exists()
    assert AuditEvent.objects.filter(action="remove").exists()


# --- Moderation and the audit log ------------------------------------------------------------


def test_hiding_takes_a_signature_off_the_list_and_the_count_and_restoring_puts_it_back(
    client, world
):
    letter, public = world["letter"], world["public"]
    client.force_login(world["editor"])
    response = client.post(
        reverse("organiser:hide", args=[letter.slug, public.public_id]),
        {"reason": "impostor", "note": "not an employee"},
    )
    assert response.status_code == 302
    public.refresh_from_db()
    assert public.is_hidden and public.hidden_reason == "impostor"
    assert Tally.objects.get(letter=letter).verified == 1
    assert "PUBLICNAMEMARKER" not in body(client.get(letter.get_absolute_url()))
    assert LetterVersion.objects.get(letter=letter).signature_count == 1

    client.post(reverse("organiser:restore", args=[letter.slug, public.public_id]))
    public.refresh_from_db()
    assert not public.is_hidden
    assert Tally.objects.get(letter=letter).verified == 2
    assert "PUBLICNAMEMARKER" in body(client.get(letter.get_absolute_url()))


def test_hiding_twice_counts_once(world):
    args = {"letter_id": world["letter"].pk, "signature_id": world["public"].pk}
    assert services.hide_signature(**args, actor=world["owner"], reason="spam")
    assert not services.hide_signature(**args, actor=world["owner"], reason="spam")
    assert Tally.objects.get(letter=world["letter"]).verified == 1


def test_a_pending_signature_cannot_be_hidden(world):
    pending = signed(world["letter"], "pending@example.com", verify=False)
    assert not services.hide_signature(
        letter_id=world["letter"].pk, signature_id=pending.pk, actor=world["owner"], reason="spam"
    )


def test_hide_needs_a_reason(client, world):
    client.force_login(world["editor"])
    client.post(reverse("organiser:hide", args=[world["letter"].slug, world["public"].public_id]))
    world["public"].refresh_from_db()
    assert not world["public"].is_hidden


def test_moderation_is_in_the_audit_log_for_every_organiser_without_signer_identity(client, world):
    letter, public = world["letter"], world["public"]
    client.force_login(world["editor"])
    client.post(
        reverse("organiser:hide", args=[letter.slug, public.public_id]),
        {"reason": "impostor", "note": "not on the staff list"},
    )
    client.post(reverse("organiser:restore", args=[letter.slug, public.public_id]))
    client.force_login(world["viewer"])
    text = body(client.get(reverse("organiser:audit", args=[letter.slug])))
    assert "Hid a signature" in text and "Restored a signature" in text
    assert "impostor: not on the staff list" in text
    assert "editor@example.org" in text
    assert str(public.public_id)[:8] in text
    assert "PUBLICNAMEMARKER" not in text and "publicmarker@example.com" not in text


def search(client, url: str, q: str, status: str = "") -> str:
    """An organiser's search as the form makes it: a POST, then the results by a token."""
    response = client.post(url, {"q": q, "status": status})
    assert response.status_code == 302
    assert q not in response.url and "q=" not in response.url
    results = client.get(response.url)
    assert results.status_code == 200
    return body(results)


def test_search_finds_by_name_email_and_employer(client, world):
    letter = world["letter"]
    signed(letter, "carla@example.com", name="Carla", affiliation="Acme Robotics")
    client.force_login(world["editor"])
    url = reverse("organiser:signatures", args=[letter.slug])
    assert "Carla" in search(client, url, "carl")
    assert "Carla" in search(client, url, "carla@example")
    assert "Carla" in search(client, url, "robotics")
    assert "Carla" not in search(client, url, "nobody")


def test_a_search_term_never_comes_from_or_goes_into_a_url(client, world):
    letter = world["letter"]
    signed(letter, "carla@example.com", name="Carla")
    for n in range(52):
        signed(letter, f"carlos{n}@example.com", name=f"Carlos {n}")
    client.force_login(world["editor"])
    url = reverse("organiser:signatures", args=[letter.slug])
    # A term in a query string is ignored: the whole list, and the term nowhere on the page.
    listing = body(client.get(url, {"q": "zqnotasigner"}))
    assert "Carlos 51" in listing and "zqnotasigner" not in listing
    results = search(client, url, "carlos")
    assert "Carlos 51" in results and 'value="carlos"' in results
    assert "page=2" in results  # the next page's link ...
    assert "=carlos" not in results  # ... and the hide forms' way back hold no term
    # The token names a search in this organiser's session: another session gets the list.
    token = client.post(url, {"q": "carla"}).url.split("search=")[1]
    assert "Carlos 51" not in body(client.get(url, {"search": token}))
    client.force_login(world["owner"])
    assert "Carlos 51" in body(client.get(url, {"search": token}))


def test_a_search_too_long_is_refused_with_a_message(client, world):
    client.force_login(world["editor"])
    url = reverse("organiser:signatures", args=[world["letter"].slug])
    response = client.post(url, {"q": "x" * 300})
    assert response.status_code == 400
    assert "at most 200 characters" in body(response)


def test_search_and_list_respect_the_privacy_table(client, world):
    letter = world["letter"]
    signed(
        letter,
        "privmarker@example.com",
        name="PRIVNAMEMARKER",
        visibility="private",
        city="PRIVCITYMARKER",
        affiliation="PRIVAFFMARKER",
    )
    # Pending private signers still hold a name and address; organisers never see them.
    signed(
        letter,
        "pendprivmarker@example.com",
        name="PENDPRIVMARKER",
        visibility="private",
        verify=False,
    )
    signed(
        letter,
        "anon2@example.com",
        name="Anon Two",
        visibility="anonymous",
        affiliation="ANONAFFMARKER",
        city="Shown City",
        show_city=True,
    )
    client.force_login(world["editor"])
    url = reverse("organiser:signatures", args=[letter.slug])
    listing = body(client.get(url, {"status": "all"}))
    assert "ANONNAMEMARKER" in listing and "anonmarker@example.com" in listing
    assert "Shown City" in listing
    for secret in (
        "PENDPRIVMARKER",
        "pendprivmarker@",
        "PRIVCITYMARKER",
        "PRIVAFFMARKER",
        "ANONAFFMARKER",
    ):
        assert secret not in listing
    for probe in ("pendprivmarker", "PENDPRIV", "PRIVAFF", "ANONAFF"):
        assert "Private signer" not in search(client, url, probe, "all")
        assert "Anon Two" not in search(client, url, probe, "all")


def test_signature_list_query_count_does_not_grow_with_signatures(
    client, world, django_assert_max_num_queries
):
    for n in range(10):
        signed(world["letter"], f"many{n}@example.com", name=f"Many {n}")
    client.force_login(world["editor"])
    with django_assert_max_num_queries(6):
        client.get(reverse("organiser:signatures", args=[world["letter"].slug]))


# --- Milestones -----------------------------------------------------------------------------


def test_milestone_thresholds_are_the_goal_and_round_numbers():
    assert services.milestone_thresholds(99, None) == []
    assert services.milestone_thresholds(100, None) == [100]
    assert services.milestone_thresholds(12_345, 250) == [100, 250, 1000, 10_000]


def test_organisers_get_one_mail_when_the_goal_is_passed(world, deliver):
    letter = world["letter"]
    Letter.objects.filter(pk=letter.pk).update(goal=3)
    Mail.objects.all().delete()
    signed(letter, "third@example.com")
    outbox = deliver()
    sent_before = len(outbox)
    mails = [m for m in outbox if "goal" in m.subject]
    assert sorted(m.to[0] for m in mails) == [
        "editor@example.org",
        "organiser@example.org",
        "viewer@example.org",
    ]
    assert Milestone.objects.filter(letter=letter, threshold=3).count() == 1
    # Falling under the goal and passing it again mails nobody.
    third = Signature.objects.get(email="third@example.com")
    services.hide_signature(letter_id=letter.pk, signature_id=third.pk, actor=None, reason="spam")
    services.restore_signature(letter_id=letter.pk, signature_id=third.pk, actor=None)
    signed(letter, "fourth@example.com")
    assert not [m for m in deliver()[sent_before:] if "passed" in m.subject]


def test_round_number_milestone_is_recorded_once(world):
    letter = world["letter"]
    Tally.objects.filter(letter=letter).update(verified=99)
    signed(letter, "hundredth@example.com")
    assert list(Milestone.objects.filter(letter=letter).values_list("threshold", flat=True)) == [
        100
    ]
    assert services.check_milestones(letter_id=letter.pk) == []
    assert Mail.objects.filter(kind="milestone").count() == 3


def test_co_signature_decisions_are_in_the_audit_log(client, world):
    from accounts.models import Organisation
    from petition.models import CoSignature

    letter = world["letter"]
    org = Organisation.objects.create(name="Friends of the Earth", slug="foe")
    cosignature = CoSignature.objects.create(
        letter=letter, organisation=org, display_name="Friends of the Earth", sort_key="friends"
    )
    services.approve_cosign(cosignature_id=cosignature.pk, by=world["editor"])
    services.reject_cosign(cosignature_id=cosignature.pk, by=world["owner"])
    client.force_login(world["viewer"])
    text = body(client.get(reverse("organiser:audit", args=[letter.slug])))
    assert "Approved a co-signature: Friends of the Earth" in text
    assert "Rejected a co-signature: Friends of the Earth" in text


# --- The whole way, through the pages alone -------------------------------------------------------


def test_an_organiser_takes_a_letter_from_draft_to_an_export_through_the_pages(
    client, organiser, deliver
):
    from django.test import Client

    from tests.conftest import link_in, sign_data

    client.force_login(organiser)
    client.post(
        reverse("organiser:create"),
        {"title": "Drop the contract", "addressee": "The Board", "body": "Please *drop* it."},
    )
    letter = Letter.objects.get(title="Drop the contract")
    slug = letter.slug
    response = client.post(
        reverse("organiser:settings", args=[slug]),
        {
            "goal": "1",
            "allow_public": "on",
            "allow_anonymous": "on",
            "accepts_individuals": "on",
            "block_disposable": "on",
        },
    )
    assert response.status_code == 302
    client.post(reverse("organiser:publish", args=[slug]))

    signer = Client()
    signer.post(reverse("sign", args=[slug]), sign_data(name="Grace Hopper", email="g@example.com"))
    signer.post(link_in(deliver()[-1], "/confirm/"))
    overview = body(client.get(reverse("organiser:letter", args=[slug])))
    assert "<strong>1</strong> verified signature" in overview
    assert "Grace Hopper" in body(client.get(reverse("organiser:signatures", args=[slug])))

    client.post(reverse("organiser:close", args=[slug]))
    response = client.post(
        reverse("organiser:export_download", args=[slug]),
        {"what": "signatures", "format": "csv", "status": "counted"},
    )
    exported = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "Grace Hopper,g@example.com" in exported
    assert any("passed its goal" in m.subject for m in deliver())
    log = body(client.get(reverse("organiser:exports", args=[slug])))
    assert "organiser@example.org" in log and "status: counted" in log
