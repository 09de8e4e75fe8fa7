"""Transmit's handlers: archived invoices (and their retries/replays), and flow polls.

Every PA outcome is answered inside the service (success, parked retry or
dead letter), so the message is acked; only database or broker failures
escape and are requeued with back-off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.rabbit.annotations import RabbitMessage
from pydantic import ValidationError

from services.transmit.lifecycle import LifecycleService
from services.transmit.service import Delivery, TransmitService
from shared.consumer import settle
from shared.errors import PermanentError
from shared.logging import bound
from shared.messages.internal import FlowPoll, InvoiceArchived

Handler = Callable[[bytes, RabbitMessage], Awaitable[None]]


def _replays(msg: RabbitMessage) -> int:
    value = (msg.raw_message.headers or {}).get("x-efacture-replay-count", 0)
    return value if isinstance(value, int) else 0


def _not_before(msg: RabbitMessage) -> float | None:
    """Epoch seconds before which the PA asked not to be called again (429 Retry-After)."""
    value = (msg.raw_message.headers or {}).get("x-efacture-not-before-ms")
    return value / 1000 if isinstance(value, int) and not isinstance(value, bool) else None


def make_handlers(service: TransmitService, lifecycle: LifecycleService) -> tuple[Handler, Handler]:
    async def on_archived(body: bytes, msg: RabbitMessage) -> None:
        async with settle(msg, "transmit"):
            try:
                archived = InvoiceArchived.model_validate_json(body)
            except ValidationError as exc:
                raise PermanentError("undecodable transmit message", code="bad-message") from exc
            with bound(submission_id=archived.submission_id, invoice_id=archived.invoice_id,
                       tenant=archived.tenant):
                await service.handle(archived, Delivery(replays=_replays(msg),
                                                         not_before=_not_before(msg)))

    async def on_poll(body: bytes, msg: RabbitMessage) -> None:
        async with settle(msg, "transmit"):
            try:
                poll = FlowPoll.model_validate_json(body)
            except ValidationError as exc:
                raise PermanentError("undecodable poll message", code="bad-message") from exc
            with bound(invoice_id=poll.invoice_id, tenant=poll.tenant):
                await lifecycle.poll(poll)

    return on_archived, on_poll
