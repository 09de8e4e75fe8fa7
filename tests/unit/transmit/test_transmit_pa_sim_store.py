"""The simulator's state machine (no HTTP): acks, lifecycle flows, counters, config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.transmit.pa_sim.config import SimConfig, config_from_env
from services.transmit.pa_sim.store import DuplicateFlow, FlowStore

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def info(tracking_id: str) -> dict[str, str]:
    return {"trackingId": tracking_id, "name": "f.xml", "flowSyntax": "CII",
            "flowProfile": "CIUS", "processingRule": "B2B", "sha256": "0" * 64}


def test_flow_is_pending_then_ok_after_the_ack_delay() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    flow = store.add_outbound(info("t1"), SimConfig(ack_delay_s=1.0))
    assert store.get(flow.flow_id)["ackStatus"] == "Pending"  # type: ignore[index]
    clock.advance(1.0)
    assert store.get(flow.flow_id)["ackStatus"] == "Ok"  # type: ignore[index]


def test_ack_error_flow_carries_reasons_and_no_lifecycle() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    flow = store.add_outbound(info("t1"), SimConfig(ack_error_rate=1.0, lifecycle_codes=(202,)))
    clock.advance(5)
    status = store.get(flow.flow_id)
    assert status is not None
    assert status["ackStatus"] == "Error"
    assert status["reasons"]
    assert status["reasons"][0]["code"]
    assert store.search(direction="In") == []


def test_lifecycle_flows_appear_in_order_after_the_ack() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    store.add_outbound(info("t1"), SimConfig(ack_delay_s=0.2, lifecycle_codes=(202, 205),
                                             lifecycle_interval_s=1.0))
    clock.advance(1.2)
    first = store.search(direction="In")
    assert [(f["lifecycleCode"], f["lifecycleLabel"]) for f in first] == [(202, "Reçue")]
    seen = datetime.fromisoformat(first[-1]["updatedAt"])
    clock.advance(1.0)
    later = store.search(direction="In", updated_after=seen)
    assert [(f["trackingId"], f["flowSyntax"], f["lifecycleCode"]) for f in later] == [
        ("t1", "CDAR", 205)]


def test_duplicate_tracking_id_is_refused_and_counted_once() -> None:
    store = FlowStore(now=Clock())
    store.add_outbound(info("t1"), SimConfig())
    with pytest.raises(DuplicateFlow):
        store.add_outbound(info("t1"), SimConfig())
    stats = store.stats()
    assert stats["flows"] == 1
    assert stats["by_tracking_id"] == {"t1": 1}
    assert stats["duplicates_refused"] == 1


def test_tokens_expire_after_their_lifetime() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    token = store.issue_token(10)
    assert store.token_valid(token)
    clock.advance(10)
    assert not store.token_valid(token)


def test_config_merges_partial_changes_and_validates() -> None:
    config = SimConfig().merged({"failure_rate": 0.5, "lifecycle_codes": "202,205"})
    assert config.failure_rate == 0.5
    assert config.lifecycle_codes == (202, 205)
    with pytest.raises(ValidationError):
        config.merged({"failure_rate": 2})
    with pytest.raises(ValidationError):
        config.merged({"no_such_knob": 1})


def test_config_reads_the_environment() -> None:
    config = config_from_env({"EFACTURE_PA_SIM_DOWN": "true",
                              "EFACTURE_PA_SIM_LIFECYCLE_CODES": "202, 205",
                              "EFACTURE_PA_SIM_ACK_DELAY_S": "0"})
    assert config.down is True
    assert config.lifecycle_codes == (202, 205)
    assert config.ack_delay_s == 0
