"""Afnor-Signature-Timestamp is attacker-controlled: any value is refused with a reason code,
never raised out of the receiver (a 500 for an unauthenticated caller)."""

from __future__ import annotations

import pytest

from services.transmit.domain.signature import refusal
from services.transmit.pa_sim.webhooks import sign

pytestmark = pytest.mark.unit

KEY = b"k" * 32
BODY = b'{"flowId":"f1"}'
NOW = 1_800_000_000.0


@pytest.mark.parametrize("stamp", ["\u00b2", "1\u00b3", "\u0661\u0662", "9" * 5000, "+1800000000"])
def test_non_ascii_or_oversized_timestamps_are_bad_timestamps(stamp: str) -> None:
    signature = sign(KEY, BODY, int(NOW))
    assert refusal(KEY, BODY, signature, stamp, now=NOW) == "bad-timestamp"


def test_a_fresh_ascii_timestamp_still_verifies() -> None:
    assert refusal(KEY, BODY, sign(KEY, BODY, int(NOW)), f" {int(NOW)} ", now=NOW) is None
