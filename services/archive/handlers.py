"""Archive's message handler: decode ``InvoiceAccepted``, archive it, ack after confirms.

A message that does not decode is permanent (dead-lettered); TSA, blob store
or database failures are retried with back-off until the delivery limit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from faststream.rabbit.annotations import RabbitMessage
from pydantic import ValidationError

from services.archive.service import ArchiveService
from shared.consumer import settle
from shared.errors import PermanentError
from shared.logging import bound
from shared.messages.internal import InvoiceAccepted


def make_handler(service: ArchiveService) -> Callable[[bytes, RabbitMessage], Awaitable[None]]:
    async def on_accepted(body: bytes, msg: RabbitMessage) -> None:
        async with settle(msg, "archive"):
            try:
                accepted = InvoiceAccepted.model_validate_json(body)
            except ValidationError as exc:
                raise PermanentError(f"undecodable archive message: {exc.errors()[0]['msg']}",
                                     code="bad-message") from exc
            with bound(submission_id=accepted.submission_id, invoice_id=accepted.invoice_id,
                       tenant=accepted.tenant):
                await service.handle(accepted)

    return on_accepted
