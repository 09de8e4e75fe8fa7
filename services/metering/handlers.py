"""Metering's handler: archived and purged events, counted once, acked after their batch commits.

The handler decodes the event, hands it to the batcher and waits for the batch holding it to
commit: it acks only then. A failed batch fails every handler waiting on it, and ``settle``
requeues each message (with back-off) — the ledger makes the second attempt safe. An
undecodable body is dead-lettered at once, without touching the batch.

FastStream (through aiormq) runs one task per delivery, so up to ``prefetch`` handlers wait on
the batcher at once: the channel's prefetch bounds the batch size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.rabbit.annotations import RabbitMessage
from pydantic import ValidationError

from services.metering.service import MeteringEvent
from shared.batcher import Batcher
from shared.consumer import settle
from shared.errors import PermanentError
from shared.messages.internal import InvoiceArchived, InvoicePurged
from shared.topology import RK_PURGED


def decode(body: bytes, routing_key: str | None) -> MeteringEvent:
    """The event in ``body``; raises PermanentError when it is not a valid metering event."""
    try:
        event: MeteringEvent = (InvoicePurged.model_validate_json(body)
                                if routing_key == RK_PURGED
                                else InvoiceArchived.model_validate_json(body))
    except ValidationError as exc:
        raise PermanentError("undecodable metering event", code="bad-message") from exc
    # Checked here, not in the batch: one poison event must not fail its whole batch.
    instant = event.purged_at if isinstance(event, InvoicePurged) else event.archived_at
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise PermanentError("metering event time has no time zone", code="bad-message")
    return event


def make_handler(
    batcher: Batcher[MeteringEvent],
) -> Callable[[bytes, RabbitMessage], Awaitable[None]]:
    """The subscriber's handler; wire it with ``decoder=raw_body`` (it validates the bytes)."""

    async def on_event(body: bytes, msg: RabbitMessage) -> None:
        async with settle(msg, "metering"):
            await batcher.submit(decode(body, msg.raw_message.routing_key))

    return on_event
