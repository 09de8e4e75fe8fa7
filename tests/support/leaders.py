"""Who holds a service's leadership lock (:mod:`shared.leadership`), read from ``pg_locks``."""

from __future__ import annotations

import psycopg

from shared.leadership import lock_key


def lock_holders(url: str, name: str) -> list[int]:
    """Backends of ``url``'s database holding the leadership lock of ``name``."""
    key = lock_key(name) & 0xFFFFFFFFFFFFFFFF
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1"
            # advisory locks are per database: never another test's (or helper's) backend
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (key >> 32, key & 0xFFFFFFFF)).fetchall()
    return [int(row[0]) for row in rows]
