"""The simulator's HTTP contract, spoken raw (no PaClient): validation and controls."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.transmit.pa_sim import SimConfig, SimServer

pytestmark = pytest.mark.integration

CONTENT = b"%PDF-1.7 simulated"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig()) as server:
        yield server


@pytest.fixture
def http(sim: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers=sim.control_headers) as client:
        client.post("/_sim/reset", json={}).raise_for_status()
        token = client.post("/oauth/token", data={
            "grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield client
        client.post("/_sim/reset", json={}).raise_for_status()


def info(**overrides: Any) -> dict[str, Any]:
    return {"trackingId": "inv-1", "name": "F1.pdf", "flowSyntax": "Factur-X",
            "flowProfile": "Basic", "processingRule": "B2B",
            "sha256": hashlib.sha256(CONTENT).hexdigest(), **overrides}


def upload(http: httpx.Client, flow_info: dict[str, Any], content: bytes = CONTENT
           ) -> httpx.Response:
    return http.post("/v1/flows", files={
        "flowInfo": (None, json.dumps(flow_info), "application/json"),
        "file": ("F1.pdf", content, "application/pdf")})


def test_token_answer_has_the_oauth_shape(sim: SimServer) -> None:
    answer = httpx.post(f"{sim.url}/oauth/token", data={
        "grant_type": "client_credentials", "client_id": "c", "client_secret": "s"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer"  # noqa: S105
    assert body["expires_in"] == 3600
    assert body["access_token"]


def test_bad_secret_is_refused_with_401(sim: SimServer) -> None:
    answer = httpx.post(f"{sim.url}/oauth/token", data={
        "grant_type": "client_credentials", "client_id": "c", "client_secret": "bad"})
    assert answer.status_code == 401


def test_upload_without_token_is_401(sim: SimServer) -> None:
    answer = httpx.post(f"{sim.url}/v1/flows/search", json={"where": {}})
    assert answer.status_code == 401
    assert answer.json()["errorCode"]


def test_accepted_upload_answers_202_with_ids(http: httpx.Client) -> None:
    answer = upload(http, info())
    assert answer.status_code == 202
    body = answer.json()
    assert body["trackingId"] == "inv-1"
    assert body["flowId"]
    assert body["submittedAt"].endswith("Z")


def test_repeated_tracking_id_is_409_already_existing_flow(http: httpx.Client) -> None:
    assert upload(http, info()).status_code == 202
    answer = upload(http, info())
    assert answer.status_code == 409
    assert answer.json()["errorCode"] == "AlreadyExistingFlow"


@pytest.mark.parametrize("bad", [
    {"flowSyntax": "PDF"}, {"flowProfile": "EN16931"}, {"processingRule": "B2X"},
    {"sha256": "ABC"}, {"trackingId": "x" * 65}, {"name": None}, {"name": "n" * 256},
])
def test_invalid_flow_info_is_422(http: httpx.Client, bad: dict[str, Any]) -> None:
    answer = upload(http, info(**bad))
    assert answer.status_code == 422
    assert set(answer.json()) == {"errorCode", "errorMessage"}


def test_uppercase_digest_is_refused(http: httpx.Client) -> None:
    answer = upload(http, info(sha256=hashlib.sha256(CONTENT).hexdigest().upper()))
    assert answer.status_code == 422


def test_digest_of_other_bytes_is_422(http: httpx.Client) -> None:
    answer = upload(http, info(), content=b"tampered")
    assert answer.status_code == 422
    assert http.get("/_sim/stats").json()["flows"] == 0


def test_missing_file_part_is_400(http: httpx.Client) -> None:
    answer = http.post("/v1/flows", files={
        "flowInfo": (None, json.dumps(info()), "application/json")})
    assert answer.status_code == 400


def test_oversized_file_is_413(http: httpx.Client) -> None:
    http.post("/_sim/config", json={"max_file_bytes": 4}).raise_for_status()
    answer = upload(http, info())
    assert answer.status_code == 413


def test_unknown_flow_is_404(http: httpx.Client) -> None:
    assert http.get("/v1/flows/nope").status_code == 404


def test_search_rejects_unknown_criteria(http: httpx.Client) -> None:
    assert http.post("/v1/flows/search", json={"where": {"colour": "red"}}).status_code == 400


def test_search_filters_by_direction_and_tracking_id(http: httpx.Client) -> None:
    upload(http, info(trackingId="a"))
    upload(http, info(trackingId="b"))
    out = http.post("/v1/flows/search", json={"where": {"flowDirection": ["Out"]}}).json()
    assert sorted(item["trackingId"] for item in out["results"]) == ["a", "b"]
    only_b = http.post("/v1/flows/search", json={"where": {"trackingId": "b"}}).json()
    assert [item["trackingId"] for item in only_b["results"]] == ["b"]
    assert set(only_b["results"][0]) >= {"flowId", "trackingId", "flowSyntax", "flowDirection",
                                         "acknowledgement", "submittedAt", "updatedAt",
                                         "flowType", "processingRule", "flowProfile",
                                         "processingRuleSource", "name"}


def test_config_changes_at_run_time_and_reset_restores_it(http: httpx.Client) -> None:
    answer = http.post("/_sim/config", json={"failure_rate": 0.25, "lifecycle_codes": [202]})
    assert answer.status_code == 200
    assert http.get("/_sim/config").json()["failure_rate"] == 0.25
    assert http.post("/_sim/config", json={"failure_rate": 3}).status_code == 422
    http.post("/_sim/reset", json={}).raise_for_status()
    assert http.get("/_sim/config").json()["failure_rate"] == 0.0


def test_down_platform_answers_503_but_controls_still_work(http: httpx.Client) -> None:
    http.post("/_sim/config", json={"down": True}).raise_for_status()
    assert upload(http, info()).status_code == 503
    assert http.get("/health").status_code == 200
    assert http.get("/_sim/stats").json()["uploads_attempted"] == 1
    http.post("/_sim/config", json={"down": False}).raise_for_status()
    assert upload(http, info()).status_code == 202
