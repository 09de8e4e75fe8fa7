"""Base of every message model: frozen, closed, versioned by a ``schema`` literal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

# Every event_id is a UUIDv5 in this namespace, derived from what the event is about,
# so a repeated event carries the same id and partners can deduplicate on it.
EVENT_NAMESPACE = uuid.UUID("6f1d2c3e-5b7a-4c1e-9a0d-efac70e00001")


class Message(BaseModel):
    """A frozen, closed pydantic model; subclasses add a ``schema`` literal."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def derived_id(*parts: object) -> uuid.UUID:
    """A deterministic UUID from the given parts (same parts, same id)."""
    return uuid.uuid5(EVENT_NAMESPACE, "|".join(str(p) for p in parts))
