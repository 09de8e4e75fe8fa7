"""Afnor-Signature verification (pure): both readings of the document, freshness, refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from services.transmit.domain.signature import refusal
from services.transmit.pa_sim.webhooks import sign

pytestmark = pytest.mark.unit

KEY = b"k" * 32
BODY = b'{"flowId":"f1"}'
NOW = 1_800_000_000.0


def test_the_simulators_signature_verifies() -> None:
    assert refusal(KEY, BODY, sign(KEY, BODY, int(NOW)), str(int(NOW)), now=NOW) is None


def test_the_literal_reading_hmac_over_the_sha256_fingerprint_verifies_too() -> None:
    fingerprint = hashlib.sha256(BODY + b"@" + str(int(NOW)).encode()).digest()
    signature = base64.b64encode(hmac.new(KEY, fingerprint, hashlib.sha256).digest()).decode()
    assert refusal(KEY, BODY, signature, str(int(NOW)), now=NOW) is None


@pytest.mark.parametrize(("body", "key", "stamp", "reason"), [
    (BODY + b" ", KEY, int(NOW), "bad-signature"),
    (BODY, b"x" * 32, int(NOW), "bad-signature"),
    (BODY, KEY, int(NOW) - 301, "stale-timestamp"),
    (BODY, KEY, int(NOW) + 301, "stale-timestamp"),
])
def test_tampered_foreign_or_stale_callbacks_are_refused(body: bytes, key: bytes, stamp: int,
                                                        reason: str) -> None:
    signature = sign(key, BODY, stamp)
    assert refusal(KEY, body, signature, str(stamp), now=NOW) == reason


def test_missing_or_malformed_headers_are_refused() -> None:
    assert refusal(KEY, BODY, None, str(int(NOW)), now=NOW) == "no-signature"
    assert refusal(KEY, BODY, "AAAA", None, now=NOW) == "bad-timestamp"
    assert refusal(KEY, BODY, "AAAA", "soon", now=NOW) == "bad-timestamp"
    assert refusal(KEY, BODY, "not base64!", str(int(NOW)), now=NOW) == "bad-signature"
