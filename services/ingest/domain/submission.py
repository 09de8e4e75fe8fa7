"""What the ERP's AMQP properties say about a submission (contract section 2), decoded safely.

Pure: takes the raw properties, returns either the submission's metadata or the
reasons it cannot be identified. Headers are attacker-controlled: every value
is bounded, decoded leniently (bytes as UTF-8 with replacement) and validated.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.ingest.domain.publisher import (
    BROKER_HEADER_PATH,
    authenticated,
    broker_headers,
    forged,
)
from services.ingest.domain.reasons import Reason

MAX_MESSAGE_ID = 128
SIRET = re.compile(r"^\d{14}$")
CONTENT_TYPES = ("application/pdf", "application/xml", "text/xml")


@dataclass(frozen=True)
class Submission:
    """A submission's identity and options; ``tenant`` is ``"unknown"`` when unusable."""

    tenant: str
    message_id: str | None
    content_type: str | None
    transmit: bool
    recipient_email: str | None
    invoice_number: str | None
    issue_date: date | None
    recipient_id: str | None
    user_id: str | None
    errors: tuple[Reason, ...]

    @property
    def forged(self) -> bool:
        """True when an ERP user claimed another tenant: answered to the user's own tenant."""
        return any(e.code == "tenant-forged" for e in self.errors)

    @property
    def broker_headers_forged(self) -> bool:
        """True when the publisher set x-death or its kin: never to be dead-lettered."""
        return any(e.path == BROKER_HEADER_PATH for e in self.errors)


def _text(value: Any, limit: int = 512) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", errors="replace")
    # Bytes that were not UTF-8 arrive surrogate-escaped: keep them out of logs and JSON.
    text = str(value).encode("utf-8", errors="replace").decode("utf-8").strip()
    return text[:limit] if text else None


def _utf8(value: Any) -> bool:
    """False for a property that carried bytes which are not UTF-8."""
    try:
        str(value).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _flag(value: Any) -> bool | None:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = (_text(value, 16) or "").lower()
    return {"true": True, "false": False}.get(text)


def decode(
    headers: Mapping[str, Any] | None,
    message_id: Any,
    content_type: Any,
    user_id: Any = None,
    routing_key: Any = None,
    operators: Collection[str] = ("guest",),
) -> Submission:
    """Decode the properties; problems become reasons, never exceptions.

    The authenticated tenant comes from the routing key ``invoice.submit.<SIRET>`` or from a
    ``user_id`` ``erp-<SIRET>``; a ``tenant`` header that names another SIRET is
    ``tenant-forged`` and the submission is attributed to the authenticated tenant, so the
    claimed tenant never hears of it (the header may then be left out). A ``user_id`` that is
    neither in ``operators`` nor ``erp-<SIRET>`` is ``tenant-forged`` too. On plain
    ``invoice.submit`` without ``user_id`` (operators only: the broker's topic permissions)
    the header is taken as it is.
    """
    h = dict(headers or {})
    errors: list[Reason] = []
    user = _text(user_id, 128)
    if user is None and user_id is not None:
        user = ""  # set but blank: no operator and no ERP user has that name
    rk = _text(routing_key, 256)
    bound, refused = authenticated(rk, user, operators)
    refused += broker_headers(h)
    claimed = _text(h.get("tenant"), 64)
    if claimed is None and bound is not None:
        claimed = bound
    tenant: str = claimed or ""
    if not SIRET.match(tenant):
        errors.append(
            Reason(
                code="unknown-tenant",
                message="The tenant header is missing or is not a 14-digit SIRET.",
                path="headers.tenant",
            )
        )
        tenant = bound or "unknown"
    if refused:
        errors += refused
        tenant = bound or "unknown"
    elif bound is not None and tenant not in (bound, "unknown"):
        errors.append(forged(
            f"This submission is authenticated for tenant {bound} (its routing key or RabbitMQ "
            f"user), not {tenant}."))
        # Answer the authenticated publisher, never the tenant it claimed to be.
        tenant = bound
    mid = _text(message_id, 100_000)
    if mid is not None and not _utf8(message_id):
        errors.append(
            Reason(
                code="invalid-message-id",
                path="properties.message_id",
                message="The message_id is not valid UTF-8.",
            )
        )
        mid = None
    elif mid is None:
        errors.append(
            Reason(
                code="missing-message-id",
                message="The message has no message_id property.",
                path="properties.message_id",
            )
        )
    elif len(mid) > MAX_MESSAGE_ID:
        errors.append(
            Reason(
                code="message-id-too-long",
                message=f"The message_id is longer than {MAX_MESSAGE_ID} characters.",
                path="properties.message_id",
            )
        )
        mid = None
    ctype = (_text(content_type, 128) or "").split(";")[0].strip().lower() or None
    if ctype not in CONTENT_TYPES:
        errors.append(
            Reason(
                code="invalid-content-type",
                message="The content_type must be application/pdf or application/xml.",
                path="properties.content_type",
            )
        )
    transmit = _flag(h.get("transmit"))
    if transmit is None:
        errors.append(
            Reason(
                code="invalid-header",
                message="The transmit header must be true or false.",
                path="headers.transmit",
            )
        )
        transmit = True
    issue = _text(h.get("issue-date"), 32)
    issue_date: date | None = None
    if issue is not None:
        try:
            issue_date = date.fromisoformat(issue)
        except ValueError:
            errors.append(
                Reason(
                    code="invalid-header",
                    message="The issue-date header is not a YYYY-MM-DD date.",
                    path="headers.issue-date",
                )
            )
    return Submission(
        tenant=tenant,
        message_id=mid,
        content_type=ctype,
        transmit=transmit,
        recipient_email=_text(h.get("recipient-email"), 254),
        invoice_number=_text(h.get("invoice-number"), 64),
        issue_date=issue_date,
        recipient_id=_text(h.get("recipient-id"), 64),
        user_id=user,
        errors=tuple(errors),
    )


def header_strings(s: Submission) -> dict[str, str]:
    """The plain-PDF metadata headers as strings, for the domain's admission rules."""
    out = {
        "invoice-number": s.invoice_number,
        "recipient-id": s.recipient_id,
        "issue-date": s.issue_date.isoformat() if s.issue_date else None,
    }
    return {k: v for k, v in out.items() if v is not None}
