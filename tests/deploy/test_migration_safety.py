"""Migrations run while the previous release still serves (the README's upgrade procedure), so
none may hold a long lock on a table that already has rows, nor break the code still running.

The rule, checked on the SQL each migration really runs on PostgreSQL (as `sqlmigrate` prints
it) and on its operations. On a table that existed before the migration:
1. no column type change (ALTER COLUMN ... TYPE rewrites the table under an exclusive lock);
2. no SET NOT NULL (a full scan under an exclusive lock): add a CHECK ... NOT VALID, VALIDATE it
   in a later migration, then SET NOT NULL;
3. no CREATE INDEX without CONCURRENTLY (it blocks writes while it builds): use
   AddIndexConcurrently in a non-atomic migration, for unique indexes too;
4. no constraint added without NOT VALID (FOREIGN KEY, CHECK) and no UNIQUE constraint (it builds
   an index under lock): add NOT VALID, validate later; unique: a concurrent unique index first;
5. no DROP COLUMN / DROP TABLE / RENAME in the release that stops using them: the old code still
   reads them. Stop using it in one release, remove it in the next, and list the removal below;
6. RunSQL sets a lock_timeout, so a statement queued behind a long query fails fast instead of
   stalling every query behind it.
Adding a nullable column, or a column with a constant default (PostgreSQL 11+ stores it without a
rewrite), and anything on a table the same migration creates, is fine.

Migrations released before this rule ran on new installations; they are listed with why, as any
later exception must be.
"""

import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunSQL

pytestmark = pytest.mark.django_db

APPS = {"accounts", "petition"}
REVIEWED = {
    ("accounts", "0001_initial"): "creates every table: nothing existed before",
    ("petition", "0001_initial"): "creates every table: nothing existed before",
    ("petition", "0002_signer_safety"): "released before this rule, with the tables still small",
    # The release that brought this rule also brought the migrations below; they were written
    # before it. They build indexes and validate constraints under lock, and 0006 renames a column
    # the old code reads, so this one upgrade is made with the old release stopped (README,
    # "Upgrades"). Every later migration follows the rule.
    ("accounts", "0002_organisation_trust_and_revocable_invites"): (
        "same release as the rule: constraints and invitation indexes on small tables; upgrade "
        "with the old release stopped"
    ),
    ("petition", "0003_revocable_organiser_invites"): (
        "same release as the rule: an index on the small organiser-invite table"
    ),
    ("petition", "0004_pending_private_identity_kept_apart"): (
        "same release as the rule: validates a check on petition_signature under lock; upgrade "
        "with the old release stopped"
    ),
    ("petition", "0005_letter_default_level"): (
        "same release as the rule: validates a check on the small letter table"
    ),
    ("petition", "0006_mail_relay_and_update_progress"): (
        "same release as the rule: renames update.sent, which the old code reads; upgrade with "
        "the old release stopped"
    ),
}

RULES = [
    (r"ALTER TABLE (\S+) ALTER COLUMN \S+ TYPE", "changes a column's type"),
    (r"ALTER TABLE (\S+) ALTER COLUMN \S+ SET NOT NULL", "sets NOT NULL with a full scan"),
    (r"CREATE (?:UNIQUE )?INDEX (?!CONCURRENTLY)\S+ ON (\S+)", "builds an index under lock"),
    (r"ALTER TABLE (\S+) ADD CONSTRAINT \S+ (?:FOREIGN KEY|CHECK)(?!.*NOT VALID)", "validates"),
    (r"ALTER TABLE (\S+) ADD CONSTRAINT \S+ UNIQUE", "builds a unique index under lock"),
    (r"ALTER TABLE (\S+) DROP COLUMN", "drops a column the old code reads"),
    (r"DROP TABLE (\S+)", "drops a table the old code reads"),
    (r"ALTER TABLE (\S+) RENAME", "renames what the old code reads"),
]


def findings(sql: list[str], operations) -> list[str]:
    created = {m for s in sql for m in re.findall(r'CREATE TABLE ("[^"]+")', s)}
    found = []
    for statement in sql:
        flat = " ".join(statement.split())
        for pattern, why in RULES:
            match = re.search(pattern, flat)
            if match and match.group(1) not in created:
                found.append(f"{why}: {flat[:160]}")
    for operation in operations:
        if isinstance(operation, RunSQL):
            text = operation.sql if isinstance(operation.sql, str) else " ".join(operation.sql)
            if "lock_timeout" not in text:
                found.append(f"RunSQL without lock_timeout: {text[:120]}")
    return found


def on_disk() -> list[tuple[str, str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(key for key in loader.disk_migrations if key[0] in APPS)


def test_every_migration_is_safe_while_the_old_release_serves():
    executor = MigrationExecutor(connection)
    unsafe = []
    for key in on_disk():
        if key in REVIEWED:
            continue
        migration = executor.loader.get_migration(*key)
        sql = executor.loader.collect_sql([(migration, False)])
        unsafe += [f"{'/'.join(key)}: {finding}" for finding in findings(sql, migration.operations)]
    assert not unsafe, "\n".join(unsafe)


def test_reviewed_exceptions_name_real_migrations_and_say_why():
    assert set(REVIEWED) <= set(on_disk())
    assert all(len(why) > 20 for why in REVIEWED.values())


def test_the_checker_reads_the_sql_migrations_really_run():
    executor = MigrationExecutor(connection)
    migration = executor.loader.get_migration("petition", "0001_initial")
    sql = executor.loader.collect_sql([(migration, False)])
    assert any('CREATE TABLE "petition_signature"' in s for s in sql)
    assert findings(sql, migration.operations) == [], "tables it creates are its own"


def test_the_rule_catches_each_dangerous_statement():
    existing = '"petition_signature"'
    dangerous = [
        f'ALTER TABLE {existing} ALTER COLUMN "name" TYPE text',
        f'ALTER TABLE {existing} ALTER COLUMN "name" SET NOT NULL',
        f'CREATE INDEX "x" ON {existing} ("name")',
        f'CREATE UNIQUE INDEX "x" ON {existing} ("name")',
        f'ALTER TABLE {existing} ADD CONSTRAINT "c" CHECK ("n" > 0)',
        f'ALTER TABLE {existing} ADD CONSTRAINT "f" FOREIGN KEY ("l") REFERENCES "x" ("id")',
        f'ALTER TABLE {existing} ADD CONSTRAINT "u" UNIQUE ("name")',
        f'ALTER TABLE {existing} DROP COLUMN "name" CASCADE',
        f"DROP TABLE {existing} CASCADE",
        f'ALTER TABLE {existing} RENAME COLUMN "a" TO "b"',
    ]
    for statement in dangerous:
        assert findings([statement], []), statement
    assert findings([], [RunSQL("UPDATE petition_signature SET name = ''")])


def test_the_rule_lets_safe_statements_through():
    safe = [
        'ALTER TABLE "petition_signature" ADD COLUMN "note" text NULL',
        'ALTER TABLE "petition_signature" ADD COLUMN "n" integer DEFAULT 0 NOT NULL',
        'CREATE INDEX CONCURRENTLY "x" ON "petition_signature" ("name")',
        'ALTER TABLE "petition_signature" ADD CONSTRAINT "c" CHECK ("n" > 0) NOT VALID',
        'CREATE TABLE "petition_new" ("id" bigint NOT NULL PRIMARY KEY)',
        'CREATE INDEX "y" ON "petition_new" ("id")',
    ]
    assert findings(safe, []) == []
    assert findings([], [RunSQL("SET lock_timeout = '2s'; UPDATE t SET a = 1")]) == []
