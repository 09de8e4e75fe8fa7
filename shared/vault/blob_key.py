"""Where an encrypted document lives in the blob store (pure).

The key is the content address of the ciphertext. Each sealing draws a fresh data key, so two
attempts at the same invoice (a redelivery after a crash, or a copy handled by another process)
write two different keys and never overwrite each other — which a create-only store (S3 with
``If-None-Match``) requires. The catalogue row names the key it committed; every reader takes
the key from that row, never recomputes it.
"""

from __future__ import annotations

import hashlib


def blob_key(ciphertext: bytes) -> str:
    """SHA-256 hex of ``ciphertext``: the same bytes always map to the same key, and a
    tenant's ciphertext is bound to its tenant and invoice, so keys never collide across
    tenants."""
    return hashlib.sha256(ciphertext).hexdigest()
