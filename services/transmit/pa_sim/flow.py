"""A flow held by the simulator, and its JSON face (contract section 5 field names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.transmit.pa_sim.labels import lifecycle_label


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, so ``updatedAfter`` round-trips without ties."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Flow:
    flow_id: str
    tracking_id: str
    direction: str
    syntax: str
    submitted_at: datetime
    updated_at: datetime
    ack_status: str = "Pending"
    name: str = ""
    profile: str | None = None
    sha256: str | None = None
    reasons: list[dict[str, str]] = field(default_factory=list)
    lifecycle_code: int | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "flowId": self.flow_id,
            "trackingId": self.tracking_id,
            "name": self.name,
            "flowSyntax": self.syntax,
            "flowProfile": self.profile,
            "flowDirection": self.direction,
            "ackStatus": self.ack_status,
            "reasons": list(self.reasons),
            "submittedAt": iso(self.submitted_at),
            "updatedAt": iso(self.updated_at),
        }
        if self.lifecycle_code is not None:
            body["lifecycleCode"] = self.lifecycle_code
            body["lifecycleLabel"] = lifecycle_label(self.lifecycle_code)
        return body
