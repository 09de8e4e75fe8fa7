"""One process at a time leads a service's singleton jobs, and another takes over when the
leader's session dies (SIGKILL, lost connection) — on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from shared.leadership import Leadership

pytestmark = pytest.mark.integration


def _backend_of_lock(url: str, leadership: Leadership) -> int | None:
    key = leadership.key & 0xFFFFFFFFFFFFFFFF
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1"
            # advisory locks are per database: never another test's (or helper's) backend
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (key >> 32, key & 0xFFFFFFFF)).fetchone()
    return int(row[0]) if row else None


def test_one_leader_at_a_time_and_a_dead_leaders_lock_passes_on(infra: Any) -> None:
    url = infra.database_url

    async def scenario() -> None:
        a, b, other = (Leadership(url, "transmit"), Leadership(url, "transmit"),
                       Leadership(url, "archive"))
        try:
            assert await a.held()
            assert not await b.held(), "two processes led the same jobs"
            assert await a.held(), "the leader lost its lock while alive"
            assert await other.held(), "another service's leadership is independent"
            backend = _backend_of_lock(url, a)
            assert backend is not None
            with psycopg.connect(url, autocommit=True) as conn:  # the leader's session dies
                conn.execute("SELECT pg_terminate_backend(%s)", (backend,))
            for _ in range(50):
                if await b.held():
                    break
                await asyncio.sleep(0.1)
            assert b.leader, "no process took over from the dead leader"
            assert not await a.held(), "the old leader still believed it led"
            assert not await a.held()
        finally:
            for x in (a, b, other):
                await x.close()

    asyncio.run(scenario())
