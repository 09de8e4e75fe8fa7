"""The public status event of contract section 3 (``efacture.status.v1``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_serializer

from shared.messages.base import Message, derived_id, utcnow

EventName = Literal[
    "received", "rejected", "archived", "transmitted", "lifecycle", "transmission_failed", "purged"
]

LIFECYCLE_LABELS: dict[int, str] = {
    200: "Déposée", 201: "Émise", 202: "Reçue", 203: "Mise à disposition", 204: "Prise en charge",
    205: "Approuvée", 206: "Approuvée partiellement", 207: "En litige", 208: "Suspendue",
    209: "Complétée", 210: "Refusée", 211: "Paiement transmis", 212: "Encaissée", 213: "Rejetée",
    214: "Visée", 220: "Annulée", 221: "Erreur de routage", 224: "Demande de paiement direct",
    225: "Affacturée", 226: "Affacturée confidentiel", 227: "Changement de compte à payer",
    228: "Non affacturée", 501: "Irrecevable",
}


class EventReason(Message):
    """One machine-readable reason (``code``) with a human sentence."""

    code: str
    message: str
    path: str | None = None


class StatusEvent(Message):
    """What partners receive on ``efacture.status``; every key is always present."""

    schema_: Literal["efacture.status.v1"] = Field(default="efacture.status.v1", alias="schema")
    event_id: uuid.UUID
    event: EventName
    occurred_at: datetime
    tenant: str
    submission_id: str | None
    invoice_id: uuid.UUID | None
    invoice_number: str | None
    lifecycle_code: int | None
    lifecycle_label: str | None
    reasons: list[EventReason]
    detail: dict[str, Any]

    model_config = Message.model_config | {"populate_by_name": True}

    @field_serializer("occurred_at")
    def _iso_millis(self, value: datetime) -> str:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @property
    def routing_key(self) -> str:
        """``status.<tenant SIRET>.<event>`` (``unknown`` when the tenant is unusable)."""
        return f"status.{self.tenant}.{self.event}"

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


def make_event(
    event: EventName,
    *,
    tenant: str,
    submission_id: str | None,
    invoice_id: uuid.UUID | None,
    invoice_number: str | None = None,
    lifecycle_code: int | None = None,
    reasons: list[EventReason] | None = None,
    detail: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    discriminator: str = "",
) -> StatusEvent:
    """Build an event whose ``event_id`` is derived from its subject, event and code.

    ``discriminator`` separates events that may legitimately repeat for one subject
    (for instance two ``transmission_failed`` after a replay).
    """
    subject = invoice_id or f"{tenant}/{submission_id}"
    return StatusEvent(
        event_id=derived_id(subject, event, lifecycle_code or "", discriminator),
        event=event,
        occurred_at=occurred_at or utcnow(),
        tenant=tenant,
        submission_id=submission_id,
        invoice_id=invoice_id,
        invoice_number=invoice_number,
        lifecycle_code=lifecycle_code,
        lifecycle_label=LIFECYCLE_LABELS.get(lifecycle_code) if lifecycle_code else None,
        reasons=reasons or [],
        detail=detail or {},
    )
