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
from shared.logging import bound


def make_handler(service: IngestService) -> Callable[[bytes, RabbitMessage], Awaitable[None]]:
    async def on_submission(body: bytes, msg: RabbitMessage) -> None:
        raw = msg.raw_message
        sub = decode(raw.headers, raw.message_id, raw.content_type, raw.user_id,
                     raw.routing_key, service.operators)
        with bound(submission_id=sub.message_id, tenant=sub.tenant):
            async with settle(msg, "ingest"):
                await service.handle(body, sub, redelivered=bool(raw.redelivered))

    return on_submission
