"""HTTP client of the accredited platform's Flow Service (contract section 5).

One :class:`PaClient` per process: a pooled ``httpx.AsyncClient``, a token cache keyed by
tenant credentials, and a circuit breaker per platform. Every failure surfaces as the
project's vocabulary (see ``services.transmit.domain.failure``):

- :class:`PermanentError` — 400/413/422 (``pa-refused-<status>``), a profile or answer that
  can never succeed, credentials refused twice (``pa-unauthorized``);
- :class:`RetryableError` — 429 (``retry_after`` from ``Retry-After``), 5xx, timeouts,
  connection errors, and an open circuit breaker (``pa-circuit-open``).

A 409 ``AlreadyExistingFlow`` on upload is success (``already_existed=True``); a 401 drops
the cached token, fetches a new one and retries once. Every request carries a fresh
``Request-Id`` (UUID), logged with its method, path and status. While a platform's breaker
is half-open, ``GET /v1/healthcheck`` is the probe: the real call goes out only once the
platform answered it. Searches follow ``nextCursor`` to the last page.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from services.transmit.domain.breaker import BreakerState, CircuitBreaker
from services.transmit.domain.failure import (
    Outcome,
    PaRefusal,
    classify,
    parse_retry_after,
    token_refused,
    transport_failure,
    unauthorized_after_refresh,
)
from shared.errors import PermanentError, RetryableError
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)
MAX_PAGES = 1000  # a platform that never stops paginating is a bad answer, not a loop

_Frozen = ConfigDict(frozen=True, extra="forbid")


class PaEndpoint(BaseModel):
    """Where a tenant's platform lives; ``token_url`` defaults to ``{base_url}/oauth/token``."""

    model_config = _Frozen
    base_url: str
    token_url: str | None = None

    @property
    def oauth_url(self) -> str:
        return self.token_url or f"{self.base_url.rstrip('/')}/oauth/token"

    @classmethod
    def for_tenant(cls, settings: Settings, *, sandbox: bool) -> PaEndpoint:
        """Sandbox tenants always use the built-in simulator; others ``EFACTURE_PA_URL`` (and
        ``EFACTURE_PA_TOKEN_URL``) if set."""
        if sandbox or not settings.pa_url:
            return cls(base_url=settings.builtin_pa_url)
        return cls(base_url=settings.pa_url, token_url=settings.pa_token_url)


class PaCredentials(BaseModel):
    """One tenant's OAuth2 client credentials at its platform (the secret never prints)."""

    model_config = _Frozen
    endpoint: PaEndpoint
    client_id: str
    client_secret: SecretStr


class UploadResult(BaseModel):
    model_config = _Frozen
    flow_id: str
    tracking_id: str
    already_existed: bool


class FlowReason(BaseModel):
    """One ``acknowledgement.details[]`` entry: ``reasonCode``, ``reasonMessage``, ``item``."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    code: str
    message: str = ""
    item: str = ""
    level: str = "Error"


class FlowStatus(BaseModel):
    """``Ok`` means lifecycle 200 Déposée; ``Error`` means 213 Rejetée with ``reasons``."""

    model_config = _Frozen
    flow_id: str
    tracking_id: str
    ack_status: Literal["Pending", "Ok", "Error"]
    reasons: tuple[FlowReason, ...] = ()


def _mime(filename: str) -> str:
    lowered = filename.lower()
    if lowered.endswith(".pdf"):
        return "application/pdf"
    if lowered.endswith(".xml"):
        return "application/xml"
    return "application/octet-stream"


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class PaClient:
    """Async client of the Flow Service; share one instance, close it with :meth:`aclose`."""

    def __init__(
        self,
        *,
        timeout: httpx.Timeout | None = None,
        token_margin_s: float = 30.0,
        breaker_factory: Callable[[], CircuitBreaker] | None = CircuitBreaker,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = httpx.AsyncClient(
            timeout=timeout or httpx.Timeout(10.0, connect=5.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            transport=transport,
        )
        self._margin = token_margin_s
        self._breaker_factory = breaker_factory
        self._breakers: dict[str, CircuitBreaker] = {}
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._token_locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PaClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    def breaker_state(self, endpoint: PaEndpoint) -> BreakerState:
        breaker = self._breakers.get(endpoint.base_url)
        return BreakerState.CLOSED if breaker is None else breaker.state

    def breaker_states(self) -> dict[str, BreakerState]:
        """Every platform this client has called, by base URL, with its breaker's state."""
        return {url: b.state for url, b in self._breakers.items()}

    # --- the Flow Service ----------------------------------------------------------------

    async def upload(self, creds: PaCredentials, flow_info: Mapping[str, str], filename: str,
                     content: bytes) -> UploadResult:
        """``POST /v1/flows``. Idempotent by ``trackingId``: a flow the PA already holds is
        reported with ``already_existed=True`` and its ``flow_id`` (looked up by search)."""
        files = {"flowInfo": (None, json.dumps(dict(flow_info)), "application/json"),
                 "file": (filename, content, _mime(filename))}
        outcome, response = await self._call(creds, "POST", "/v1/flows", files=files)
        tracking_id = flow_info["trackingId"]
        body = _json_object(response) or {}
        if outcome is Outcome.ALREADY_EXISTS:
            flow_id = body.get("flowId")
            if not flow_id:
                found = await self.find_by_tracking_id(creds, tracking_id)
                flow_id = found.get("flowId") if found else None
            if not flow_id:
                raise RetryableError(f"PA holds trackingId {tracking_id} but search misses it",
                                     code="pa-flow-not-found")
            return UploadResult(flow_id=str(flow_id), tracking_id=tracking_id,
                                already_existed=True)
        if not body.get("flowId"):
            # Accepted without an id: the retry will meet 409 and find it by search.
            raise RetryableError("PA accepted the upload without a flowId", code="pa-bad-answer")
        return UploadResult(flow_id=str(body["flowId"]),
                            tracking_id=str(body.get("trackingId", tracking_id)),
                            already_existed=False)

    async def get_flow(self, creds: PaCredentials, flow_id: str) -> FlowStatus:
        """``GET /v1/flows/{flowId}``; an unknown flow is ``PermanentError`` (404)."""
        _, response = await self._call(creds, "GET", f"/v1/flows/{flow_id}")
        body = _json_object(response) or {}
        ack = body.get("acknowledgement")
        ack = ack if isinstance(ack, dict) else {}
        raw = ack.get("details")
        details: list[Any] = raw if isinstance(raw, list) else []
        try:
            return FlowStatus(
                flow_id=str(body.get("flowId", flow_id)),
                tracking_id=str(body.get("trackingId", "")),
                ack_status=ack.get("status", ""),
                reasons=tuple(FlowReason(code=str(d.get("reasonCode", "")),
                                         message=str(d.get("reasonMessage") or ""),
                                         item=str(d.get("item") or ""),
                                         level=str(d.get("level") or "Error"))
                              for d in details if isinstance(d, dict)))
        except ValueError as exc:
            raise RetryableError(f"unreadable flow status: {exc}", code="pa-bad-answer") from exc

    async def download(self, creds: PaCredentials, flow_id: str,
                       doc_type: Literal["Original", "Converted", "ReadableView"] = "Original"
                       ) -> bytes:
        """``GET /v1/flows/{flowId}?docType=…``: the file's bytes (404 is permanent)."""
        _, response = await self._call(creds, "GET", f"/v1/flows/{flow_id}",
                                       params={"docType": doc_type})
        return response.content

    async def search(self, creds: PaCredentials, where: Mapping[str, Any], *,
                     limit: int = 100) -> list[dict[str, Any]]:
        """``POST /v1/flows/search`` with ``{"where", "limit"}``, then each ``nextCursor``
        until the last page → every ``results`` item, in the platform's order."""
        found: list[dict[str, Any]] = []
        body: dict[str, Any] = {"where": dict(where), "limit": limit}
        for _ in range(MAX_PAGES):
            _, response = await self._call(creds, "POST", "/v1/flows/search", json=body)
            page = _json_object(response) or {}
            results = page.get("results", [])
            if not isinstance(results, list):
                raise RetryableError("PA search answer has no results list",
                                     code="pa-bad-answer")
            found.extend(item for item in results if isinstance(item, dict))
            cursor = page.get("nextCursor")
            if not isinstance(cursor, str) or not cursor or not results:
                return found
            body = {**body, "cursor": cursor}
        raise RetryableError(f"PA search did not end after {MAX_PAGES} pages",
                             code="pa-bad-answer")

    async def find_by_tracking_id(self, creds: PaCredentials,
                                  tracking_id: str) -> dict[str, Any] | None:
        """The outbound flow uploaded with this ``trackingId``, or ``None``."""
        results = await self.search(creds, {"trackingId": tracking_id, "flowDirection": ["Out"]})
        for item in results:
            if item.get("trackingId") == tracking_id and item.get("flowDirection", "Out") == "Out":
                return item
        return None

    async def create_webhook(self, creds: PaCredentials, callback_url: str,
                             **filters: Any) -> tuple[str, bytes]:
        """``POST /v1/webhooks`` → (``webhookId``, the decoded signing key)."""
        _, response = await self._call(creds, "POST", "/v1/webhooks",
                                       json={"callbackUrl": callback_url, **filters})
        body = _json_object(response) or {}
        webhook_id, key = body.get("webhookId"), body.get("signingKey")
        if not isinstance(webhook_id, str) or not isinstance(key, str):
            raise RetryableError("PA webhook answer lacks webhookId or signingKey",
                                 code="pa-bad-answer")
        try:
            return webhook_id, base64.b64decode(key, validate=True)
        except ValueError as exc:
            raise RetryableError("PA signing key is not base64", code="pa-bad-answer") from exc

    async def delete_webhook(self, creds: PaCredentials, webhook_id: str) -> None:
        """``DELETE /v1/webhooks/{webhookUid}``; one already gone (404) is fine."""
        try:
            await self._call(creds, "DELETE", f"/v1/webhooks/{webhook_id}")
        except PaRefusal as exc:
            if exc.status != 404:
                raise

    # --- plumbing ----------------------------------------------------------------------

    async def _call(self, creds: PaCredentials, method: str, path: str,
                    **kwargs: Any) -> tuple[Outcome, httpx.Response]:
        breaker = self._breaker(creds.endpoint)
        if breaker is not None and breaker.state is not BreakerState.CLOSED:
            if not breaker.allow():
                raise RetryableError(f"circuit open for {creds.endpoint.base_url}",
                                     code="pa-circuit-open", retry_after=breaker.retry_in())
            try:  # the half-open probe: GET /v1/healthcheck, then the real call
                await self._health(creds.endpoint)
            except BaseException:
                breaker.record_failure()
                raise
            breaker.record_success()
        try:
            result = await self._call_with_refresh(creds, method, path, **kwargs)
        except PermanentError:
            if breaker is not None:
                breaker.record_success()  # the platform answered: it is up
            raise
        except BaseException:
            if breaker is not None:
                breaker.record_failure()
            raise
        if breaker is not None:
            breaker.record_success()
        return result

    async def _call_with_refresh(self, creds: PaCredentials, method: str, path: str,
                                 **kwargs: Any) -> tuple[Outcome, httpx.Response]:
        url = f"{creds.endpoint.base_url.rstrip('/')}{path}"
        for attempt in (1, 2):
            token = await self._token(creds)
            response = await self._send(method, url, headers={"Authorization": f"Bearer {token}"},
                                        **kwargs)
            outcome = classify(
                response.status_code, _json_object(response),
                retry_after=parse_retry_after(response.headers.get("retry-after"),
                                              now=datetime.now(UTC)),
            )
            if outcome is not Outcome.UNAUTHORIZED:
                return outcome, response
            self._forget(creds, token)
            if attempt == 2:
                break
        raise unauthorized_after_refresh()

    async def healthcheck(self, endpoint: PaEndpoint) -> bool:
        """``GET /v1/healthcheck``: ``True`` when the platform says it is up."""
        try:
            await self._health(endpoint)
        except RetryableError:
            return False
        return True

    async def _health(self, endpoint: PaEndpoint) -> None:
        url = f"{endpoint.base_url.rstrip('/')}/v1/healthcheck"
        response = await self._send("GET", url)
        classify(response.status_code, _json_object(response))

    async def _send(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                    **kwargs: Any) -> httpx.Response:
        request_id = str(uuid.uuid4())
        try:
            response = await self._http.request(
                method, url, headers={**(headers or {}), "Request-Id": request_id}, **kwargs)
        except httpx.TimeoutException as exc:
            log.warning("pa-request-failed", request_id=request_id, method=method, url=url,
                        error="timeout")
            raise transport_failure("timeout", f"{method} {url} (Request-Id {request_id})"
                                    ) from exc
        except httpx.TransportError as exc:
            log.warning("pa-request-failed", request_id=request_id, method=method, url=url,
                        error=repr(exc))
            raise transport_failure("connect", f"{method} {url} (Request-Id {request_id}): "
                                    f"{exc!r}") from exc
        log.debug("pa-request", request_id=request_id, method=method, url=url,
                  status=response.status_code)
        if response.status_code >= 400:
            log.info("pa-request-refused", request_id=request_id, method=method, url=url,
                     status=response.status_code)
        return response

    def _breaker(self, endpoint: PaEndpoint) -> CircuitBreaker | None:
        if self._breaker_factory is None:
            return None
        if endpoint.base_url not in self._breakers:
            self._breakers[endpoint.base_url] = self._breaker_factory()
        return self._breakers[endpoint.base_url]

    @staticmethod
    def _key(creds: PaCredentials) -> tuple[str, str, str]:
        secret = hashlib.sha256(creds.client_secret.get_secret_value().encode()).hexdigest()
        return creds.endpoint.oauth_url, creds.client_id, secret

    def _forget(self, creds: PaCredentials, token: str) -> None:
        key = self._key(creds)
        cached = self._tokens.get(key)
        if cached is not None and cached[0] == token:  # another task may have refreshed it
            del self._tokens[key]

    async def _token(self, creds: PaCredentials) -> str:
        """A cached access token, or a new one (one request per tenant at a time)."""
        key = self._key(creds)
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached is not None and self._clock() < cached[1]:
                return cached[0]
            response = await self._send("POST", creds.endpoint.oauth_url, data={
                "grant_type": "client_credentials", "client_id": creds.client_id,
                "client_secret": creds.client_secret.get_secret_value()})
            body = _json_object(response) or {}
            if response.status_code in (400, 401, 403):
                raise token_refused(response.status_code, body)
            classify(response.status_code, body)  # raises on 429/5xx/other refusals
            token, lifetime = body.get("access_token"), body.get("expires_in", 300)
            if not isinstance(token, str) or not token:
                raise RetryableError("PA token answer has no access_token", code="pa-bad-answer")
            lifetime_s = float(lifetime) if isinstance(lifetime, int | float) else 300.0
            self._tokens[key] = (token, self._clock() + lifetime_s - min(self._margin,
                                                                         lifetime_s / 2))
            return token
