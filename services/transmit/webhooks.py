"""Webhooks from the PA, with polling as the fallback (only when ``EFACTURE_PA_WEBHOOK_URL``
is set: the public URL where the PA reaches this process).

- :meth:`WebhookManager.reconcile` (periodic) subscribes each active tenant at its PA
  (``POST /v1/webhooks``, callback ``<EFACTURE_PA_WEBHOOK_URL>/<SIRET>``, inbound lifecycle
  flows) and unsubscribes a stopped tenant (``DELETE /v1/webhooks/{id}``). The signing key
  stays in memory; the subscription's id is kept in ``transmit.webhook`` so a restart deletes
  the old subscription before making a new one.
- The receiver (Starlette, ``bind_host:EFACTURE_PA_WEBHOOK_PORT``) accepts a callback only
  when its ``Afnor-Signature`` verifies with that tenant's key and its
  ``Afnor-Signature-Timestamp`` is within 5 minutes (``domain/signature.py``); anything else
  is 401 with a reason code and logged. An accepted callback wakes the lifecycle follower
  for that tenant, which fetches the flows it names; the follower keeps polling a tenant
  with a webhook every ``POLL_WITH_WEBHOOKS_S`` to catch a lost notification.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.transmit.domain.signature import refusal
from services.transmit.follower import LifecycleFollower
from services.transmit.service import TransmitService
from shared.errors import EfactureError
from shared.logging import get_logger

log = get_logger(__name__)
MAX_BODY = 1024 * 1024


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or ``None`` past :data:`MAX_BODY`: read in chunks and never held whole, since
    anyone who can reach the receiver may send one (it is read before the signature check)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookManager:
    def __init__(self, transmit: TransmitService, follower: LifecycleFollower,
                 clock: Callable[[], float] = time.time) -> None:
        self.t, self.follower, self.clock = transmit, follower, clock
        self.url = transmit.rt.settings.pa_webhook_url
        self.keys: dict[str, bytes] = {}
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        follower.pushed = self.keys.__contains__

    # --- subscriptions -------------------------------------------------------------------

    async def reconcile(self) -> None:
        if not self.url:
            return
        async with self.t.rt.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT t.siret, t.active, w.webhook_id FROM core.tenant t"
                " LEFT JOIN transmit.webhook w ON w.tenant = t.siret")
            rows = await cur.fetchall()
        for siret, active, webhook_id in rows:
            try:
                if active and siret not in self.keys:
                    await self._subscribe(siret, webhook_id)
                elif not active and webhook_id:
                    await self._unsubscribe(siret, webhook_id)
            except EfactureError as exc:
                log.warning("pa-webhook-reconcile-failed", tenant=siret, error=str(exc))

    async def _subscribe(self, siret: str, old_id: str | None) -> None:
        creds = await self.t.credentials(siret)
        if old_id:
            await self.t.pa.delete_webhook(creds, old_id)
        callback = f"{str(self.url).rstrip('/')}/{siret}"
        webhook_id, key = await self.t.pa.create_webhook(
            creds, callback, flowDirection="In", flowTypes=["CustomerInvoiceLC"])
        async with self.t.rt.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO transmit.webhook (tenant, endpoint, webhook_id) VALUES (%s, %s, %s)"
                " ON CONFLICT (tenant) DO UPDATE SET endpoint = EXCLUDED.endpoint,"
                " webhook_id = EXCLUDED.webhook_id, created_at = now()",
                (siret, creds.endpoint.base_url, webhook_id))
        self.keys[siret] = key
        log.info("pa-webhook-subscribed", tenant=siret, webhook_id=webhook_id)

    async def _unsubscribe(self, siret: str, webhook_id: str) -> None:
        creds = await self.t.credentials(siret)
        await self.t.pa.delete_webhook(creds, webhook_id)
        async with self.t.rt.pool.connection() as conn:
            await conn.execute("DELETE FROM transmit.webhook WHERE tenant = %s", (siret,))
        self.keys.pop(siret, None)
        log.info("pa-webhook-unsubscribed", tenant=siret, webhook_id=webhook_id)

    # --- the receiver --------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        siret = request.path_params["siret"]
        key = self.keys.get(siret)
        if key is None:
            return JSONResponse({"errorCode": "MISSING_RESOURCE",
                                 "errorMessage": "no subscription"}, 404)
        payload = await _bounded_body(request)
        if payload is None:
            return JSONResponse({"errorCode": "FILE_SIZE_EXCEEDED",
                                 "errorMessage": "callback too large"}, 413)
        reason = refusal(key, payload, request.headers.get("afnor-signature"),
                         request.headers.get("afnor-signature-timestamp"), now=self.clock())
        if reason is not None:
            log.warning("pa-webhook-refused", tenant=siret, reason=reason)
            return JSONResponse({"errorCode": reason, "errorMessage": "callback refused"}, 401)
        try:
            flow: Any = json.loads(payload)
            flow_id = flow.get("flowId") if isinstance(flow, dict) else None
        except ValueError:
            flow_id = None
        if not flow_id:
            return JSONResponse({"errorCode": "BAD_REQUEST",
                                 "errorMessage": "the body is not a Flow"}, 400)
        log.info("pa-webhook-received", tenant=siret, flow_id=str(flow_id))
        self.follower.wake(siret)
        return Response(status_code=200)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{siret}", self.receive, methods=["POST"])])

    async def start(self) -> None:
        if not self.url:
            return
        settings = self.t.rt.settings
        self._server = uvicorn.Server(uvicorn.Config(
            self.app(), host=settings.bind_host, port=settings.pa_webhook_port,
            log_level="warning", access_log=False, lifespan="off"))
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(200):
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.05)
        if not self._server.started:
            raise RuntimeError(f"webhook receiver could not listen on port "
                               f"{settings.pa_webhook_port}")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
