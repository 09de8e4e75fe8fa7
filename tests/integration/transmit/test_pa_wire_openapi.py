"""Every request PaClient sends is valid against the official Flow Service 1.3.0 document.

The client talks to the real simulator through a recording transport; each recorded
``/v1/*`` request (upload, search with its cursors, metadata and file downloads, webhook
subscription and removal, health check) is then validated with openapi-core against
``../shared/spec/afnor/flow-service-1.3.0.openapi.json`` (its ``servers`` replaced by the
simulator's URL: the document's server is a template for each platform). Every request
carries a distinct ``Request-Id`` UUID; the token request is the OAuth2 client-credentials
form.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.exceptions import OpenAPIError
from pydantic import SecretStr

from services.transmit.adapters.pa_client import PaClient, PaCredentials, PaEndpoint
from services.transmit.domain.flow import flow_info, sha256_hex
from services.transmit.pa_sim import SimConfig, SimServer

pytestmark = pytest.mark.integration

SPEC = Path(__file__).resolve().parents[4] / "shared" / "spec" / "afnor" / \
    "flow-service-1.3.0.openapi.json"
CII = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "cii" / \
    "mustang__validV2FR.xml"


class Recorder(httpx.AsyncBaseTransport):
    """Forwards to a real transport and keeps every request (with its body)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(ack_delay_s=0, lifecycle_codes=(202, 205),
                             lifecycle_interval_s=0.01)) as server:
        yield server


def openapi_for(url: str) -> OpenAPI:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    spec["servers"] = [{"url": url}]
    return OpenAPI.from_dict(spec)


def as_requests(request: httpx.Request) -> RequestsOpenAPIRequest:
    prepared = requests.Request(request.method, str(request.url), headers=dict(request.headers),
                                data=request.content).prepare()
    return RequestsOpenAPIRequest(prepared)


def test_every_request_the_client_sends_is_valid_against_the_document(sim: SimServer) -> None:
    recorder = Recorder()
    creds = PaCredentials(endpoint=PaEndpoint(base_url=sim.url), client_id="73282932000074",
                          client_secret=SecretStr("s3cret"))
    content = CII.read_bytes()

    async def scenario() -> None:
        async with PaClient(transport=recorder) as client:
            assert await client.healthcheck(creds.endpoint)
            info = flow_info(tracking_id=uuid.uuid4(), name="FAC-20171118-506.xml",
                             syntax="cii", profile="EN16931", sha256=sha256_hex(content))
            result = await client.upload(creds, info, "FAC-20171118-506.xml", content)
            await client.get_flow(creds, result.flow_id)
            assert await client.download(creds, result.flow_id) == content
            for _ in range(300):
                found = await client.search(creds, {"flowDirection": ["In"],
                                                    "flowType": ["CustomerInvoiceLC"]}, limit=1)
                if len(found) >= 2:
                    break
                await asyncio.sleep(0.01)
            assert len(found) == 2
            assert await client.find_by_tracking_id(creds, info["trackingId"])
            webhook_id, key = await client.create_webhook(
                creds, "https://broker.example/pa/webhook", flowDirection="In")
            assert len(key) >= 32
            await client.delete_webhook(creds, webhook_id)
            cdar = b'<?xml version="1.0"?><x/>'
            await client.upload(creds, {"trackingId": str(uuid.uuid4()), "name": "c.xml",
                                        "flowSyntax": "CDAR", "processingRule": "B2B",
                                        "sha256": hashlib.sha256(cdar).hexdigest()},
                                "c.xml", cdar)

    asyncio.run(scenario())
    openapi = openapi_for(sim.url)
    flow_calls = [r for r in recorder.requests if r.url.path.startswith("/v1/")]
    seen = {(r.method, r.url.path.split("/")[2]) for r in flow_calls}
    assert {("GET", "healthcheck"), ("POST", "flows"), ("GET", "flows"),
            ("POST", "webhooks"), ("DELETE", "webhooks")} <= seen
    assert sum(1 for r in flow_calls if b'"cursor"' in r.content) >= 1  # pages were followed
    for request in flow_calls:
        openapi.validate_request(as_requests(request))  # raises on any violation
    request_ids = [r.headers.get("request-id") for r in recorder.requests]
    assert all(rid and uuid.UUID(rid).version == 4 for rid in request_ids)
    assert len(set(request_ids)) == len(request_ids)
    [token] = [r for r in recorder.requests if r.url.path == "/oauth/token"]
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(token.content.decode())
    assert form == {"grant_type": ["client_credentials"], "client_id": ["73282932000074"],
                    "client_secret": ["s3cret"]}


def test_a_request_outside_the_document_is_caught(sim: SimServer) -> None:
    """The validator used above does refuse a non-conforming request (the old dialect)."""
    old = httpx.Request("POST", f"{sim.url}/v1/flows/search",
                        json={"where": {"flowDirection": "In"}})
    with pytest.raises(OpenAPIError):
        openapi_for(sim.url).validate_request(as_requests(old))


@pytest.mark.parametrize("info", [{"name": "a.xml", "flowSyntax": "PDF"},
                                  {"flowSyntax": "CII"},
                                  {"name": "a.xml", "flowSyntax": "CII", "sha256": "ABC"}])
def test_the_multipart_flow_info_is_validated_too(sim: SimServer, info: dict[str, str]) -> None:
    upload = httpx.Request("POST", f"{sim.url}/v1/flows", files={
        "flowInfo": (None, json.dumps(info), "application/json"),
        "file": ("a.xml", b"<a/>", "application/xml")})
    upload.read()
    with pytest.raises(OpenAPIError):
        openapi_for(sim.url).validate_request(as_requests(upload))
