"""EFACTURE_DATABASE_URL naming several hosts (issue 14 item 5): libpq's multi-host syntax with
``target_session_attrs=read-write`` reaches the writable server even when a read-only one
(a standby) is listed first, for migrations, the CLI's connections and the services' pools.
The whole pipeline with a host that refuses connections first is in ``test_s3_pipeline``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from shared import db
from tests.distributed.pg_node import ReadOnlyPostgres
from tests.support.infra import Infra

pytestmark = pytest.mark.distributed


@pytest.fixture(scope="module")
def read_only() -> Iterator[ReadOnlyPostgres]:
    node = ReadOnlyPostgres()
    try:
        node.start()
        yield node
    finally:
        node.stop()


def _hosts_url(infra: Infra, node: ReadOnlyPostgres, attrs: str, dbname: str) -> str:
    primary = urlsplit(infra.database_url)
    user = primary.username or "postgres"
    return (f"postgresql://{user}@127.0.0.1:{node.port},{primary.hostname}:{primary.port or 5432}"
            f"/{dbname}?target_session_attrs={attrs}&connect_timeout=5")


def test_read_write_skips_the_read_only_host(infra: Infra, read_only: ReadOnlyPostgres) -> None:
    url = _hosts_url(infra, read_only, "read-write", infra.database)
    db.migrate(url)  # creates the schemas: it reached the writable server
    with psycopg.connect(url) as conn:
        assert conn.info.port != read_only.port
        conn.execute("CREATE TABLE IF NOT EXISTS public.multi_host_probe (x int)")

    async def through_pool() -> int:
        pool = await db.open_pool(url, max_size=2)
        try:
            async with pool.connection() as conn:
                await conn.execute("INSERT INTO public.multi_host_probe VALUES (1)")
                return conn.info.port
        finally:
            await pool.close()

    assert asyncio.run(through_pool()) != read_only.port


def test_without_read_write_the_first_host_is_taken(infra: Infra,
                                                    read_only: ReadOnlyPostgres) -> None:
    """The control: the read-only node is really first and really refuses writes."""
    url = _hosts_url(infra, read_only, "any", "postgres")
    with psycopg.connect(url) as conn:
        assert conn.info.port == read_only.port
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE refused (x int)")
