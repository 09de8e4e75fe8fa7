"""Verification of the PA's webhook callbacks: ``Afnor-Signature`` (XP Z12-013 1.3.0).

The document: "a SHA-256 fingerprint is generated based on the concatenation of the JSON
payload (as is), a separator ``@`` and the epoch time in seconds; an HMAC signature is
computed over the fingerprint with the callback signing key; base64". It reads two ways
(HMAC-SHA-256 over ``payload@ts`` itself, or over its SHA-256 digest); both are accepted,
each needs the key. Pure: the clock is the caller's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Final

MAX_SKEW_S: Final = 300.0
_EPOCH: Final = re.compile(r"[0-9]{1,12}")


def _candidates(key: bytes, payload: bytes, stamp: str) -> list[bytes]:
    message = payload + b"@" + stamp.encode()
    digest = hashlib.sha256(message)
    return [hmac.new(key, m, hashlib.sha256).digest()
            for m in (message, digest.digest(), digest.hexdigest().encode())]


def refusal(key: bytes, payload: bytes, signature: str | None, timestamp: str | None, *,
            now: float, max_skew_s: float = MAX_SKEW_S) -> str | None:
    """``None`` when the callback is authentic and fresh, else a reason code:
    ``no-signature``, ``bad-timestamp``, ``stale-timestamp``, ``bad-signature``."""
    if not signature:
        return "no-signature"
    # ASCII digits only, and few of them: str.isdigit() also admits "²" (int() refuses it)
    # and int() refuses more than 4300 digits; either raised out of the receiver.
    if not timestamp or not _EPOCH.fullmatch(timestamp.strip()):
        return "bad-timestamp"
    if abs(now - int(timestamp.strip())) > max_skew_s:
        return "stale-timestamp"
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return "bad-signature"
    if any(hmac.compare_digest(given, c) for c in _candidates(key, payload, timestamp.strip())):
        return None
    return "bad-signature"
