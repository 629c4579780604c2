"""A level change in the public log: an observer who linked a public signer to their entry
cannot follow them to their new level, while the signer's receipt proves the whole history."""

import json

import pytest
from django.urls import reverse

from petition import services, tlog, tokens
from petition.management.commands.auditlog import AuditFailure
from petition.management.commands.auditlog import Command as Auditor
from petition.models import PublicLogEntry, Signature, Tally
from tests.conftest import verified_signature

pytestmark = pytest.mark.django_db


def public_log(letter) -> list[dict]:
    """What anyone can read: every entry, decoded."""
    rows = PublicLogEntry.objects.filter(letter=letter).order_by("index")
    return [json.loads(bytes(row.data)) for row in rows]


def links(entry: dict, known: dict) -> set[str]:
    """The fields of `entry` that carry a value identifying `known` (its ref), or that name a
    level move (`from`), which is what let an observer follow a signer before."""
    found = {key for key, value in entry.items() if key == "ref" and value == known["ref"]}
    if "from" in entry or entry["kind"] == "relevel":
        found.add("from")
    return found


@pytest.fixture
def crowd(letter):
    """Alice signs publicly among others; the observer writes down her public entry."""
    signatures = [verified_signature(letter, f"s{i}@example.net") for i in range(3)]
    alice = verified_signature(letter, "alice@example.net")
    signatures += [verified_signature(letter, f"t{i}@example.net") for i in range(2)]
    [known] = [
        e for e in public_log(letter) if e["ref"] == Signature.objects.get(pk=alice.pk).log_ref
    ]
    return alice, known


def test_after_a_change_to_private_no_entry_leads_from_the_public_one(letter, crowd):
    alice, known = crowd
    before = len(public_log(letter))
    assert services.change_level(signature_id=alice.pk, visibility="private")
    after = public_log(letter)[before:]
    # The only new entry that mentions Alice's known ref undoes it, at the level already public.
    about_her = [e for e in after if links(e, known)]
    assert [(e["kind"], e["level"], set(e)) for e in about_her] == [
        ("withdraw", "public", set(known))
    ]
    # Every other new entry is a plain signature, shaped like anyone's, with a ref never seen.
    others = [e for e in after if not links(e, known)]
    assert [e["kind"] for e in others] == ["sign"]
    [new] = others
    assert set(new) == set(known) and new["level"] == "private"
    seen_refs = {e["ref"] for e in public_log(letter)[:before]}
    assert new["ref"] not in seen_refs
    assert new["ref"] == Signature.objects.get(pk=alice.pk).log_ref
    # Later entries about her new signature do not carry the old ref either.
    services.withdraw(signature_id=alice.pk)
    [last] = public_log(letter)[before + 2 :]
    assert last["kind"] == "withdraw" and last["ref"] == new["ref"] and not links(last, known)
    assert last["level"] == "private"


def test_the_log_replays_to_the_tally_across_level_changes(letter, crowd):
    alice, _known = crowd
    services.change_level(signature_id=alice.pk, visibility="anonymous")
    services.change_level(signature_id=alice.pk, visibility="private")
    raw = [bytes(e.data) for e in PublicLogEntry.objects.filter(letter=letter).order_by("index")]
    counts = Auditor()._replay(raw, letter.slug)
    tally = Tally.objects.get(letter=letter)
    assert (
        (counts["verified"], counts["public"], counts["anonymous"], counts["private"])
        == (
            tally.verified,
            tally.public,
            tally.anonymous,
            tally.private,
        )
        == (6, 5, 0, 1)
    )


def test_a_level_changed_while_hidden_is_not_linked_on_restore(letter, crowd):
    alice, known = crowd
    organiser = letter.created_by
    services.hide_signature(
        letter_id=letter.pk, signature_id=alice.pk, actor=organiser, reason="spam"
    )
    before = len(public_log(letter))
    services.change_level(signature_id=alice.pk, visibility="private")
    services.restore_signature(letter_id=letter.pk, signature_id=alice.pk, actor=organiser)
    after = public_log(letter)[before:]
    for entry in after:
        if links(entry, known):
            assert entry["level"] == "public" and entry["kind"] in ("withdraw", "restore")
    [new] = [e for e in after if not links(e, known)]
    assert new["kind"] == "sign" and new["level"] == "private"
    raw = [bytes(e.data) for e in PublicLogEntry.objects.filter(letter=letter).order_by("index")]
    counts = Auditor()._replay(raw, letter.slug)
    assert counts["private"] == Tally.objects.get(letter=letter).private == 1


def manage_url(letter, signature) -> str:
    token = tokens.make(
        tokens.MANAGE,
        signature_id=signature.pk,
        letter_id=letter.pk,
        email_hash=signature.email_hash,
    )
    return reverse("manage", args=[letter.slug, token])


def test_the_receipt_after_two_changes_proves_the_whole_history(client, letter, crowd):
    alice, known = crowd
    url = manage_url(letter, alice)
    # Each change spends the link it was made with: the next goes through the fresh one.
    url = client.post(url, {"action": "level", "visibility": "anonymous"}).url
    page = client.post(url, {"action": "level", "visibility": "private"}, follow=True)
    receipt = json.loads(page.context["receipt_json"])
    assert [item["index"] for item in receipt["earlier"]][0] == known["seq"]
    assert len(receipt["earlier"]) == 2 and receipt["ref"] == public_log(letter)[-1]["ref"]
    tlog.checkpoint(letter_id=letter.pk)
    check = client.post(reverse("log_check", args=[letter.slug]), {"receipt": json.dumps(receipt)})
    assert check.status_code == 200
    text = check.content.decode()
    assert f"entry {receipt['index']} of the log" in text
    for item in receipt["earlier"]:
        assert f"{item['index']}" in text
    assert "still counted" not in text or "is counted" in text


def test_a_receipt_whose_history_is_not_its_own_is_refused(client, letter, crowd):
    alice, _known = crowd
    other = Signature.objects.exclude(pk=alice.pk).first()
    url = manage_url(letter, alice)
    page = client.post(url, {"action": "level", "visibility": "private"}, follow=True)
    receipt = json.loads(page.context["receipt_json"])
    other_receipt = json.loads(client.get(manage_url(letter, other)).context["receipt_json"])
    forged = {**receipt, "earlier": [{k: other_receipt[k] for k in ("index", "salt", "ref")}]}
    tlog.checkpoint(letter_id=letter.pk)
    check = client.post(reverse("log_check", args=[letter.slug]), {"receipt": json.dumps(forged)})
    assert check.status_code == 400


def test_the_auditor_refuses_an_undo_that_shows_another_level_than_its_sign(letter, crowd):
    alice, known = crowd
    raw = [bytes(e.data) for e in PublicLogEntry.objects.filter(letter=letter).order_by("index")]
    leak = {**known, "kind": "withdraw", "level": "private", "seq": len(raw)}
    with pytest.raises(AuditFailure, match="must keep its level"):
        Auditor()._replay([*raw, tlog.encode(leak)], letter.slug)
