"""Internal messages between the four services (never seen by partners)."""

from __future__ import annotations

import base64
import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import field_serializer, field_validator

from shared.messages.base import Message


class InvoiceAccepted(Message):
    """ingest → archive: a submission that passed every check, with its original bytes.

    The document travels here once more (base64 in JSON) because the archive must
    encrypt it; later hops carry only a reference to the encrypted blob.
    """

    schema_version: Literal["efacture.invoice-accepted.v1"] = "efacture.invoice-accepted.v1"
    invoice_id: uuid.UUID
    tenant: str
    submission_id: str
    sha256: str
    content_type: str
    kind: str
    syntax: str | None
    profile: str | None
    invoice_number: str | None
    type_code: str | None
    issue_date: date | None
    recipient_id: str | None
    recipient_name: str | None
    recipient_email: str | None
    amount_payable: str | None
    currency: str | None
    transmit: bool
    received_at: datetime
    document: bytes

    @field_serializer("document")
    def _b64(self, value: bytes) -> str:
        return base64.b64encode(value).decode()

    @field_validator("document", mode="before")
    @classmethod
    def _unb64(cls, value: object) -> object:
        if isinstance(value, str):
            return base64.b64decode(value, validate=True)
        return value


class InvoiceArchived(Message):
    """archive → transmit and metering: the invoice is durably archived (claim check)."""

    schema_version: Literal["efacture.invoice-archived.v1"] = "efacture.invoice-archived.v1"
    invoice_id: uuid.UUID
    tenant: str
    submission_id: str
    invoice_number: str | None
    sha256: str
    syntax: str | None
    profile: str | None
    transmit: bool
    archived_at: datetime


class InvoicePurged(Message):
    """archive → metering: the invoice left the archive (retention passed)."""

    schema_version: Literal["efacture.invoice-purged.v1"] = "efacture.invoice-purged.v1"
    invoice_id: uuid.UUID
    tenant: str
    purged_at: datetime


class FlowPoll(Message):
    """transmit → transmit (through a delay queue), from earlier versions: check a flow's
    acknowledgement again. No longer published: polls are due rows now (transmit/polling.py)."""

    schema_version: Literal["efacture.flow-poll.v1"] = "efacture.flow-poll.v1"
    invoice_id: uuid.UUID
    tenant: str
    flow_id: str
    polls: int = 0
