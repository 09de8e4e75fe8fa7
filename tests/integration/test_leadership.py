"""One process at a time leads a service's singleton jobs, and another takes over when the
leader's session dies (SIGKILL, lost connection) — on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from shared.leadership import Leadership
from tests.support.leaders import lock_holders

pytestmark = pytest.mark.integration


def test_one_leader_at_a_time_and_a_dead_leaders_lock_passes_on(infra: Any) -> None:
    url = infra.database_url

    async def scenario() -> None:
        a, b, other = (Leadership(url, "transmit"), Leadership(url, "transmit"),
                       Leadership(url, "archive"))
        try:
            # Several periodic jobs of one process ask at once: still one session, one leader.
            assert await asyncio.gather(a.held(), a.held(), a.held()) == [True, True, True]
            assert not await b.held(), "two processes led the same jobs"
            assert await a.held(), "the leader lost its lock while alive"
            assert await other.held(), "another service's leadership is independent"
            holders = lock_holders(url, "transmit")
            assert len(holders) == 1
            backend = holders[0]
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
