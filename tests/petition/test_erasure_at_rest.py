"""A private signer's name and address, erased at verification, are gone from PostgreSQL's data
files too once the scheduled rewrite has run (README, "Security model"): old row images are
readable in the files of a table until its pages are rewritten, so a pending private identity is
kept in small tables of its own, which that step rewrites."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from lib import addresses
from petition import services
from petition.models import PendingIdentity, Signature
from tests.conftest import wait_for

SIGNERS = 12


def database_files() -> list[Path]:
    """Every file of the test database: every table, index, TOAST table and free-space map."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        root = Path(cursor.fetchone()[0])
        cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
        oid = cursor.fetchone()[0]
    return [path for path in (root / "base" / str(oid)).iterdir() if path.is_file()]


def found_on_disk(markers: list[bytes]) -> set[bytes]:
    """The markers readable in the database's files once every page is written out."""
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    found = set()
    for path in database_files():
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # dropped (a rewritten table's old file) while we listed
            continue
        found.update(marker for marker in markers if marker in data)
    return found


def after_every_older_transaction(timeout: float = 300) -> None:
    """Wait until every transaction open now, in the whole cluster, has ended: until then
    PostgreSQL keeps the row images they might still read (other test runs share the server)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
        now = cursor.fetchone()[0]

    def passed() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT txid_snapshot_xmin(txid_current_snapshot())")
            return cursor.fetchone()[0] > now

    wait_for(passed, timeout, 0.5, "the transactions older than the erasure to end")


def sign_privately(letter, n: int) -> Signature:
    services.sign(
        letter=letter,
        name=f"Zqprivname{n:03d}",
        email=f"zqprivmail{n:03d}@example.com",
        visibility="private",
        city=f"Ticked City {n}",
        show_city=True,
    )
    return Signature.objects.get(
        letter=letter, email_hash=addresses.email_hash(f"zqprivmail{n:03d}@example.com")
    )


@pytest.mark.django_db(transaction=True)
def test_no_verified_private_signers_name_or_address_is_left_in_the_database_files(letter):
    signatures = [sign_privately(letter, n) for n in range(SIGNERS)]
    markers = [f"Zqprivname{n:03d}".encode() for n in range(SIGNERS)]
    markers += [f"zqprivmail{n:03d}".encode() for n in range(SIGNERS)]
    assert found_on_disk(markers) == set(markers), "the files hold no identity: proves nothing"

    for signature in signatures:
        services.verify(signature_id=signature.pk)
    after_every_older_transaction()
    call_command("rewrite_erased_pages")

    assert found_on_disk(markers) == set()
    # The ticked details stay, as the signers chose.
    assert found_on_disk([b"Ticked City 3"]) == {b"Ticked City 3"}


@pytest.mark.django_db(transaction=True)
def test_a_pending_private_signers_identity_stays_until_verified_or_withdrawn(letter):
    staying, leaving = sign_privately(letter, 1), sign_privately(letter, 2)
    services.withdraw(signature_id=leaving.pk)
    after_every_older_transaction()
    call_command("rewrite_erased_pages")
    found = found_on_disk([b"zqprivmail001", b"zqprivmail002", b"Zqprivname002"])
    assert found == {b"zqprivmail001"}  # the one still waiting for the link keeps it
    assert PendingIdentity.objects.filter(signature=staying).exists()


@pytest.mark.django_db
def test_the_signature_table_never_holds_a_private_signers_name_or_address(letter):
    signature = sign_privately(letter, 7)
    row = Signature.objects.values("name", "email").get(pk=signature.pk)
    assert row == {"name": "", "email": ""}
    assert signature.identity() == ("Zqprivname007", "zqprivmail007@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Signature.objects.filter(pk=signature.pk).update(email="zqprivmail007@example.com")


@pytest.mark.django_db
def test_a_pending_private_signer_gets_the_link_at_their_address_under_their_name(letter, deliver):
    sign_privately(letter, 5)
    sent = deliver()[-1]
    assert sent.to == ["zqprivmail005@example.com"]
    assert "Zqprivname005" in sent.body


@pytest.mark.django_db
def test_verification_reads_the_kept_address_and_then_drops_it(letter, deliver):
    signature = sign_privately(letter, 9)
    deliver()
    services.verify(signature_id=signature.pk)
    mails = deliver()
    assert mails[-1].to == ["zqprivmail009@example.com"]
    assert not PendingIdentity.objects.filter(signature_id=signature.pk).exists()
    signature.refresh_from_db()
    assert signature.identity() == ("", "")
