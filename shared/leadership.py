"""One process of a service at a time runs its singleton jobs: a PostgreSQL session lock.

Contract: :meth:`Leadership.held` returns True while this process holds the session-level
advisory lock ``pg_try_advisory_lock(key)`` of its service on a connection of its own (not
from the pool, so the lock is never returned to the pool with it). Every replica asks on each
tick; whoever holds the lock stays leader until its session ends. A leader that dies, is
SIGKILLed or loses its connection (database restart, network) frees the lock with its
session, and the next replica to ask takes over: no lease to expire, no clock involved.

Failure semantics: a database error answers False (and the connection is dropped, to be
opened again at the next ask), so a job is skipped rather than run twice on purpose. Between
a leader's connection dying and that process noticing it, another replica may already lead:
jobs guarded by it must still be idempotent (they are: derived event ids, monotonic cursors,
``ON CONFLICT``); the lock saves the duplicate work and keeps one follower reading at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

import psycopg

from shared.logging import get_logger

log = get_logger(__name__)

ASK_TIMEOUT_S = 10.0
# Both ends notice a dead peer in about 25 s instead of hours: the client stops leading, the
# server ends the session and frees the lock for another replica (a partition, a dead host).
_KEEPALIVE: dict[str, Any] = {
    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
    "options": "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5"
               " -c tcp_keepalives_count=3"}


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` (stable across processes and hosts)."""
    digest = hashlib.sha256(f"efacture.leader.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Leadership:
    """Leadership of ``name`` among the processes connecting to ``url``'s database."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self.key = lock_key(name)
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._leader = False
        # Several periodic jobs of a process ask at once: one connection, one question at a time.
        self._asking = asyncio.Lock()

    @property
    def leader(self) -> bool:
        """Whether the last :meth:`held` found this process leading."""
        return self._leader

    async def held(self) -> bool:
        """Whether this process leads now (taking the lock when it is free)."""
        async with self._asking:
            try:
                return await asyncio.wait_for(self._ask(), ASK_TIMEOUT_S)
            except TimeoutError:  # a half-open connection: give up leading, ask again later
                if self._leader:
                    log.warning("leader-lost", job=self.name, error="no answer")
                await self._drop()
                return False

    async def _ask(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=5, **_KEEPALIVE)
                self._leader = False
            if self._leader:
                await self._conn.execute("SELECT 1")  # the session, hence the lock, is alive
                return True
            cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
            row = await cur.fetchone()
            self._leader = bool(row and row[0])
            if self._leader:
                log.info("leader-elected", job=self.name)
            return self._leader
        except psycopg.Error as exc:
            if self._leader:
                log.warning("leader-lost", job=self.name, error=str(exc))
            self._leader = False
            await self.close()
            return False

    async def close(self) -> None:
        """Give up leadership (closing the session frees the lock)."""
        conn, self._conn = self._conn, None
        self._leader = False
        if conn is not None and not conn.closed:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def _drop(self) -> None:
        # After a timeout the connection may be mid-query: close it without waiting on it.
        conn, self._conn = self._conn, None
        self._leader = False
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 1.0)
