"""What a log leaf commits to: canonical JSON of an archived invoice or of its tombstone.

Leaf data is the UTF-8 canonical JSON (sorted keys, separators ``(",", ":")``) of
``{"kind": "invoice", "invoice_id", "tenant", "sha256", "timestamp"}`` or
``{"kind": "tombstone", "invoice_id", "tenant", "sha256", "purged_at"}``. Times are ISO 8601
UTC strings from :func:`iso_utc`. The bytes are what the log hashes, so they must be rebuilt
exactly: :func:`parse_leaf` refuses any non-canonical input.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (non-ASCII kept as is)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def iso_utc(moment: datetime) -> str:
    """``2026-01-31T12:00:00Z`` or ``...:00.123456Z``; raises ValueError for a naive datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: an aware UTC time is required")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso_utc(text: str) -> datetime:
    """Inverse of :func:`iso_utc`; raises ValueError for anything else."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or iso_utc(moment) != text:
        raise ValueError(f"not a canonical UTC time: {text!r}")
    return moment


def _check_sha256(sha256_hex: str) -> str:
    if not _SHA256_HEX.match(sha256_hex):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    return sha256_hex


def invoice_leaf_data(
    invoice_id: UUID | str, tenant: str, sha256_hex: str, timestamp: datetime
) -> bytes:
    """Leaf data for an archived invoice; ``timestamp`` is the TSA token's genTime."""
    return canonical_json(
        {
            "kind": "invoice",
            "invoice_id": str(invoice_id),
            "tenant": tenant,
            "sha256": _check_sha256(sha256_hex),
            "timestamp": iso_utc(timestamp),
        }
    )


def tombstone_leaf_data(
    invoice_id: UUID | str, tenant: str, sha256_hex: str, purged_at: datetime
) -> bytes:
    """Leaf data recording that an invoice's document was purged (the log stays append-only)."""
    return canonical_json(
        {
            "kind": "tombstone",
            "invoice_id": str(invoice_id),
            "tenant": tenant,
            "sha256": _check_sha256(sha256_hex),
            "purged_at": iso_utc(purged_at),
        }
    )


class InvoiceLeaf(BaseModel):
    """A parsed ``invoice`` leaf."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["invoice"]
    invoice_id: str
    tenant: str
    sha256: str
    timestamp: str

    @property
    def time(self) -> datetime:
        return parse_iso_utc(self.timestamp)


class TombstoneLeaf(BaseModel):
    """A parsed ``tombstone`` leaf."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["tombstone"]
    invoice_id: str
    tenant: str
    sha256: str
    purged_at: str


def parse_leaf(data: bytes) -> InvoiceLeaf | TombstoneLeaf:
    """Parse leaf data; raises ValueError unless it is canonical JSON of a known kind."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"leaf data is not JSON: {exc}") from exc
    if not isinstance(value, dict) or canonical_json(value) != data:
        raise ValueError("leaf data is not a canonical JSON object")
    try:
        leaf: InvoiceLeaf | TombstoneLeaf = (
            TombstoneLeaf.model_validate(value)
            if value.get("kind") == "tombstone"
            else InvoiceLeaf.model_validate(value)
        )
    except Exception as exc:
        raise ValueError(f"leaf data has the wrong fields: {exc}") from exc
    _check_sha256(leaf.sha256)
    parse_iso_utc(leaf.purged_at if isinstance(leaf, TombstoneLeaf) else leaf.timestamp)
    return leaf
