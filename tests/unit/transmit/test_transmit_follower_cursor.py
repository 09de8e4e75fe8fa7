"""The lifecycle follower's cursor with a platform that stamps several flows with the same
``updatedAt`` (whole seconds): ``updatedAfter`` is strict, so a pass that stops at a flow must
keep its cursor below that flow's instant, or the flow is never read again."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from services.transmit import follower as follower_module
from services.transmit.follower import EPOCH, LifecycleFollower
from shared.errors import RetryableError

pytestmark = pytest.mark.unit

TENANT = "73282932000074"
T1, T2 = "2026-11-27T10:00:00Z", "2026-11-27T10:00:01Z"
ACKED = {"A-1": "accepted", "B-1": "accepted", "C-1": "accepted"}
B_WAITS = {**ACKED, "B-1": "uploaded"}  # B-1's 200 is not published yet


class Pa:
    def __init__(self, failing: set[str]) -> None:
        self.failing = failing

    async def download(self, creds: Any, flow_id: str, doc_type: str) -> bytes:
        if flow_id in self.failing:
            raise RetryableError("PA unavailable: 503", code="pa-503")
        return flow_id.encode()


def _follower(monkeypatch: pytest.MonkeyPatch, states: dict[str, str],
              failing: frozenset[str] = frozenset()) -> LifecycleFollower:
    transmit = SimpleNamespace(rt=None, pa=Pa(set(failing)))
    f = LifecycleFollower(transmit)  # type: ignore[arg-type]

    def read_statuses(data: bytes) -> list[Any]:
        number = {"f-a": "A-1", "f-b": "B-1", "f-c": "C-1"}[data.decode()]
        return [SimpleNamespace(invoice_number=number, code=202, reasons=(),
                                document_id=f"cdar-{number}")]

    async def known(tenant: str, number: str, tracking: Any) -> Any:
        return uuid.uuid5(uuid.NAMESPACE_URL, number), "m-" + number, number, states[number]

    monkeypatch.setattr(follower_module, "read_statuses", read_statuses)
    monkeypatch.setattr(f, "_known", known)
    return f


def _flows() -> list[dict[str, str]]:
    return [{"flowId": "f-a", "updatedAt": T1}, {"flowId": "f-b", "updatedAt": T1},
            {"flowId": "f-c", "updatedAt": T2}]


def test_a_flow_blocked_behind_its_acknowledgement_keeps_the_cursor_below_its_instant(
        monkeypatch: pytest.MonkeyPatch) -> None:
    f = _follower(monkeypatch, B_WAITS)
    _, cursor = asyncio.run(f._events(TENANT, None, _flows(), EPOCH))
    assert cursor < T1  # f-b (at T1) must be found by updatedAfter=cursor next pass


def test_a_flow_that_failed_to_download_keeps_the_cursor_below_its_instant(
        monkeypatch: pytest.MonkeyPatch) -> None:
    f = _follower(monkeypatch, ACKED, failing=frozenset({"f-b"}))
    _, cursor = asyncio.run(f._events(TENANT, None, _flows(), EPOCH))
    assert cursor < T1


def test_a_complete_pass_moves_the_cursor_to_the_newest_flow(
        monkeypatch: pytest.MonkeyPatch) -> None:
    f = _follower(monkeypatch, ACKED)
    items, cursor = asyncio.run(f._events(TENANT, None, _flows(), EPOCH))
    assert cursor == T2
    assert len(items) == 3


def test_flows_settled_before_the_stop_at_an_earlier_instant_move_the_cursor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    flows = [{"flowId": "f-a", "updatedAt": T1}, {"flowId": "f-b", "updatedAt": T2}]
    _, cursor = asyncio.run(_follower(monkeypatch, B_WAITS)._events(TENANT, None, flows, EPOCH))
    assert cursor == T1
