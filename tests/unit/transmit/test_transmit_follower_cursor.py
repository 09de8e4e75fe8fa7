"""The lifecycle follower's cursor and causal order.

With a platform that stamps several flows with the same ``updatedAt`` (whole seconds):
``updatedAfter`` is strict, so a pass that stops at a flow must keep its cursor below that
flow's instant, or the flow is never read again. And an invoice whose acknowledgement poll
gave up must not block its tenant's later statuses for good."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, Literal

import pytest

from services.transmit import follower as follower_module
from services.transmit.adapters.pa_models import FlowStatus
from services.transmit.adapters.repository import Transmission
from services.transmit.follower import EPOCH, LifecycleFollower
from shared.errors import RetryableError

pytestmark = pytest.mark.unit

Ack = Literal["Pending", "Ok", "Error"]
TENANT = "73282932000074"
T1, T2 = "2026-11-27T10:00:00Z", "2026-11-27T10:00:01Z"
ACKED = {"A-1": "accepted", "B-1": "accepted", "C-1": "accepted"}
B_WAITS = {**ACKED, "B-1": "uploaded"}  # B-1's 200 is not published yet


class Pa:
    def __init__(self, failing: set[str], ack: Ack = "Pending") -> None:
        self.failing, self.ack = failing, ack
        self.acks_read: list[str] = []

    async def get_flow(self, creds: Any, flow_id: str) -> FlowStatus:
        self.acks_read.append(flow_id)
        return FlowStatus(flow_id=flow_id, tracking_id="", ack_status=self.ack, reasons=())

    async def download(self, creds: Any, flow_id: str, doc_type: str) -> bytes:
        if flow_id in self.failing:
            raise RetryableError("PA unavailable: 503", code="pa-503")
        return flow_id.encode()


class Pool:
    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[None]:
        yield None


def _follower(monkeypatch: pytest.MonkeyPatch, states: dict[str, str],
              failing: frozenset[str] = frozenset(), ack: Ack = "Pending",
              poll_gave_up: bool = True) -> LifecycleFollower:
    transmit = SimpleNamespace(rt=SimpleNamespace(pool=Pool()), pa=Pa(set(failing), ack))
    f = LifecycleFollower(transmit)  # type: ignore[arg-type]
    states = dict(states)
    acknowledged: list[uuid.UUID] = []
    f.acknowledged = acknowledged  # type: ignore[attr-defined]

    async def get(conn: Any, invoice_id: uuid.UUID) -> Transmission:
        number = next(n for n in states if uuid.uuid5(uuid.NAMESPACE_URL, n) == invoice_id)
        return Transmission(invoice_id, states[number], 1, 1, 0, "flow-" + number)

    async def acknowledge(tenant: str, invoice_id: uuid.UUID, flow_id: str,
                          status: FlowStatus) -> None:
        acknowledged.append(invoice_id)
        number = next(n for n in states if uuid.uuid5(uuid.NAMESPACE_URL, n) == invoice_id)
        states[number] = "accepted"

    async def uploaded_before(conn: Any, invoice_id: uuid.UUID, seconds: float) -> bool:
        return poll_gave_up

    monkeypatch.setattr(follower_module.repo, "get", get)
    monkeypatch.setattr(follower_module.repo, "uploaded_before", uploaded_before)
    monkeypatch.setattr(f.acks, "acknowledge", acknowledge)

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


def test_an_acknowledgement_the_poll_gave_up_on_is_read_before_the_later_status(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # B-1's poll ran out (the PA was down for an hour): its 200 is read here, then its 202.
    f = _follower(monkeypatch, B_WAITS, ack="Ok")
    items, cursor = asyncio.run(f._events(TENANT, None, _flows(), EPOCH))
    assert f.acknowledged == [uuid.uuid5(uuid.NAMESPACE_URL, "B-1")]  # type: ignore[attr-defined]
    assert cursor == T2
    assert len(items) == 3


def test_a_running_poll_is_left_to_publish_the_acknowledgement(
        monkeypatch: pytest.MonkeyPatch) -> None:
    f = _follower(monkeypatch, B_WAITS, ack="Ok", poll_gave_up=False)
    _, cursor = asyncio.run(f._events(TENANT, None, _flows(), EPOCH))
    assert f.acknowledged == []  # type: ignore[attr-defined]
    assert f.t.pa.acks_read == []  # type: ignore[attr-defined]
    assert cursor < T1


def test_a_pending_acknowledgement_still_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    f = _follower(monkeypatch, B_WAITS, ack="Pending")
    items, cursor = asyncio.run(f._events(TENANT, None, _flows(), EPOCH))
    assert f.acknowledged == []  # type: ignore[attr-defined]
    assert cursor < T1
    assert len(items) == 1  # A-1's 202 only; B-1's and C-1's wait
