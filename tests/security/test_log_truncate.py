"""Issue 10, property 8 (archive side): the append-only log tables refuse TRUNCATE — even from
the role that owns them (the services' own roles hold no TRUNCATE privilege besides)."""

from __future__ import annotations

import psycopg
import pytest

from shared import db
from tests.support.infra import Infra

pytestmark = [pytest.mark.security, pytest.mark.integration]
LOG_TABLES = ("archive.log_leaf", "archive.log_node", "archive.log_checkpoint")


@pytest.mark.parametrize("table", LOG_TABLES)
def test_the_owner_cannot_truncate_a_log_table(infra: Infra, table: str) -> None:
    db.migrate(infra.database_url)
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO archive.log_leaf (idx, hash, data) VALUES"
                     " ((SELECT coalesce(max(idx) + 1, 0) FROM archive.log_leaf),"
                     " decode(repeat('ab', 32), 'hex'), 'x')")
        before = conn.execute("SELECT count(*) FROM archive.log_leaf").fetchone()
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(f"TRUNCATE {table} CASCADE")
        assert conn.execute("SELECT count(*) FROM archive.log_leaf").fetchone() == before
