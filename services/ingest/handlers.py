"""Ingest's message handler: decode the AMQP properties, decide, ack.

Failure semantics: a bad document is a result (acked with a ``rejected``
event); a database or broker failure is retried by requeueing after a short
pause, until the queue's delivery limit dead-letters the message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.rabbit.annotations import RabbitMessage

from services.ingest.domain.submission import decode
from services.ingest.service import IngestService
from shared.consumer import settle
from shared.logging import bound, get_logger

log = get_logger(__name__)


def make_handler(service: IngestService) -> Callable[[bytes, RabbitMessage], Awaitable[None]]:
    async def on_submission(body: bytes, msg: RabbitMessage) -> None:
        raw = msg.raw_message
        sub = decode(raw.headers, raw.message_id, raw.content_type, raw.user_id,
                     raw.routing_key, service.operators)
        with bound(submission_id=sub.message_id, tenant=sub.tenant):
            if sub.broker_headers_forged:
                # Dead-lettered, its forged x-death would name the routing key a replay uses:
                # answer it if possible, and in any case take it off the queue for good.
                try:
                    await service.handle(body, sub)
                except Exception as exc:  # e.g. the database is down: drop, never dead-letter
                    log.warning("forged-submission-dropped", error=type(exc).__name__)
                await msg.ack()
                return
            async with settle(msg, "ingest"):
                await service.handle(body, sub, redelivered=bool(raw.redelivered))

    return on_submission
