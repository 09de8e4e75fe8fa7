"""``/v1/webhooks`` of the simulator: list, subscribe (``WebhookParams`` → 201
``WebhookIdParam`` with the signing key), unsubscribe (204; 404 for another client's)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from services.transmit.pa_sim.app import Simulator


def _params(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError("a JSON object is expected")
    url = body.get("callbackUrl")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(
            url).netloc:
        raise ValueError("callbackUrl must be an http(s) URL")
    params: dict[str, Any] = {"callbackUrl": url}
    if "flowTypes" in body:
        types = body["flowTypes"]
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise ValueError("flowTypes must be an array of flow types")
        params["flowTypes"] = types
    for name, allowed in (("flowDirection", {"In", "Out"}),
                          ("ackStatus", {"Pending", "Ok", "Error"})):
        if name in body:
            if body[name] not in allowed:
                raise ValueError(f"{name} must be one of {sorted(allowed)}")
            params[name] = body[name]
    return params


class WebhookRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def _error(self, status: int, code: str, message: str) -> Response:
        return JSONResponse({"errorCode": code, "errorMessage": message}, status)

    async def list(self, request: Request) -> Response:
        answer, client = await self.sim.gate(request)
        if answer is not None:
            return answer
        subs = self.sim.store.webhooks.owned(client)
        # The document requires "webhookIds" but describes "webhooks": both are sent.
        return JSONResponse({"count": len(subs),
                             "webhookIds": [s.webhook_id for s in subs],
                             "webhooks": [s.as_json(with_key=False) for s in subs]})

    async def create(self, request: Request) -> Response:
        answer, client = await self.sim.gate(request)
        if answer is not None:
            return answer
        try:
            params = _params(await request.json())
        except ValueError as exc:
            return self._error(400, "BAD_REQUEST", str(exc))
        sub = self.sim.store.webhooks.create(client, params)
        return JSONResponse(sub.as_json(with_key=True), 201)

    async def delete(self, request: Request) -> Response:
        answer, client = await self.sim.gate(request)
        if answer is not None:
            return answer
        webhook_id = request.path_params["webhook_id"]
        try:
            UUID(webhook_id)
        except ValueError:
            return self._error(400, "BAD_REQUEST", "webhookUid must be a UUID")
        if not self.sim.store.webhooks.delete(client, webhook_id):
            return self._error(404, "MISSING_RESOURCE", "no such webhook")
        return Response(status_code=204)
