"""Metering's handler: archived and purged events, counted once, acked after commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.rabbit.annotations import RabbitMessage
from pydantic import ValidationError

from services.metering.service import MeteringService
from shared.consumer import settle
from shared.errors import PermanentError
from shared.logging import bound
from shared.messages.internal import InvoiceArchived, InvoicePurged
from shared.topology import RK_PURGED


def make_handler(service: MeteringService) -> Callable[[bytes, RabbitMessage], Awaitable[None]]:
    async def on_event(body: bytes, msg: RabbitMessage) -> None:
        async with settle(msg, "metering"):
            try:
                if msg.raw_message.routing_key == RK_PURGED:
                    purged = InvoicePurged.model_validate_json(body)
                    with bound(invoice_id=purged.invoice_id, tenant=purged.tenant):
                        await service.purged(purged)
                    return
                archived = InvoiceArchived.model_validate_json(body)
            except ValidationError as exc:
                raise PermanentError("undecodable metering event", code="bad-message") from exc
            with bound(submission_id=archived.submission_id, invoice_id=archived.invoice_id,
                       tenant=archived.tenant):
                await service.archived(archived)

    return on_event
