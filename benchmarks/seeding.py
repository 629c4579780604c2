"""The data a run measures against: one open letter with a million verified signatures (COPY),
its tallies as the write paths keep them, its public log, and pending signatures whose
verification tokens the verify phase posts.

The app's modules are imported inside the functions that use them: Django is set up only once
the run's environment is known (run.py), and a model cannot be imported before.
"""

import json
import os
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count

from benchmarks.constants import ROOT, SLUG, VERIFY_TOKENS, VERIFY_WARM_TOKENS
from benchmarks.harness.bench import Bench
from lib import addresses
from petition import tokens

LEVELS = ["public"] * 7 + ["anonymous"] * 2 + ["private"]


def seed(b: Bench) -> None:
    """One open letter, a million verified signatures (COPY), its Tally and the breakdowns kept
    by the write paths, and VERIFY_TOKENS pending signatures whose tokens the verify phase posts."""
    letter, version = create_letter(b)
    started = time.monotonic()
    now = datetime.now(UTC)
    private_identities: dict = {}  # email_hash -> (name, email) of the pending private signers
    with b.db() as conn:
        copy_signatures(conn, letter, verified_rows(letter, version, b.args.rows, now))
        copy_signatures(conn, letter, pending_rows(letter, version, now, private_identities))
    store_pending_identities(letter, private_identities)
    copied = time.monotonic() - started
    total = store_counts(letter, version)
    seed_public_log(b, letter)
    with b.db() as conn:
        conn.execute("VACUUM ANALYZE")
    write_verify_tokens(b, letter)
    b.details["seed"] = {
        "verified_signatures": total,
        "pending_for_verify": VERIFY_TOKENS,
        "copy_s": round(copied, 1),
        "total_s": round(time.monotonic() - started, 1),
    }
    print(f"  seeded {total:,} verified signatures by COPY in {copied:.1f}s", flush=True)


def create_letter(b: Bench):
    """The letter and its organiser, published: (letter, its first version)."""
    from petition import services
    from petition.models import Letter, LetterVersion

    organiser = get_user_model().objects.create_user(
        email="organiser@bench.example.org", password=secrets.token_hex(16), name="Bench Organiser"
    )
    letter = Letter.objects.create(
        slug=SLUG,
        title="Stop selling FaceFinder to police",
        addressee="The leadership of Example Corp",
        body=(ROOT / "petition/management/commands/demo.py").read_text().split('"""')[1],
        created_by=organiser,
        employer_domains="example.com",
        goal=2_000_000,
    )
    letter = services.publish(letter_id=letter.pk)
    version = LetterVersion.objects.get(letter=letter, number=1)
    b.letter_id, b.organiser_id = letter.pk, organiser.pk
    return letter, version


def verified_rows(letter, version, n: int, now: datetime):
    """`n` verified signatures over the last 30 days: levels 7 public, 2 anonymous, 1 private in
    ten, a third of them employees."""
    span = timedelta(days=30).total_seconds()
    randoms = os.urandom(16 * n)
    refs = os.urandom(32 * n).hex()
    for i in range(n):
        level = LEVELS[i % 10]
        employee = i % 3 == 0
        email = f"signer{i}@example.com" if employee else f"signer{i}@mail.example.net"
        at = now - timedelta(seconds=span * (n - i) / n)
        private = level == "private"
        yield {
            "public_id": uuid.UUID(bytes=randoms[16 * i : 16 * i + 16], version=4),
            "letter_id": letter.pk,
            "version_id": version.pk,
            "name": "" if private else f"Signer {i}",
            "email": "" if private else email,
            "email_hash": addresses.email_hash(email),
            "affiliation": "Example Corp" if employee else "",
            "job_title": "Engineer" if i % 2 else "Designer",
            "city": "London",
            "show_job_title": i % 4 == 0,
            "show_city": i % 5 == 0,
            "visibility": level,
            "status": "verified",
            "is_hidden": False,
            "is_verified_employee": employee,
            "employer_domain": "example.com" if employee else "",
            "log_ref": refs[64 * i : 64 * i + 64],
            "created_at": at - timedelta(minutes=5),
            "verified_at": at,
        }


def pending_rows(letter, version, now: datetime, private_identities: dict):
    """VERIFY_TOKENS pending signatures, signed `now`. A private signer's name and address go
    into `private_identities` (by email hash) instead: the app keeps them in PendingIdentity."""
    for i in range(VERIFY_TOKENS):
        email = f"pending{i}@example.com" if i % 3 == 0 else f"pending{i}@mail.example.net"
        hashed = addresses.email_hash(email)
        private = LEVELS[i % 10] == "private"
        if private:
            private_identities[hashed] = (f"Pending {i}", email)
        yield {
            "public_id": uuid.uuid4(),
            "letter_id": letter.pk,
            "version_id": version.pk,
            "name": "" if private else f"Pending {i}",
            "email": "" if private else email,
            "email_hash": hashed,
            "affiliation": "",
            "job_title": "",
            "city": "",
            "show_job_title": False,
            "show_city": False,
            "visibility": LEVELS[i % 10],
            "status": "pending",
            "is_hidden": False,
            "is_verified_employee": False,
            "employer_domain": "",
            "log_ref": "",
            "created_at": now,
            "verified_at": None,
        }


def store_pending_identities(letter, private_identities: dict) -> None:
    from petition.models import PendingIdentity, Signature

    PendingIdentity.objects.bulk_create(
        [
            PendingIdentity(signature_id=pk, name=name, email=email)
            for pk, hashed in Signature.objects.filter(
                letter=letter, status="pending", visibility="private"
            ).values_list("pk", "email_hash")
            for name, email in [private_identities[hashed]]
        ],
        batch_size=5000,
    )


def store_counts(letter, version) -> int:
    """The counts the write paths would have kept, from the rows just copied; their total."""
    from petition.models import DailyTally, DomainTally, LetterVersion, Signature, Tally

    counted = Signature.objects.counted().filter(letter=letter)
    by_level = dict(counted.values_list("visibility").annotate(n=Count("pk")))
    employees = counted.filter(is_verified_employee=True).count()
    total = sum(by_level.values())
    Tally.objects.filter(letter=letter).update(
        verified=total,
        public=by_level.get("public", 0),
        anonymous=by_level.get("anonymous", 0),
        private=by_level.get("private", 0),
        employees=employees,
    )
    LetterVersion.objects.filter(pk=version.pk).update(signature_count=total)
    DomainTally.objects.create(letter=letter, domain="example.com", count=employees)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {DailyTally._meta.db_table} (letter_id, day, change) "  # noqa: S608
            f"SELECT letter_id, (verified_at AT TIME ZONE 'UTC')::date, count(*) "
            f"FROM {Signature._meta.db_table} WHERE letter_id = %s AND status = 'verified' "
            f"GROUP BY 1, 2",
            [letter.pk],
        )
    return total


def seed_public_log(b: Bench, letter) -> None:
    """One `sign` entry per seeded verified signature, with its Merkle nodes, as a million
    verifications would have left the log."""
    from benchmarks.log_seed import seed_log
    from petition.models import Tally

    size = Tally.objects.get(letter=letter).verified
    with b.db() as conn:
        done = seed_log(conn, letter_id=letter.pk, slug=letter.slug, count=size, version=1)
    b.details["seed_log"] = {k: round(v, 1) if isinstance(v, float) else v for k, v in done.items()}
    print(f"  seeded the public log: {size:,} entries in {done['seconds']:.1f}s", flush=True)


def write_verify_tokens(b: Bench, letter) -> None:
    """A verification token for each pending signature: the first few thousand warm the
    verification path up (verify-tokens-warm.txt), the rest are measured (verify-tokens.txt)."""
    from petition.models import Signature

    pending = Signature.objects.filter(letter=letter, status="pending").values_list(
        "pk", "email_hash"
    )
    with (
        (b.tmp / "verify-tokens-warm.txt").open("w") as warm,
        (b.tmp / "verify-tokens.txt").open("w") as out,
    ):
        for n, (pk, hashed) in enumerate(pending.iterator(chunk_size=5000)):
            token = tokens.make(
                tokens.VERIFY, signature_id=pk, letter_id=letter.pk, email_hash=hashed
            )
            (warm if n < VERIFY_WARM_TOKENS else out).write(token + "\n")


def copy_signatures(conn, letter, rows) -> None:
    """COPY rows ({column: value} for the columns they set; other columns get their model
    default, or NULL) into the signature table."""
    from petition.models import Signature

    first = next(rows)
    given = list(first)
    fixed = model_defaults(Signature, given)
    columns = given + list(fixed)
    tail = "\t".join(text_value(v) for v in fixed.values())

    def lines():
        for row in _chain(first, rows):
            yield (
                "\t".join(text_value(row[c]) for c in given) + ("\t" + tail if tail else "") + "\n"
            )

    table = Signature._meta.db_table
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buffer = []
        size = 0
        for line in lines():
            buffer.append(line)
            size += len(line)
            if size > 1 << 20:
                copy.write("".join(buffer))
                buffer, size = [], 0
        if buffer:
            copy.write("".join(buffer))


def model_defaults(model, given: list[str]) -> dict:
    """{column: database value} of the model's default for each column not `given` that needs
    one (the primary key and nullable columns without a default are left out)."""
    fixed = {}
    for f in model._meta.local_concrete_fields:
        if f.column in given or f.primary_key:
            continue
        if f.null and not f.has_default():
            continue
        default = f.get_default()  # "" for a text field without one
        if default is None:
            raise RuntimeError(f"seeding does not know how to fill signature column {f.column}")
        fixed[f.column] = f.get_db_prep_save(default, connection)
    return fixed


def _chain(first, rest):
    yield first
    yield from rest


def text_value(value) -> str:
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "obj") and type(value).__name__ in ("Json", "Jsonb"):  # a JSONField's default
        return json.dumps(value.obj).replace("\\", "\\\\")
    return str(value)
