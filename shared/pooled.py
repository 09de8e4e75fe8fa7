"""A pooled connection in autocommit mode, for work that needs no transaction of its own.

A statement on a pooled connection otherwise opens a transaction: ``BEGIN``, the statement,
then the ``COMMIT`` when the connection goes back, three round trips where one does. Use it
for single reads and single-statement updates only: several statements in this block are
not atomic (each commits on its own) and do not see one snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool


@asynccontextmanager
async def autocommit(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection of ``pool`` with autocommit on; it goes back to the pool with it off."""
    async with pool.connection() as conn:
        await conn.set_autocommit(True)  # an idle connection: no round trip
        try:
            yield conn
        finally:
            if not conn.closed:
                await conn.set_autocommit(False)


# Errors one row of a batch can cause (a bad value, a violated constraint), after which its
# transaction committed nothing: a batch failing with one is worth bisecting (shared.batcher).
ROW_ERRORS = (
    psycopg.DataError, psycopg.IntegrityError, ValueError, OverflowError)
