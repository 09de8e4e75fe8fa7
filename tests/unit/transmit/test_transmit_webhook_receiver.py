"""The webhook receiver (no broker, no database): it answers an oversized callback 413 before
holding it, refuses a bad signature 401, and wakes the follower for an authentic one."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.testclient import TestClient

from services.transmit.pa_sim.webhooks import sign
from services.transmit.webhooks import MAX_BODY, WebhookManager

pytestmark = pytest.mark.unit

KEY = b"s" * 32
SIRET = "73282932000074"
NOW = 1_800_000_000


class Follower:
    def __init__(self) -> None:
        self.woken: list[str] = []
        self.pushed: Any = None

    def wake(self, tenant: str) -> None:
        self.woken.append(tenant)


def _client() -> tuple[TestClient, Follower]:
    follower = Follower()
    transmit = SimpleNamespace(rt=SimpleNamespace(settings=SimpleNamespace(
        pa_webhook_url="http://127.0.0.1:1/hooks")))
    manager = WebhookManager(transmit, follower, clock=lambda: float(NOW))  # type: ignore[arg-type]
    manager.keys[SIRET] = KEY
    return TestClient(manager.app()), follower


def test_an_authentic_callback_wakes_the_follower() -> None:
    client, follower = _client()
    body = json.dumps({"flowId": "f-1"}).encode()
    answer = client.post(f"/{SIRET}", content=body, headers={
        "Afnor-Signature": sign(KEY, body, NOW), "Afnor-Signature-Timestamp": str(NOW)})
    assert answer.status_code == 200
    assert follower.woken == [SIRET]


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_callback_is_413(chunked: bool) -> None:
    client, follower = _client()
    big = b"x" * (MAX_BODY + 1)
    content: Any = iter([big[:MAX_BODY // 2], big[MAX_BODY // 2:]]) if chunked else big
    answer = client.post(f"/{SIRET}", content=content, headers={
        "Afnor-Signature": sign(KEY, big, NOW), "Afnor-Signature-Timestamp": str(NOW)})
    assert answer.status_code == 413
    assert follower.woken == []


def test_a_bad_timestamp_is_401_not_500() -> None:
    client, follower = _client()
    body = b'{"flowId":"f-1"}'
    answer = client.post(f"/{SIRET}", content=body, headers={
        "Afnor-Signature": sign(KEY, body, NOW), "Afnor-Signature-Timestamp": "9" * 5000})
    assert answer.status_code == 401
    assert answer.json()["errorCode"] == "bad-timestamp"
    assert follower.woken == []
