"""Transport of the PA client: pooled HTTP, OAuth2 client-credentials tokens, circuit breakers.

:class:`PaTransport` turns every answer into the project's vocabulary (see
``services.transmit.domain.failure``): an :class:`Outcome` for 2xx/409 ``AlreadyExistingFlow``,
else :class:`PermanentError` / :class:`RetryableError`. A 401 drops the cached token, fetches a
new one and retries once. Every request carries a fresh ``Request-Id`` (UUID), logged with its
method, URL and status (debug; refusals at info, transport failures as warnings). While a
platform's breaker is half-open, ``GET /v1/healthcheck`` is the probe: the real call goes out
only once the platform answered it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from services.transmit.adapters.pa_models import PaCredentials, PaEndpoint, json_object
from services.transmit.domain.breaker import BreakerState, CircuitBreaker
from services.transmit.domain.failure import (
    Outcome,
    classify,
    parse_retry_after,
    token_refused,
    transport_failure,
    unauthorized_after_refresh,
)
from shared.errors import PermanentError, RetryableError
from shared.logging import get_logger
from shared.metrics import http_request_counter

log = get_logger(__name__)


class PaTransport:
    """Pooled HTTP with tokens and breakers; :class:`PaClient` adds the Flow Service calls."""


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
            event_hooks={"request": [http_request_counter("pa")]},
        )
        self._margin = token_margin_s
        self._breaker_factory = breaker_factory
        self._breakers: dict[str, CircuitBreaker] = {}
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._token_locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PaTransport:
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
                response.status_code, json_object(response),
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
        classify(response.status_code, json_object(response))

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
            body = json_object(response) or {}
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
