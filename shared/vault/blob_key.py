"""Where an invoice's encrypted document lives in the blob store (pure)."""

from __future__ import annotations

import hashlib
import uuid


def blob_key(tenant: str, invoice_id: uuid.UUID | str) -> str:
    """A fixed key per invoice: a redelivered archive message rewrites the same blob
    (atomically) instead of leaving an orphan behind, and two tenants never collide."""
    return hashlib.sha256(f"efacture-blob-v1|{tenant}|{invoice_id}".encode()).hexdigest()
