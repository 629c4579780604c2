"""Rewriting the files that held erased identities (README, "Security model").

PostgreSQL never overwrites a row in place: a deleted or changed row's old image stays in the
table's data file, readable by anyone who can read the file, until its page is rewritten, which
may be never. The only identities the product promises to erase while the rest of their row
lives on are a private signer's name and address, erased at verification (or withdrawal). They
are kept in two small tables and nowhere else in the database: PendingIdentity (until
verification) and the mail outbox (until the verification and confirmation mails are sent). This
step makes a new file of each (VACUUM FULL) and PostgreSQL empties the old one at commit. A row
image some transaction might still read is copied, though: an erased identity leaves the data
files at the first run that starts after every transaction open at the erasure has ended (in the
whole cluster: a long pg_dump delays it). Both tables hold only what is waiting, so a rewrite
takes a fraction of a second (0.27 s for 2,500 waiting 2-KB mails on a loaded 2-core machine);
it locks its table meanwhile, and gives up (to try again next time) rather than wait more than
LOCK_TIMEOUT behind a long transaction.

WAL and backups are not rewritten: see the security model for how long they hold the identities.
"""

import logging

from django.db import DatabaseError, connection

from .models import Mail, PendingIdentity

logger = logging.getLogger(__name__)

TABLES = (PendingIdentity, Mail)
LOCK_TIMEOUT = "2s"


def rewrite_erased_pages() -> list[str]:
    """Rewrite the tables that held erased identities; returns the tables rewritten. Outside
    any transaction (VACUUM cannot run in one). PostgreSQL only: SQLite has no such step."""
    if connection.vendor != "postgresql":
        return []
    if connection.in_atomic_block:
        raise RuntimeError("rewrite_erased_pages() must run outside a transaction")
    done = []
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = %s", [LOCK_TIMEOUT])
        try:
            for model in TABLES:
                table = connection.ops.quote_name(model._meta.db_table)
                try:
                    cursor.execute(f"VACUUM FULL {table}")
                except DatabaseError as exc:
                    logger.warning("%s not rewritten this time: %s", table, type(exc).__name__)
                else:
                    done.append(model._meta.db_table)
        finally:
            cursor.execute("RESET lock_timeout")
    return done
