"""A small async context for CLI commands that write like a service without being one.

``purge`` and ``export`` need a psycopg pool and, for ``purge``, a publisher with
confirms (the outbox is flushed by the command itself, right after its commits). They must
not start consumers or periodic jobs, so :class:`shared.runtime.Runtime` is too much here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from faststream.rabbit import Channel, RabbitBroker
from psycopg_pool import AsyncConnectionPool

from shared import db
from shared.amqp_nodes import rabbit_broker
from shared.logging import configure
from shared.settings import Settings
from shared.topology import Topology, declare


class CliRuntime:
    """A pool and (optionally) a confirmed publisher; built by :func:`cli_runtime`."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool,
                 broker: RabbitBroker | None) -> None:
        self.settings = settings
        self.pool = pool
        self._broker = broker

    async def publish(
        self, *, exchange: str, routing_key: str, body: bytes, message_id: str,
        content_type: str = "application/json", mandatory: bool = True,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish a persistent message and wait for the confirm (raises if unroutable)."""
        if self._broker is None:
            raise RuntimeError("this command was started without a broker")
        await self._broker.publish(
            body, exchange=exchange, routing_key=routing_key, message_id=message_id,
            content_type=content_type, persist=True, mandatory=mandatory, headers=headers,
        )


@asynccontextmanager
async def cli_runtime(settings: Settings, *, broker: bool = False,
                      pool_size: int = 4) -> AsyncIterator[CliRuntime]:
    """Migrate, open a pool and, with ``broker=True``, connect and declare the topology.

    Raises ``psycopg.OperationalError`` when PostgreSQL is unreachable and the broker's
    connection error when RabbitMQ is; everything opened is closed on exit.
    """
    configure("cli", settings.log_level)  # log lines to stderr: stdout is the command's output
    await asyncio.to_thread(db.migrate, settings.database_url)
    pool = await db.open_pool(settings.database_url, max_size=pool_size)
    rabbit: RabbitBroker | None = None
    try:
        if broker:
            rabbit = rabbit_broker(
                settings.amqp_url,
                default_channel=Channel(on_return_raises=True),
                logger=None,
            )
            await rabbit.connect()
            topology = Topology.build(settings.transmit_retry_delays, settings.delivery_limit,
                                      settings.quorum_size)
            await declare(rabbit, topology)
        yield CliRuntime(settings, pool, rabbit)
    finally:
        if rabbit is not None:
            await rabbit.stop()
        await pool.close()
