"""Seed a letter's public log with one `sign` entry per seeded signature, and its Merkle nodes,
through COPY: what a million verifications would have appended, built in a few seconds."""

import hashlib
import time

from lib import merkle
from petition import tlog
from petition.models import LogNode, PublicLogEntry, Tally


def seed_log(conn, *, letter_id: int, slug: str, count: int, version: int | None) -> dict:
    """`conn` is a psycopg 3 connection to the benchmark database (autocommit off)."""
    started = time.monotonic()
    hour = tlog.hour(tlog.timezone.now())
    store = merkle.MemoryStore()
    leaves = []
    with conn.cursor() as cursor:
        with cursor.copy(
            f"COPY {PublicLogEntry._meta.db_table} (letter_id, index, data, ref) FROM STDIN"
        ) as copy:
            for index in range(count):
                ref = hashlib.sha256(f"bench-{slug}-{index}".encode()).hexdigest()
                data = tlog.encode(
                    {
                        "kind": "sign",
                        "letter": slug,
                        "seq": index,
                        "level": ("public", "anonymous", "private")[index % 3],
                        "employee": index % 2 == 0,
                        "version": version,
                        "hour": hour,
                        "ref": ref,
                    }
                )
                copy.write_row((letter_id, index, data, ref))
                leaves.append(merkle.leaf_hash(data))
        store.extend_hashes(leaves)
        with cursor.copy(
            f'COPY {LogNode._meta.db_table} (letter_id, "level", "index", hash) FROM STDIN'
        ) as copy:
            for (level, index), value in store.nodes.items():
                copy.write_row((letter_id, level, index, value))
        cursor.execute(
            f"UPDATE {Tally._meta.db_table} SET log_size = %s WHERE letter_id = %s",
            [count, letter_id],
        )
    conn.commit()
    return {"entries": count, "nodes": len(store.nodes), "seconds": time.monotonic() - started}
