"""Property 5 (local helpers are not an open door), the PA simulator's part.

The simulator is started as ``efacture up`` starts it (``efacture serve pa-sim``, its own
data directory). Its ``/_sim/*`` controls need the token kept 0600 in the data directory,
accept only ``application/json`` and only a loopback ``Host``; its flows are visible only
to the OAuth client that uploaded them; its injected latency is bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.transmit.pa_sim import free_port
from services.transmit.pa_sim.config import MAX_LATENCY_MS
from services.transmit.pa_sim.controls import TOKEN_HEADER, token_path
from tests.support.system import EFACTURE

pytestmark = pytest.mark.security

CONTENT = b"<Invoice>secret of tenant A</Invoice>"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("pa-sim-data")
    port = free_port()
    env = {**os.environ, "EFACTURE_DATA_DIR": str(data_dir), "EFACTURE_PA_SIM_PORT": str(port)}
    proc = subprocess.Popen([str(EFACTURE), "serve", "pa-sim"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pa-sim did not start: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield url, data_dir
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _token(data_dir: Path) -> str:
    return token_path(data_dir).read_text().strip()


def test_the_control_token_is_kept_0600_in_the_data_directory(served: tuple[str, Path]) -> None:
    _url, data_dir = served
    mode = stat.S_IMODE(token_path(data_dir).stat().st_mode)
    assert mode == 0o600
    assert len(_token(data_dir)) >= 32


@pytest.mark.parametrize("headers", [{}, {TOKEN_HEADER: "guess"}, {TOKEN_HEADER: ""}])
def test_controls_without_the_token_are_refused(served: tuple[str, Path],
                                                headers: dict[str, str]) -> None:
    url, _ = served
    answer = httpx.post(f"{url}/_sim/config", json={"down": True}, headers=headers)
    assert answer.status_code == 401
    assert httpx.get(f"{url}/_sim/stats", headers=headers).status_code == 401
    assert httpx.post(f"{url}/_sim/reset", json={}, headers=headers).status_code == 401
    assert httpx.get(f"{url}/health").json()["down"] is False  # nothing changed


def test_controls_refuse_text_plain_even_with_the_token(served: tuple[str, Path]) -> None:
    url, data_dir = served
    answer = httpx.post(f"{url}/_sim/config", content=b'{"down": true}',
                        headers={TOKEN_HEADER: _token(data_dir), "Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert httpx.get(f"{url}/health").json()["down"] is False


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8470",
                                  "127.0.0.1.nip.io", "10.0.0.1"])
def test_controls_refuse_a_non_loopback_host_even_with_the_token(
        served: tuple[str, Path], host: str) -> None:
    url, data_dir = served
    answer = httpx.post(f"{url}/_sim/config", json={"down": True},
                        headers={TOKEN_HEADER: _token(data_dir), "Host": host})
    assert answer.status_code == 403
    assert httpx.get(f"{url}/health").json()["down"] is False


def test_controls_work_with_the_token_json_and_a_loopback_host(served: tuple[str, Path]) -> None:
    url, data_dir = served
    headers = {TOKEN_HEADER: _token(data_dir)}
    assert httpx.post(f"{url}/_sim/config", json={"latency_ms": 5},
                      headers=headers).json()["latency_ms"] == 5
    assert httpx.post(f"{url}/_sim/reset", json={}, headers=headers).status_code == 200


def test_latency_is_bounded(served: tuple[str, Path]) -> None:
    url, data_dir = served
    headers = {TOKEN_HEADER: _token(data_dir)}
    answer = httpx.post(f"{url}/_sim/config", json={"latency_ms": MAX_LATENCY_MS + 1},
                        headers=headers)
    assert answer.status_code == 422
    assert httpx.get(f"{url}/_sim/config", headers=headers).json()["latency_ms"] == 0


def _client(url: str, client_id: str) -> httpx.Client:
    token = httpx.post(f"{url}/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client_id,
        "client_secret": "s"}).json()["access_token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})


def test_flows_are_visible_only_to_the_client_that_uploaded_them(
        served: tuple[str, Path]) -> None:
    url, _ = served
    info = {"trackingId": "tenant-a-invoice", "name": "A.xml", "flowSyntax": "CII",
            "sha256": hashlib.sha256(CONTENT).hexdigest()}
    with _client(url, "tenant-a") as a, _client(url, "tenant-b") as b:
        made = a.post("/v1/flows", files={
            "flowInfo": (None, json.dumps(info), "application/json"),
            "file": ("A.xml", CONTENT, "application/xml")})
        assert made.status_code == 202
        flow_id = made.json()["flowId"]
        assert a.get(f"/v1/flows/{flow_id}").status_code == 200
        assert b.get(f"/v1/flows/{flow_id}").status_code == 404
        assert b.get(f"/v1/flows/{flow_id}", params={"docType": "Original"}).status_code == 404
        where: dict[str, Any] = {"where": {"trackingId": "tenant-a-invoice"}}
        assert b.post("/v1/flows/search", json=where).json()["results"] == []
        assert [r["flowId"] for r in a.post("/v1/flows/search", json=where).json()["results"]
                ] == [flow_id]
        hook = a.post("/v1/webhooks", json={"callbackUrl": "http://127.0.0.1:9/a"}).json()
        assert b.get("/v1/webhooks").json()["count"] == 0
        assert b.delete(f"/v1/webhooks/{hook['webhookId']}").status_code == 404
        assert a.delete(f"/v1/webhooks/{hook['webhookId']}").status_code == 204
