"""A flow held by the simulator, and its JSON face: the ``Flow`` schema of XP Z12-013 1.3.0.

``as_json`` gives exactly the document's properties (``CoreFlowInfo`` + ``FullFlowInfoExtension``
+ ``FlowExtension``): ``flowId``, ``trackingId`` (when set), ``name``, ``processingRule``,
``flowSyntax``, ``flowProfile``, ``submittedAt``, ``updatedAt``, ``flowType``,
``processingRuleSource``, ``flowDirection`` and ``acknowledgement`` ``{status, details?}``
(``details`` only when there are some: the schema says ``minItems: 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, so ``updatedAfter`` round-trips without ties."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Flow:
    flow_id: str
    owner: str  # the OAuth client that uploaded it (or that an inbound flow is for)
    tracking_id: str | None
    direction: str
    syntax: str
    flow_type: str
    submitted_at: datetime
    updated_at: datetime
    name: str = ""
    processing_rule: str = "B2B"
    processing_rule_source: str = "Input"
    profile: str = "Undefined"
    sha256: str | None = None
    ack_status: str = "Pending"
    details: list[dict[str, str]] = field(default_factory=list)
    content: bytes = b""
    lifecycle_code: int | None = None  # for inbound CDAR flows, what the document says

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "flowId": self.flow_id,
            "name": self.name,
            "processingRule": self.processing_rule,
            "flowSyntax": self.syntax,
            "flowProfile": self.profile,
            "submittedAt": iso(self.submitted_at),
            "updatedAt": iso(self.updated_at),
            "flowType": self.flow_type,
            "processingRuleSource": self.processing_rule_source,
            "flowDirection": self.direction,
            "acknowledgement": {"status": self.ack_status},
        }
        if self.tracking_id is not None:
            body["trackingId"] = self.tracking_id
        if self.details:
            body["acknowledgement"]["details"] = [dict(d) for d in self.details]
        return body

    def full_flow_info(self) -> dict[str, Any]:
        """The ``FullFlowInfo`` answer of an upload (``FlowInfo`` + id + submission time)."""
        body: dict[str, Any] = {
            "flowId": self.flow_id, "submittedAt": iso(self.submitted_at), "name": self.name,
            "processingRule": self.processing_rule, "flowSyntax": self.syntax,
            "flowProfile": self.profile,
        }
        if self.tracking_id is not None:
            body["trackingId"] = self.tracking_id
        if self.sha256 is not None:
            body["sha256"] = self.sha256
        return body
