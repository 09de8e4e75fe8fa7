"""RFC 3161 client: time-stamps a SHA-256 at ``EFACTURE_TSA_URL`` (or the built-in TSA).

Failure semantics (shared/errors.py):
- ``RetryableError(code="tsa-unavailable")``: connection error, timeout, HTTP 429/5xx or any other
  non-200 answer, status ``waiting`` — the invoice is not at fault, try again later;
- ``RetryableError(code="tsa-bad-response")``: a 200 whose body is not a valid TimeStampResp for
  this request (wrong imprint or nonce, no token) — a misbehaving TSA or proxy, not the invoice;
- ``PermanentError(code="tsa-refused")``: the TSA answered with status ``rejection`` (or a
  revocation status): it will not stamp this request.
The token's signature is not checked here: the evidence bundle is checked by ``openssl ts -verify``
and ``efacture verify``, against the chain.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx
from asn1crypto import cms, tsp
from pydantic import BaseModel, ConfigDict

from services.archive.tsa.protocol import (
    GRANTED_STATUSES,
    REQUEST_CONTENT_TYPE,
    TimeStampResp,
    build_request,
)
from shared.errors import PermanentError, RetryableError
from shared.metrics import http_request_counter
from shared.settings import Settings


class TimeStampToken(BaseModel):
    """A granted time-stamp: the whole TimeStampResp (the bundle's ``timestamp.tsr``) and facts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    response_der: bytes
    gen_time: datetime
    serial: int


class TsaClient:
    """Async RFC 3161 client with a pooled ``httpx.AsyncClient``; close it with :meth:`aclose`.

    ``chain_file`` is where the chain of an external TSA is read from (TSA certificate then its
    CA, PEM); without it :meth:`chain_pem` fetches ``tsa.pem`` beside the TSA URL, which only
    the built-in TSA serves.
    """

    def __init__(
        self,
        url: str,
        *,
        chain_file: Path | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._chain_file = chain_file
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            transport=transport,
            event_hooks={"request": [http_request_counter("tsa")]},
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, chain_file: Path | None = None) -> TsaClient:
        """Client of ``EFACTURE_TSA_URL``, or of the built-in TSA when that is unset."""
        return cls(settings.effective_tsa_url, chain_file=chain_file)

    async def __aenter__(self) -> TsaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stamp(self, sha256: bytes) -> TimeStampToken:
        """Time-stamp a SHA-256 digest (32 bytes); see the module docstring for failures.

        Raises ``ValueError`` if ``sha256`` is not 32 bytes (a caller bug).
        """
        if len(sha256) != 32:
            raise ValueError(f"a SHA-256 digest is 32 bytes, got {len(sha256)}")
        nonce = secrets.randbits(63) | 1
        request = build_request(sha256, nonce=nonce, cert_req=True)
        body = await self._post(request)
        return parse_response(body, sha256=sha256, nonce=nonce)

    async def chain_pem(self) -> bytes:
        """The TSA certificate chain, PEM: from ``chain_file``, else ``GET <base>/tsa.pem``.

        Raises ``RetryableError(code="tsa-unavailable")`` when it cannot be fetched.
        """
        if self._chain_file is not None:
            return self._chain_file.read_bytes()
        url = self._url.rstrip("/").rsplit("/", 1)[0] + "/tsa.pem"
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise RetryableError(
                f"TSA chain fetch failed: {exc!r}", code="tsa-unavailable"
            ) from exc
        if response.status_code != 200 or b"-----BEGIN CERTIFICATE-----" not in response.content:
            raise RetryableError(
                f"TSA chain fetch answered HTTP {response.status_code}", code="tsa-unavailable"
            )
        return response.content

    async def _post(self, request: bytes) -> bytes:
        try:
            response = await self._http.post(
                self._url, content=request, headers={"Content-Type": REQUEST_CONTENT_TYPE}
            )
        except httpx.HTTPError as exc:
            raise RetryableError(f"TSA unreachable: {exc!r}", code="tsa-unavailable") from exc
        if response.status_code != 200:
            raise RetryableError(
                f"TSA answered HTTP {response.status_code}",
                code="tsa-unavailable",
                retry_after=_retry_after(response),
            )
        # The content type is not checked: some TSAs still send the pre-RFC
        # "application/timestamp-response"; the DER itself is checked by parse_response.
        return response.content


def parse_response(body: bytes, *, sha256: bytes, nonce: int | None) -> TimeStampToken:
    """Check a DER TimeStampResp against the request it answers and extract the token facts.

    Raises ``PermanentError(code="tsa-refused")`` on a rejection or revocation status,
    ``RetryableError`` on ``waiting`` (``tsa-unavailable``) or a malformed or mismatched
    response (``tsa-bad-response``).
    """
    try:
        response = TimeStampResp.load(body, strict=True)
        status = response["status"]["status"].native
        texts = response["status"]["status_string"].native or []
    except (ValueError, TypeError, KeyError) as exc:
        raise RetryableError(f"not a TimeStampResp: {exc}", code="tsa-bad-response") from exc
    if status == "waiting":
        raise RetryableError("TSA asked to wait", code="tsa-unavailable")
    if status not in GRANTED_STATUSES:
        raise PermanentError(f"TSA refused: {status} {' '.join(texts)}".strip(), code="tsa-refused")
    try:
        token = response["time_stamp_token"]
        if token["content_type"].native != "signed_data":
            raise ValueError("token is not SignedData")
        signed_data: cms.SignedData = token["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError("token does not encapsulate a TSTInfo")
        tst_info: tsp.TSTInfo = encap["content"].parsed
        imprint = tst_info["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = imprint["hashed_message"].native
        token_nonce = tst_info["nonce"].native
        gen_time = tst_info["gen_time"].native
        serial = tst_info["serial_number"].native
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise RetryableError(f"malformed time-stamp token: {exc}", code="tsa-bad-response") from exc
    if algorithm != "sha256" or hashed != sha256:
        raise RetryableError("token imprint does not match the request", code="tsa-bad-response")
    if nonce is not None and token_nonce != nonce:
        raise RetryableError("token nonce does not match the request", code="tsa-bad-response")
    if not isinstance(gen_time, datetime) or not isinstance(serial, int):
        raise RetryableError("token without genTime or serial", code="tsa-bad-response")
    return TimeStampToken(response_der=body, gen_time=gen_time.astimezone(UTC), serial=serial)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None
