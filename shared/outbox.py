"""Transactional outbox: messages written in the effect's transaction, published after commit.

A handler inserts its outgoing messages with :func:`add` inside the same
transaction as its effect, commits, then calls :func:`flush` for the ids it
added, and acks its input only after ``flush`` returns (every publish confirmed).
A crash anywhere in between leaves rows with ``published_at IS NULL``: the
redelivered input flushes them again (same ``event_id``, so partners see a
repeat they can drop), and :func:`sweep` publishes any that are left behind.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from shared.logging import get_logger
from shared.messages.base import Message
from shared.messages.status import StatusEvent
from shared.pooled import autocommit
from shared.topology import STATUS

log = get_logger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: where, what, and the ids it concerns."""

    event_id: uuid.UUID
    exchange: str
    routing_key: str
    body: bytes
    tenant: str | None = None
    submission_id: str | None = None
    invoice_id: uuid.UUID | None = None
    content_type: str = "application/json"
    headers: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def status(cls, event: StatusEvent) -> Outgoing:
        return cls(
            event_id=event.event_id,
            exchange=STATUS,
            routing_key=event.routing_key,
            body=event.to_json(),
            tenant=event.tenant,
            submission_id=event.submission_id,
            invoice_id=event.invoice_id,
        )

    @classmethod
    def internal(
        cls,
        exchange: str,
        routing_key: str,
        message: Message,
        event_id: uuid.UUID,
        *,
        tenant: str | None = None,
        invoice_id: uuid.UUID | None = None,
    ) -> Outgoing:
        return cls(
            event_id=event_id,
            exchange=exchange,
            routing_key=routing_key,
            body=message.model_dump_json(by_alias=True).encode(),
            tenant=tenant,
            invoice_id=invoice_id,
        )


class Publisher(Protocol):
    async def __call__(
        self,
        *,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        content_type: str,
        mandatory: bool,
        headers: dict[str, Any] | None = None,
    ) -> None: ...


class Added(list[int]):
    """The ids :func:`add` inserted, each with the message it holds: :func:`flush` publishes
    these from memory, without reading the rows back."""

    def __init__(self, rows: Sequence[tuple[int, Outgoing]] = ()) -> None:
        super().__init__(i for i, _ in rows)
        self.items: dict[int, Outgoing] = dict(rows)


_INSERT = (
    "INSERT INTO core.outbox (event_id, exchange, routing_key, body, content_type,"
    " headers, tenant, submission_id, invoice_id)"
    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
    " ON CONFLICT (event_id) DO NOTHING RETURNING id"
)


async def add(conn: psycopg.AsyncConnection[Any], items: Sequence[Outgoing]) -> Added:
    """Insert ``items`` in the caller's transaction; an event already stored is kept as is
    (and is not among the returned ids). One round trip for all of them (pipelined)."""
    if not items:
        return Added()
    params = [(m.event_id, m.exchange, m.routing_key, m.body, m.content_type, Jsonb(m.headers),
               m.tenant, m.submission_id, m.invoice_id) for m in items]
    rows: list[tuple[int, Outgoing]] = []
    async with conn.cursor() as cur:
        if len(items) == 1:  # pipeline mode costs more than it saves for one row
            await cur.execute(_INSERT, params[0])
            row = await cur.fetchone()
            return Added([(row[0], items[0])] if row else [])
        await cur.executemany(_INSERT, params, returning=True)
        for m in items:
            row = await cur.fetchone()
            if row:
                rows.append((row[0], m))
            cur.nextset()
    return Added(rows)


_SELECT = (
    "SELECT id, event_id, exchange, routing_key, body, content_type, headers FROM core.outbox"
    " WHERE published_at IS NULL AND {where} ORDER BY id FOR UPDATE SKIP LOCKED"
)


async def _publish_rows(
    pool: AsyncConnectionPool,
    publish: Publisher,
    where: str,
    params: Sequence[object],
    *,
    pipelined: bool = False,
    tolerant: bool = False,
) -> int:
    """Publish the selected pending rows and mark them published, in one transaction.

    A failed publish raises (the caller's message is retried), unless ``tolerant``: then
    the row stays pending, is logged, and the others are still marked (the sweep's mode,
    so one unroutable row never blocks the rest).
    """
    async with pool.connection() as conn, conn.transaction():
        rows = await (await conn.execute(_SELECT.format(where=where), params)).fetchall()
        sends = [
            # Status events may have no subscriber yet: not mandatory. Internal ones must route.
            publish(
                exchange=exch,
                routing_key=rk,
                body=bytes(body),
                message_id=str(event_id),
                content_type=ctype,
                mandatory=exch != STATUS,
                headers=headers or None,
            )
            for _id, event_id, exch, rk, body, ctype, headers in rows
        ]
        results: list[BaseException | None]
        if pipelined or tolerant:
            # Sent in id order on one channel (so routed in order), confirms awaited together.
            results = list(await asyncio.gather(*sends, return_exceptions=tolerant))
        else:
            results = []
            for send in sends:
                await send
                results.append(None)
        done = []
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("outbox-publish-failed", outbox_id=row[0], error=str(result))
            else:
                done.append(row[0])
        if done:
            await conn.execute(
                "UPDATE core.outbox SET published_at = now() WHERE id = ANY(%s)", (done,)
            )
    return len(done)


async def flush(
    pool: AsyncConnectionPool, publish: Publisher, ids: Sequence[int], *, pipelined: bool = False
) -> int:
    """Publish the pending rows among ``ids`` in order, with confirms; returns how many.

    ``pipelined`` sends them all before awaiting the confirms (a batch's messages). With the
    :class:`Added` that :func:`add` returned, the messages are published from memory and then
    marked in one autocommit statement; a row the sweep (or a redelivery's :func:`flush_for`)
    publishes meanwhile goes out twice with the same ``event_id``, which every consumer
    already tolerates (at least once). A failed publish raises and leaves the rows pending.
    """
    if not ids:
        return 0
    if isinstance(ids, Added) and all(i in ids.items for i in ids):
        return await _publish_known(pool, publish, [(i, ids.items[i]) for i in ids],
                                    pipelined=pipelined)
    return await _publish_rows(pool, publish, "id = ANY(%s)", (list(ids),), pipelined=pipelined)


async def _publish_known(pool: AsyncConnectionPool, publish: Publisher,
                         rows: Sequence[tuple[int, Outgoing]], *, pipelined: bool) -> int:
    sends = [
        publish(exchange=m.exchange, routing_key=m.routing_key, body=m.body,
                message_id=str(m.event_id), content_type=m.content_type,
                mandatory=m.exchange != STATUS, headers=m.headers or None)
        for _id, m in rows
    ]
    if pipelined:
        await asyncio.gather(*sends)
    else:
        for send in sends:
            await send
    async with autocommit(pool) as conn:  # one statement: no BEGIN / COMMIT round trips
        await conn.execute("UPDATE core.outbox SET published_at = now()"
                           " WHERE id = ANY(%s) AND published_at IS NULL", ([i for i, _ in rows],))
    return len(rows)


async def flush_for(
    pool: AsyncConnectionPool,
    publish: Publisher,
    *,
    submission_id: str | None = None,
    invoice_id: uuid.UUID | None = None,
) -> int:
    """Publish what is still pending for one submission or invoice (the redelivery path)."""
    if invoice_id is not None:
        return await _publish_rows(pool, publish, "invoice_id = %s", (invoice_id,))
    return await _publish_rows(pool, publish, "submission_id = %s", (submission_id,))


async def sweep(pool: AsyncConnectionPool, publish: Publisher, older_than_s: float = 10) -> int:
    """Publish rows left pending by a crash (older than ``older_than_s``)."""
    return await _publish_rows(
        pool,
        publish,
        "created_at < now() - make_interval(secs => %s)",
        (older_than_s,),
        tolerant=True,
    )
