"""Composition root of a service process: broker, database pool, publisher, background tasks.

``Runtime`` is built once per process (never at import time) and handed to the
service's handlers. Its ``start`` runs migrations, opens the pool and declares
the topology before FastStream starts consuming; ``stop`` closes them after the
broker has drained in-flight messages (FastStream's graceful timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream import FastStream
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitQueue
from psycopg_pool import AsyncConnectionPool

from shared import db, metrics, outbox
from shared.amqp_nodes import rabbit_broker
from shared.consumer import raw_body
from shared.leadership import Leadership
from shared.logging import configure, get_logger
from shared.nacked import publish_confirmed
from shared.settings import Settings
from shared.topology import Topology, declare

log = get_logger(__name__)


def _faststream_logger() -> logging.Logger:
    logger = logging.getLogger("efacture.faststream")
    logger.setLevel(logging.WARNING)
    return logger


class Runtime:
    """Everything a service's handlers need, created at start and closed at stop."""

    def __init__(self, settings: Settings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.topology = Topology.build(settings.transmit_retry_delays, settings.delivery_limit,
                                       settings.quorum_size)
        self.broker = rabbit_broker(
            settings.amqp_url,
            default_channel=Channel(prefetch_count=settings.prefetch, on_return_raises=True),
            graceful_timeout=30.0,
            # FastStream's per-message lines go out at DEBUG and are dropped by the logger's
            # WARNING level; its connection losses and handler crashes (ERROR) still show.
            logger=_faststream_logger(),
            log_level=logging.DEBUG,
        )
        self._pool: AsyncConnectionPool | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._periodic: list[tuple[float, Callable[[], Awaitable[Any]], bool]] = []
        self._leadership: Leadership | None = None
        self._ready = False
        self._http: asyncio.AbstractServer | None = None

    @property
    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise RuntimeError("runtime not started")
        return self._pool

    def every(self, seconds: float, job: Callable[[], Awaitable[Any]], *,
              leader: bool = False) -> None:
        """Run ``job`` every ``seconds`` while the service runs; failures are logged, not fatal.

        ``leader``: only in the one process of this service that holds its leadership lock
        (:mod:`shared.leadership`), for jobs that must not run in every replica at once."""
        self._periodic.append((seconds, job, leader))

    def consume(
        self, queue: str, handler: Callable[..., Awaitable[None]], *, title: str,
        description: str, prefetch: int | None = None,
    ) -> Any:
        """Subscribe ``handler`` to ``queue``: manual acks, raw bytes for the body; returns the
        FastStream subscriber.

        ``prefetch`` gives the subscriber its own channel. The queue is then taken passively
        (``start`` declared it with its arguments): FastStream caches a declared queue with
        the channel that declared it, and would otherwise ignore the subscriber's channel.
        """
        extra: dict[str, Any] = {}
        target = self.topology.queue(queue)
        if prefetch is not None:
            target = RabbitQueue(queue, durable=True, declare=False)
            extra["channel"] = Channel(prefetch_count=prefetch, on_return_raises=True)
        subscriber = self.broker.subscriber(
            target, ack_policy=AckPolicy.MANUAL, decoder=raw_body, title=title,
            description=description, **extra)
        subscriber(handler)
        return subscriber

    def app(
        self, *, on_startup: Sequence[Callable[[], Awaitable[Any]]] = (),
        after_shutdown: Sequence[Callable[[], Awaitable[Any]]] = (),
    ) -> FastStream:
        """The service's FastStream app: ``on_startup`` hooks run before :meth:`start`,
        ``after_shutdown`` hooks before :meth:`stop` (after in-flight messages finished) and
        after the periodic jobs stopped (:meth:`stop_jobs`: none of them runs on what those
        hooks close)."""
        return FastStream(self.broker, on_startup=[*on_startup, self.start],
                          after_startup=[self.announce_ready],
                          after_shutdown=[self.stop_jobs, *after_shutdown, self.stop],
                          logger=None)

    async def publish(
        self,
        *,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        content_type: str = "application/json",
        mandatory: bool = True,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish a persistent message and wait for the broker's confirm (raises if unroutable).

        A nack is waited out here, up to ``publish_nack_patience_s`` (:mod:`shared.nacked`),
        so a broker that refuses for a while does not burn the input's delivery limit."""
        await publish_confirmed(
            lambda: self.broker.publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                message_id=message_id,
                content_type=content_type,
                persist=True,
                mandatory=mandatory,
                headers=headers,
            ),
            patience=self.settings.publish_nack_patience_s,
        )
        metrics.AMQP_PUBLISHED.labels(self.service).inc()

    async def start(self) -> None:
        configure(self.service, self.settings.log_level)
        await asyncio.to_thread(db.migrate, self.settings.database_url)
        # Its own role, not the migration role (least privilege, shared/db_roles.py).
        self._pool = await db.open_pool(
            db.service_url(self.settings, self.service), max_size=self.settings.db_pool_size
        )
        await self.broker.connect()
        await declare(self.broker, self.topology)
        self.every(5.0, self._sweep)  # every replica: SKIP LOCKED shares the rows out
        if any(leader for _, _, leader in self._periodic):
            self._leadership = Leadership(db.service_url(self.settings, self.service),
                                          self.service)
        for seconds, job, leader in self._periodic:
            self._tasks.append(asyncio.create_task(self._loop(seconds, job, leader)))
        port = settings_port(self.settings, self.service)
        self._http = await metrics.serve(self.settings.bind_host, port, lambda: self._ready)
        sockets = getattr(self._http, "sockets", None)  # an asyncio.Server's listeners
        if sockets:
            port = int(sockets[0].getsockname()[1])  # the OS's choice for port 0
        log.info("service-started", metrics_port=port, replica=self.settings.replica)

    async def announce_ready(self) -> None:
        """Tell a supervising ``efacture up`` that this service consumes (one stdout line);
        from now on ``/health`` answers 200."""
        self._ready = True
        print(f"READY {self.service}", flush=True)
        sys.stdout.flush()

    async def stop_jobs(self) -> None:
        """Cancel the periodic jobs and wait for them (a job cut mid-run redoes its work on the
        next start: each one is idempotent). Called again by :meth:`stop`, then a no-op."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def stop(self) -> None:
        self._ready = False
        if self._http is not None:
            self._http.close()
        await self.stop_jobs()
        if self._leadership is not None:
            await self._leadership.close()
        if self._pool is not None:
            await self._pool.close()
        log.info("service-stopped")

    async def _sweep(self) -> None:
        n = await outbox.sweep(self.pool, self.publish)
        if n:
            log.warning("outbox-swept", published=n)

    async def _loop(self, seconds: float, job: Callable[[], Awaitable[Any]],
                    leader: bool) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                if leader and self._leadership is not None and not await self._leadership.held():
                    continue
                await job()
            except Exception as exc:  # a periodic job must not kill the service
                log.warning(
                    "periodic-job-failed", job=getattr(job, "__name__", "?"), error=str(exc)
                )


def settings_port(settings: Settings, service: str) -> int:
    """This process's health/metrics port: ``EFACTURE_METRICS_PORT`` when set (0: the OS
    chooses, the log says which), else ``EFACTURE_METRICS_PORT_BASE`` + the service's offset
    + 10 × ``EFACTURE_REPLICA``."""
    if settings.metrics_port is not None:
        return settings.metrics_port
    return metrics.service_port(settings.metrics_port_base, service, settings.replica)
