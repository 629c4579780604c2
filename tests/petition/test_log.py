"""The public log: entries, tree, checkpoints, endpoints, receipts and the outside auditor."""

import base64
import hashlib
import json
import threading
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from lib import addresses, merkle, signed_note
from petition import services, tlog
from petition.models import (
    Checkpoint,
    DailyTally,
    DomainTally,
    Letter,
    LetterVersion,
    LogNode,
    PublicLogEntry,
    Signature,
    Tally,
)
from tests import merkle_reference
from tests.conftest import sign_data, tamper

pytestmark = pytest.mark.django_db


def make_pending(letter, n: int, level: str = "public", domain: str = "example.net") -> list[int]:
    ids = []
    for i in range(n):
        email = f"signer{i}-{level}@{domain}"
        services.sign(letter=letter, name=f"Signer {i}", email=email, visibility=level)
        ids.append(Signature.objects.get(letter=letter, email_hash=addresses.email_hash(email)).pk)
    return ids


def all_entries(letter) -> list[bytes]:
    return [bytes(e.data) for e in PublicLogEntry.objects.filter(letter=letter).order_by("index")]


def test_verification_appends_a_sign_entry_with_no_identity(letter):
    [pk] = make_pending(letter, 1, "anonymous", "example.com")
    signature, receipt = services.verify(signature_id=pk)
    [raw] = all_entries(letter)
    entry = json.loads(raw)
    assert raw == json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    assert set(entry) <= tlog.ENTRY_KEYS
    assert entry == {
        "kind": "sign",
        "letter": letter.slug,
        "seq": 0,
        "level": "anonymous",
        "employee": True,
        "version": 1,
        "language": "en-gb",
        "text": signature.version.text_hash,
        "hour": entry["hour"],
        "ref": signature.log_ref,
    }
    assert entry["hour"].endswith(":00Z")
    text = raw.decode()
    assert "Signer 0" not in text and "signer0" not in text
    assert str(signature.public_id) not in text
    assert receipt["index"] == 0 and receipt["ref"] == signature.log_ref
    salt = bytes.fromhex(receipt["salt"])
    assert hashlib.sha256(salt + signature.public_id.bytes).hexdigest() == signature.log_ref


def test_a_level_change_starts_a_new_ref_and_a_withdrawal_repeats_the_current_one(letter):
    [pk] = make_pending(letter, 1)
    signature, _ = services.verify(signature_id=pk)
    first = signature.log_ref
    services.change_level(signature_id=pk, visibility="private")
    services.withdraw(signature_id=pk)
    entries = [json.loads(raw) for raw in all_entries(letter)]
    assert [(e["kind"], e["level"]) for e in entries] == [
        ("sign", "public"),
        ("withdraw", "public"),
        ("sign", "private"),
        ("withdraw", "private"),
    ]
    second = Signature.objects.get(pk=pk).log_ref
    assert second != first
    assert [e["ref"] for e in entries] == [first, first, second, second]
    assert not any("from" in e for e in entries)


def test_pending_withdrawal_appends_nothing(letter):
    [pk] = make_pending(letter, 1)
    services.withdraw(signature_id=pk)
    assert not PublicLogEntry.objects.exists()


def test_stored_nodes_give_the_same_root_as_a_plain_recomputation(letter):
    for pk in make_pending(letter, 13):
        services.verify(signature_id=pk)
    entries = all_entries(letter)
    assert merkle.root(13, tlog.get_nodes_for(letter.pk)) == merkle_reference.mth(entries)
    checkpoint = tlog.checkpoint(letter_id=letter.pk)
    assert checkpoint.size == 13 and bytes(checkpoint.root) == merkle_reference.mth(entries)


def test_served_checkpoint_follows_c2sp_byte_for_byte(client, letter, awkward_log_key):
    for pk in make_pending(letter, 3):
        services.verify(signature_id=pk)
    tlog.checkpoint(letter_id=letter.pk)  # what the periodic job does
    vkey = client.get("/api/log/key").content.decode()
    note = client.get(f"/api/letters/{letter.slug}/log/checkpoint").content.decode()
    name, key_hex, key_b64 = vkey.strip().split("+", 2)  # base64 may hold "+" too
    raw_key = base64.b64decode(key_b64)
    assert raw_key[0] == 1 and len(raw_key) == 33
    public = raw_key[1:]
    # The key ID, rebuilt by hand: SHA-256(name || "\n" || 0x01 || public key)[:4].
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]
    assert key_id.hex() == key_hex
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    origin, size, root = text.split("\n")[:3]
    assert origin == f"testserver/letters/{letter.slug}".replace("testserver", tlog.key_name())
    assert size == "3"
    assert base64.b64decode(root) == merkle_reference.mth(all_entries(letter))
    assert text == f"{origin}\n3\n{root}\n"
    line = signatures.rstrip("\n")
    assert line.startswith(f"\u2014 {name} ")
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4] == key_id
    Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())


def test_every_checkpoint_issued_is_kept(letter):
    for pk in make_pending(letter, 3):
        services.verify(signature_id=pk)
        tlog.checkpoint(letter_id=letter.pk)
    sizes = list(Checkpoint.objects.filter(letter=letter).values_list("size", flat=True))
    assert sorted(sizes) == [1, 2, 3]


def test_periodic_job_signs_stale_logs(letter):
    for pk in make_pending(letter, 2):
        services.verify(signature_id=pk)
    Checkpoint.objects.all().delete()
    assert tlog.checkpoint_stale_letters() == 1
    assert Checkpoint.objects.get(letter=letter).size == 2
    assert tlog.checkpoint_stale_letters() == 0


def test_entries_endpoint_pages_and_rejects_bad_parameters(client, letter):
    for pk in make_pending(letter, 5):
        services.verify(signature_id=pk)
    url = f"/api/letters/{letter.slug}/log/entries"
    data = client.get(url, {"start": 1, "end": 4}).json()
    assert [e["index"] for e in data["entries"]] == [1, 2, 3]
    assert base64.b64decode(data["entries"][0]["data"]) == all_entries(letter)[1]
    assert len(client.get(url, {"start": 3, "end": 99}).json()["entries"]) == 2
    for params in [
        {"start": "x", "end": 2},
        {"start": 3, "end": 2},
        {"start": 6, "end": 99},
        {"end": 2},
        {"start": "-1", "end": 2},
        {"start": "1e3", "end": 2},
        {"start": "\u0663", "end": 2},
    ]:
        response = client.get(url, params)
        assert response.status_code == 400, params
        assert "error" in response.json()


def test_proof_endpoints_verify_against_the_checkpoint(client, letter):
    for pk in make_pending(letter, 9):
        services.verify(signature_id=pk)
    entries = all_entries(letter)
    root9 = merkle_reference.mth(entries)
    for index in range(9):
        proof = client.get(
            f"/api/letters/{letter.slug}/log/inclusion", {"index": index, "size": 9}
        ).json()
        path = [base64.b64decode(h) for h in proof["path"]]
        assert merkle.verify_inclusion(merkle.leaf_hash(entries[index]), index, 9, path, root9)
    for old in range(0, 10):
        proof = client.get(
            f"/api/letters/{letter.slug}/log/consistency", {"from": old, "to": 9}
        ).json()
        path = [base64.b64decode(h) for h in proof["path"]]
        assert merkle.verify_consistency(old, 9, merkle_reference.mth(entries[:old]), root9, path)
    assert (
        client.get(f"/api/letters/{letter.slug}/log/inclusion", {"index": 9, "size": 9}).status_code
        == 400
    )
    assert (
        client.get(f"/api/letters/{letter.slug}/log/consistency", {"from": 5, "to": 4}).status_code
        == 400
    )
    assert (
        client.get(f"/api/letters/{letter.slug}/log/inclusion", {"index": 0, "size": 0}).status_code
        == 400
    )


def test_a_proof_reads_log_n_nodes_in_few_queries(letter, django_assert_max_num_queries):
    for pk in make_pending(letter, 20):
        services.verify(signature_id=pk)
    with django_assert_max_num_queries(1):
        tlog.inclusion_proof(letter, 7, 20)


def test_draft_letter_has_no_public_log(client, make_letter):
    draft = make_letter(publish=False)
    assert client.get(f"/api/letters/{draft.slug}/log/checkpoint").status_code == 404


def append_entries(letter, n: int) -> list[bytes]:
    """n entries straight into the log, with no signatures behind them: all a proof reads."""
    for _ in range(n):
        seq = tlog.size(letter.pk)
        tlog.append(
            letter=letter, kind="sign", level="public", employee=False, version=1, ref=f"{seq:064x}"
        )
    return all_entries(letter)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def test_served_proofs_are_the_rfc_proofs_for_every_index_and_size(client, letter):
    entries = append_entries(letter, 21)
    base = f"/api/letters/{letter.slug}/log"
    for size in range(1, 22):
        for index in range(size):
            response = client.get(f"{base}/inclusion", {"index": index, "size": size})
            path = [b64(h) for h in merkle_reference.ref_path(index, entries[:size])]
            assert response.json() == {"index": index, "size": size, "path": path}
        for old in range(size + 1):
            response = client.get(f"{base}/consistency", {"from": old, "to": size})
            path = [b64(h) for h in merkle_reference.ref_proof(old, entries[:size])]
            assert response.json() == {"from": old, "to": size, "path": path}


def test_a_proof_or_a_checkpoint_is_one_query(client, letter, django_assert_num_queries):
    append_entries(letter, 20)
    tlog.checkpoint(letter_id=letter.pk)
    base = f"/api/letters/{letter.slug}/log"
    for path, params in [
        ("inclusion", {"index": 7, "size": 20}),
        ("consistency", {"from": 7, "to": 19}),
        ("checkpoint", {}),
        ("inclusion", {"index": 20, "size": 20}),  # refused, with the log's size in the message
    ]:
        with django_assert_num_queries(1):
            response = client.get(f"{base}/{path}", params)
        assert response["Access-Control-Allow-Origin"] == "*"
    response = client.get(f"{base}/inclusion", {"index": 7, "size": 20})
    assert list(response.json()) == ["index", "size", "path"]
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=86400"


@pytest.mark.parametrize("status", Letter.Status.values)
def test_log_endpoints_serve_the_listed_letters_and_no_other(client, letter, status):
    """The proofs' SQL repeats Letter.objects.listed(): the two must agree on every status, at
    once (nothing is cached: a letter an admin puts back to draft is gone on the next request)."""
    append_entries(letter, 3)
    base = f"/api/letters/{letter.slug}/log"
    requests = [
        ("checkpoint", {}),
        ("entries", {"start": 0, "end": 3}),
        ("inclusion", {"index": 0, "size": 3}),
        ("consistency", {"from": 1, "to": 3}),
        ("inclusion", {"index": 3, "size": 3}),  # a bad parameter: 404 comes first
    ]
    assert client.get(f"{base}/inclusion", {"index": 0, "size": 3}).status_code == 200
    Letter.objects.filter(pk=letter.pk).update(status=status)
    listed = Letter.objects.listed().filter(pk=letter.pk).exists()
    assert listed == (status != Letter.Status.DRAFT)
    for path, params in requests:
        response = client.get(f"{base}/{path}", params)
        if listed:
            assert response.status_code in (200, 400), (path, params)
        else:
            assert response.status_code == 404, (path, params)
            assert response.json() == {"error": "No such letter."}
            assert response["Access-Control-Allow-Origin"] == "*"


def test_bad_proof_parameters_are_refused_with_the_log_size(client, letter):
    append_entries(letter, 9)
    base = f"/api/letters/{letter.slug}/log"
    for path, params, message in [
        ("inclusion", {"index": 9, "size": 9}, "index must be between 0 and 8"),
        ("inclusion", {"index": 0, "size": 10}, "size must be between 1 and 9"),
        ("inclusion", {"index": 0, "size": 0}, "size must be between 1 and 9"),
        ("inclusion", {"index": 0, "size": 2**63 - 1}, "size must be between 1 and 9"),
        ("inclusion", {"index": 0, "size": 2**63}, "size must be between 1 and 9"),
        ("inclusion", {"index": 0, "size": 10**19}, "size must be a whole number"),
        ("inclusion", {"index": "x", "size": 3}, "index must be a whole number"),
        ("inclusion", {"size": 3}, "missing parameter 'index'"),
        ("inclusion", {}, "missing parameter 'size'"),
        ("consistency", {"from": 5, "to": 4}, "from must be between 0 and 4"),
        ("consistency", {"from": 1, "to": 10}, "to must be between 0 and 9"),
        ("consistency", {"from": 1, "to": 2**63 - 1}, "to must be between 0 and 9"),
        ("consistency", {"to": 3}, "missing parameter 'from'"),
    ]:
        response = client.get(f"{base}/{path}", params)
        assert response.status_code == 400, params
        assert response.json() == {"error": f"{message} (the log has 9 entries)"}
        assert response["Cache-Control"] == "public, max-age=0"
    response = client.get("/api/letters/no-such-letter/log/inclusion", {"index": "x"})
    assert response.status_code == 404


def test_checkpoint_endpoint_signs_the_first_checkpoint_then_serves_the_latest(client, letter):
    append_entries(letter, 5)
    assert not Checkpoint.objects.filter(letter=letter).exists()
    url = f"/api/letters/{letter.slug}/log/checkpoint"
    note = client.get(url).content.decode()
    assert note.split("\n")[1] == "5"
    assert Checkpoint.objects.get(letter=letter).note == note
    append_entries(letter, 2)
    assert client.get(url).content.decode() == note  # until the next checkpoint is signed
    tlog.checkpoint(letter_id=letter.pk)
    assert client.get(url).content.decode().split("\n")[1] == "7"


@pytest.mark.django_db(transaction=True)
def test_two_hundred_concurrent_verifications_make_a_gapless_log(letter):
    ids = make_pending(letter, 200, "anonymous", "example.com")
    chunks = [ids[i::10] for i in range(10)]
    errors = []

    def work(chunk):
        try:
            for pk in chunk:
                services.verify(signature_id=pk)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    indexes = list(
        PublicLogEntry.objects.filter(letter=letter)
        .order_by("index")
        .values_list("index", flat=True)
    )
    assert indexes == list(range(200))
    entries = all_entries(letter)
    assert [json.loads(e)["seq"] for e in entries] == list(range(200))
    assert merkle.root(200, tlog.get_nodes_for(letter.pk)) == merkle_reference.mth(entries)
    tally = Tally.objects.get(letter=letter)
    assert tally.verified == tally.anonymous == tally.employees == 200 == tally.log_size
    assert LogNode.objects.filter(letter=letter, level=0).count() == 200
    # The counters that move in the same statement as the tally are exact too.
    assert sum(DailyTally.objects.filter(letter=letter).values_list("change", flat=True)) == 200
    assert DomainTally.objects.get(letter=letter, domain="example.com").count == 200
    version = LetterVersion.objects.get(letter=letter)
    assert version.signature_count == 200


# --- receipts ------------------------------------------------------------------------------


def verified_receipt(client, letter, deliver, **overrides):
    client.post(reverse("sign", args=[letter.slug]), sign_data(**overrides))
    link = [w for w in deliver()[-1].body.split() if "/confirm/" in w][0]
    client.post(
        link.split("testserver")[-1] if "testserver" in link else link[link.index("/letters/") :]
    )
    tlog.checkpoint(letter_id=letter.pk)
    return client.session[f"receipt:{letter.slug}"]


def test_receipt_checks_out_and_then_shows_withdrawal(client, letter, deliver):
    receipt = verified_receipt(client, letter, deliver)
    url = reverse("log_check", args=[letter.slug])
    response = client.post(url, {"receipt": json.dumps(receipt)})
    assert response.status_code == 200
    assert "is entry 0 of the log" in response.content.decode()
    services.withdraw(signature_id=Signature.objects.get().pk)
    tlog.checkpoint(letter_id=letter.pk)
    page = client.post(url, {"receipt": json.dumps(receipt)}).content.decode()
    assert "withdrawn" in page


def test_forged_receipts_are_refused(client, letter, deliver):
    receipt = verified_receipt(client, letter, deliver)
    url = reverse("log_check", args=[letter.slug])
    forged = {**receipt, "salt": tamper(receipt["salt"])}
    assert client.post(url, {"receipt": json.dumps(forged)}).status_code == 400
    other = {**receipt, "index": 5}
    assert client.post(url, {"receipt": json.dumps(other)}).status_code == 400
    assert client.post(url, {"receipt": "not json at all"}).status_code == 400


def test_private_signers_receipt_works_after_erasure(client, letter, deliver):
    receipt = verified_receipt(client, letter, deliver, visibility="private")
    signature = Signature.objects.get()
    assert signature.name == "" and signature.email == ""
    response = client.post(
        reverse("log_check", args=[letter.slug]), {"receipt": json.dumps(receipt)}
    )
    assert response.status_code == 200 and "is entry 0" in response.content.decode()


def test_confirmation_mail_carries_the_receipt(client, letter, deliver):
    receipt = verified_receipt(client, letter, deliver)
    mail = deliver()[-1]
    assert receipt["salt"] in mail.body and receipt["ref"] in mail.body


# --- the outside auditor -------------------------------------------------------------------


def audit(live_server, letter, tmp_path) -> str:
    out = StringIO()
    call_command("auditlog", live_server.url, letter.slug, state_dir=str(tmp_path), stdout=out)
    return out.getvalue()


@pytest.fixture
def audited(transactional_db, letter, live_server, tmp_path, settings):
    settings.SITE_URL = live_server.url
    ids = make_pending(letter, 6, "public", "example.com")
    for pk in ids:
        services.verify(signature_id=pk)
    services.change_level(signature_id=ids[1], visibility="anonymous")
    services.withdraw(signature_id=ids[0])
    organiser = letter.created_by
    services.hide_signature(
        letter_id=letter.pk, signature_id=ids[2], actor=organiser, reason="spam"
    )
    services.restore_signature(letter_id=letter.pk, signature_id=ids[2], actor=organiser)
    services.hide_signature(
        letter_id=letter.pk, signature_id=ids[3], actor=organiser, reason="impostor"
    )
    tlog.checkpoint(letter_id=letter.pk)
    return ids


def test_auditor_passes_and_its_counts_match_the_tally(audited, letter, live_server, tmp_path):
    output = audit(live_server, letter, tmp_path)
    assert "audit passed" in output
    counts = json.loads(output.split("counts: ")[1].splitlines()[0])
    tally = Tally.objects.get(letter=letter)
    assert counts["verified"] == tally.verified == 4
    assert counts["entries_by_kind"] == {
        "sign": 7,
        "withdraw": 2,
        "hide": 2,
        "restore": 1,
    }
    assert (counts["public"], counts["anonymous"], counts["private"]) == (
        tally.public,
        tally.anonymous,
        tally.private,
    )
    assert counts["employees"] == tally.employees
    assert "site counts: the tally the site shows matches the log" in output
    # A second audit after more signatures checks consistency with the first.
    [pk] = make_pending(letter, 1, "private")
    services.verify(signature_id=pk)
    tlog.checkpoint(letter_id=letter.pk)
    assert "consistency: with the checkpoint of 12 seen before, ok" in audit(
        live_server, letter, tmp_path
    )


def _fails(live_server, letter, tmp_path, expected: str):
    with pytest.raises(CommandError) as excinfo:
        audit(live_server, letter, tmp_path)
    assert expected in str(excinfo.value)


def test_auditor_catches_an_edited_entry(audited, letter, live_server, tmp_path):
    entry = PublicLogEntry.objects.get(letter=letter, index=2)
    edited = bytes(entry.data).replace(b'"public"', b'"private"')
    assert edited != bytes(entry.data)
    entry.data = edited
    entry.save()
    _fails(live_server, letter, tmp_path, "root mismatch")


def test_auditor_catches_a_deleted_entry(audited, letter, live_server, tmp_path):
    PublicLogEntry.objects.filter(letter=letter, index=3).delete()
    _fails(live_server, letter, tmp_path, "index")


def test_auditor_catches_reordered_entries(audited, letter, live_server, tmp_path):
    a = PublicLogEntry.objects.get(letter=letter, index=2)
    b = PublicLogEntry.objects.get(letter=letter, index=3)
    a.data, b.data = bytes(b.data), bytes(a.data)
    a.save(), b.save()
    _fails(live_server, letter, tmp_path, "root mismatch")


def test_auditor_catches_a_checkpoint_that_shrinks(audited, letter, live_server, tmp_path):
    audit(live_server, letter, tmp_path)  # remembers the checkpoint of 12
    PublicLogEntry.objects.filter(letter=letter, index__gte=7).delete()
    LogNode.objects.filter(letter=letter).delete()
    Checkpoint.objects.filter(letter=letter).delete()
    Tally.objects.filter(letter=letter).update(log_size=7)
    store = merkle.MemoryStore(all_entries(letter))
    LogNode.objects.bulk_create(
        [LogNode(letter=letter, level=lv, index=ix, hash=h) for (lv, ix), h in store.nodes.items()]
    )
    tlog.checkpoint(letter_id=letter.pk)
    _fails(live_server, letter, tmp_path, "shrank")


def test_auditor_catches_a_bad_signature(audited, letter, live_server, tmp_path):
    other = signed_note.Verifier.from_vkey(
        signed_note.Signer.from_private_key(
            signed_note.generate_private_key(tlog.key_name())
        ).vkey()
    )
    with pytest.raises(CommandError) as excinfo:
        out = StringIO()
        call_command(
            "auditlog",
            live_server.url,
            letter.slug,
            state_dir=str(tmp_path),
            key=other.vkey(),
            stdout=out,
        )
    assert "signature" in str(excinfo.value)


def test_hide_and_restore_append_entries_with_a_reason_category(letter):
    [pk] = make_pending(letter, 1)
    signature, _ = services.verify(signature_id=pk)
    organiser = letter.created_by
    services.hide_signature(letter_id=letter.pk, signature_id=pk, actor=organiser,
                            reason="impostor", note="Ann Example says it is not her")  # fmt: skip
    services.restore_signature(letter_id=letter.pk, signature_id=pk, actor=organiser)
    entries = [json.loads(raw) for raw in all_entries(letter)]
    assert [e["kind"] for e in entries] == ["sign", "hide", "restore"]
    assert entries[1]["reason"] == "impostor"
    assert {e["ref"] for e in entries} == {signature.log_ref}
    assert "Ann Example" not in b"".join(all_entries(letter)).decode()


def test_cosign_approval_and_withdrawal_are_logged_with_one_ref(make_letter):
    from tests.petition.test_cosign import approved_cosigner

    letter = make_letter(accepts_organisations=True)
    cosignature = approved_cosigner(letter, "Friends of the Earth")
    services.withdraw_cosign(cosignature_id=cosignature.pk, by=cosignature.requested_by)
    entries = [json.loads(raw) for raw in all_entries(letter)]
    assert [e["kind"] for e in entries] == ["cosign", "uncosign"]
    assert entries[0]["ref"] == entries[1]["ref"] != ""
    raw = b"".join(all_entries(letter)).decode()
    assert "Friends" not in raw and "orgs.example" not in raw


def test_checkpoint_command_signs_stale_logs(letter):
    for pk in make_pending(letter, 2):
        services.verify(signature_id=pk)
    Checkpoint.objects.all().delete()
    out = StringIO()
    call_command("checkpoint_logs", stdout=out)
    assert "Signed 1 checkpoint(s)." in out.getvalue()
    assert Checkpoint.objects.get(letter=letter).size == 2
