"""The simulator's state machine (no HTTP): acks, lifecycle flows, counters, config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.transmit.adapters.cdar_schema import read_statuses
from services.transmit.pa_sim import search
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


CONTENT = b"<Invoice/>"
IN = {"where": {"flowDirection": ["In"]}}


def info(tracking_id: str) -> dict[str, str | None]:
    return {"trackingId": tracking_id, "name": "F-1.xml", "flowSyntax": "CII",
            "flowProfile": "CIUS", "processingRule": "B2B", "sha256": None}


def add(store: FlowStore, tracking_id: str, config: SimConfig, owner: str = "A") -> str:
    return store.add_outbound(owner, info(tracking_id), CONTENT, "0" * 64, config,
                              ack_error=None).flow_id


def found(store: FlowStore, body: dict, owner: str = "A") -> list[dict]:
    return store.search(owner, search.parse(body))["results"]  # type: ignore[no-any-return]


def test_flow_is_pending_then_ok_after_the_ack_delay() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    flow_id = add(store, "t1", SimConfig(ack_delay_s=1.0))
    assert store.get("A", flow_id).as_json()["acknowledgement"] == {  # type: ignore[union-attr]
        "status": "Pending"}
    clock.advance(1.0)
    assert store.get("A", flow_id).ack_status == "Ok"  # type: ignore[union-attr]


def test_ack_error_flow_carries_details_and_no_lifecycle() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    flow_id = add(store, "t1", SimConfig(ack_error_rate=1.0, lifecycle_codes=(202,)))
    clock.advance(5)
    flow = store.get("A", flow_id)
    assert flow is not None
    ack = flow.as_json()["acknowledgement"]
    assert ack["status"] == "Error"
    assert set(ack["details"][0]) == {"level", "item", "reasonCode", "reasonMessage"}
    assert found(store, IN) == []


def test_lifecycle_flows_appear_in_order_after_the_ack_as_cdars() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    add(store, "t1", SimConfig(ack_delay_s=0.2, lifecycle_codes=(202, 205),
                               lifecycle_interval_s=1.0))
    clock.advance(1.2)
    first = found(store, IN)
    assert [(f["flowSyntax"], f["flowType"]) for f in first] == [("CDAR", "CustomerInvoiceLC")]
    seen = first[-1]["updatedAt"]
    clock.advance(1.0)
    later = found(store, {"where": {"flowDirection": ["In"], "updatedAfter": seen}})
    assert len(later) == 1
    flow = store.get("A", later[0]["flowId"])
    assert flow is not None
    [status] = read_statuses(flow.content)
    assert (status.code, status.invoice_number) == (205, "F-1")


def test_pages_follow_the_cursor_to_the_end() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    for n in range(5):
        add(store, f"t{n}", SimConfig())
        clock.advance(0.01)
    pages, body = [], {"where": {"flowDirection": ["Out"]}, "limit": 2}
    while True:
        page = store.search("A", search.parse(body))
        pages.append([f["trackingId"] for f in page["results"]])
        if "nextCursor" not in page:
            break
        body = {**body, "cursor": page["nextCursor"]}
    assert pages == [["t0", "t1"], ["t2", "t3"], ["t4"]]


def test_flows_are_visible_only_to_their_client() -> None:
    store = FlowStore(now=Clock())
    flow_id = add(store, "t1", SimConfig(), owner="A")
    assert store.get("B", flow_id) is None
    assert found(store, {"where": {"trackingId": "t1"}}, owner="B") == []
    add(store, "t1", SimConfig(), owner="B")  # the same trackingId is B's own business


def test_duplicate_tracking_id_is_refused_and_counted_once() -> None:
    store = FlowStore(now=Clock())
    add(store, "t1", SimConfig())
    with pytest.raises(DuplicateFlow):
        add(store, "t1", SimConfig())
    stats = store.stats()
    assert stats["flows"] == 1
    assert stats["by_tracking_id"] == {"t1": 1}
    assert stats["duplicates_refused"] == 1


def test_tokens_expire_after_their_lifetime_and_name_their_client() -> None:
    clock = Clock()
    store = FlowStore(now=clock)
    token = store.issue_token(10, "A")
    assert store.token_client(token) == "A"
    clock.advance(10)
    assert store.token_client(token) is None


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


def test_a_flow_name_with_control_characters_still_gets_its_lifecycle_cdar() -> None:
    # Found by schemathesis: a 500 when the name (the number's fallback) held a control char.
    clock = Clock()
    store = FlowStore(now=clock)
    store.add_outbound("A", {**info("t1"), "name": "F\x00-\x1b2\ud800.xml"}, CONTENT, "0" * 64,
                       SimConfig(ack_delay_s=0.2, lifecycle_codes=(202,)), ack_error=None)
    clock.advance(1.2)
    [flow] = found(store, IN)
    cdar = store.get("A", flow["flowId"])
    assert cdar is not None
    [status] = read_statuses(cdar.content)
    assert (status.code, status.invoice_number) == (202, "F-2")
