"""TsaClient against an in-process transport: what it sends, accepts and raises."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from asn1crypto import tsp

from services.archive.adapters.tsa_client import TimeStampToken, TsaClient, parse_response
from services.archive.tsa.authority import TimeStampAuthority
from services.archive.tsa.credentials import TsaCredentials, generate_authority
from services.archive.tsa.protocol import build_request, rejection
from shared.errors import PermanentError, RetryableError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 2, 8, 30, 0, 123456, tzinfo=UTC)
SHA256 = hashlib.sha256(b"invoice bytes").digest()
URL = "http://tsa.test/tsa"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="module")
def credentials() -> TsaCredentials:
    return generate_authority(NOW).credentials


@pytest.fixture
def authority(credentials: TsaCredentials) -> TimeStampAuthority:
    return TimeStampAuthority(credentials, clock=lambda: NOW, serial_source=lambda: 77)


def _stamp(handler: Handler, digest: bytes = SHA256) -> TimeStampToken:
    async def go() -> TimeStampToken:
        async with TsaClient(URL, transport=httpx.MockTransport(handler)) as client:
            return await client.stamp(digest)

    return asyncio.run(go())


def _answer(authority: TimeStampAuthority) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/timestamp-query"
        body = authority.respond(request.content)
        reply = {"content-type": "application/timestamp-reply"}
        return httpx.Response(200, content=body, headers=reply)

    return handler


def test_stamp_returns_gen_time_serial_and_the_whole_response(
    authority: TimeStampAuthority,
) -> None:
    token = _stamp(_answer(authority))
    assert token.gen_time == NOW.replace(microsecond=123000)
    assert token.gen_time.tzinfo is not None
    assert token.serial == 77
    tst = parse_response(token.response_der, sha256=SHA256, nonce=None)
    assert tst == token


def test_stamp_sends_sha256_imprint_with_nonce_and_cert_req(authority: TimeStampAuthority) -> None:
    seen: list[tsp.TimeStampReq] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(tsp.TimeStampReq.load(request.content))
        return _answer(authority)(request)

    _stamp(handler)
    (request,) = seen
    assert request["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert request["message_imprint"]["hashed_message"].native == SHA256
    assert request["cert_req"].native is True
    assert isinstance(request["nonce"].native, int)


def test_rejection_status_is_a_permanent_refusal() -> None:
    body = rejection("bad_alg", "no")
    with pytest.raises(PermanentError) as caught:
        _stamp(lambda _: httpx.Response(200, content=body))
    assert caught.value.code == "tsa-refused"


@pytest.mark.parametrize("status", [500, 502, 503, 429, 404])
def test_http_error_status_is_retryable(status: int) -> None:
    with pytest.raises(RetryableError) as caught:
        _stamp(lambda _: httpx.Response(status, headers={"retry-after": "7"}))
    assert caught.value.code == "tsa-unavailable"
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")],
)
def test_transport_failure_is_retryable(failure: httpx.HTTPError) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(RetryableError) as caught:
        _stamp(handler)
    assert caught.value.code == "tsa-unavailable"


def test_token_for_another_digest_is_not_accepted(authority: TimeStampAuthority) -> None:
    other = build_request(hashlib.sha256(b"someone else").digest())

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=authority.respond(other))

    with pytest.raises(RetryableError) as caught:
        _stamp(handler)
    assert caught.value.code == "tsa-bad-response"


def test_token_with_another_nonce_is_not_accepted(authority: TimeStampAuthority) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = tsp.TimeStampReq.load(request.content)
        replayed = build_request(SHA256, nonce=sent["nonce"].native + 1)
        return httpx.Response(200, content=authority.respond(replayed))

    with pytest.raises(RetryableError) as caught:
        _stamp(handler)
    assert caught.value.code == "tsa-bad-response"


def test_body_that_is_not_a_response_is_retryable_bad_response() -> None:
    with pytest.raises(RetryableError) as caught:
        _stamp(lambda _: httpx.Response(200, content=b"<html>proxy error</html>"))
    assert caught.value.code == "tsa-bad-response"


def test_digest_that_is_not_sha256_sized_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        _stamp(lambda _: httpx.Response(500), digest=b"short")


def test_chain_is_fetched_beside_the_tsa_url(authority: TimeStampAuthority) -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(200, content=authority.chain_pem())

    async def go() -> bytes:
        async with TsaClient(URL, transport=httpx.MockTransport(handler)) as client:
            return await client.chain_pem()

    assert asyncio.run(go()) == authority.chain_pem()
    assert urls == ["http://tsa.test/tsa.pem"]


def test_chain_of_an_external_tsa_comes_from_its_file(tmp_path: Path) -> None:
    chain_file = tmp_path / "external-tsa.pem"
    chain_file.write_bytes(b"-----BEGIN CERTIFICATE-----\n...")

    def handler(_: httpx.Request) -> httpx.Response:
        raise AssertionError("no HTTP expected")

    async def go() -> bytes:
        transport = httpx.MockTransport(handler)
        async with TsaClient(URL, chain_file=chain_file, transport=transport) as client:
            return await client.chain_pem()

    assert asyncio.run(go()) == chain_file.read_bytes()
