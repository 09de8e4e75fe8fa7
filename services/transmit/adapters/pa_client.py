"""Client of the accredited platform's Flow Service, XP Z12-013 1.3.0 (contract section 5).

One :class:`PaClient` per process; its transport (``pa_http.PaTransport``) pools HTTP,
caches a token per tenant credentials and keeps a circuit breaker per platform. Every
failure surfaces as the project's vocabulary (see ``services.transmit.domain.failure``):

- :class:`PermanentError` — 400/413/422 (``pa-refused-<status>``), a profile or answer that
  can never succeed, credentials refused twice (``pa-unauthorized``);
- :class:`RetryableError` — 429 (``retry_after`` from ``Retry-After``), 5xx, timeouts,
  connection errors, and an open circuit breaker (``pa-circuit-open``).

A 409 ``AlreadyExistingFlow`` on upload is success (``already_existed=True``); a flow's
acknowledgement ``Error`` carries its ``details`` as reasons; searches follow ``nextCursor``
to the last page; ``download`` fetches a flow's file (``docType=Original``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Literal

from services.transmit.adapters.pa_http import PaTransport
from services.transmit.adapters.pa_models import (
    FlowReason,
    FlowStatus,
    PaCredentials,
    PaEndpoint,
    UploadResult,
    json_object,
    mime,
)
from services.transmit.domain.failure import Outcome, PaRefusal
from shared.errors import RetryableError

__all__ = ["FlowReason", "FlowStatus", "PaClient", "PaCredentials", "PaEndpoint",
           "UploadResult"]

MAX_PAGES = 1000  # a platform that never stops paginating is a bad answer, not a loop


class PaClient(PaTransport):
    """Async client of the Flow Service; share one instance, close it with :meth:`aclose`."""

    async def __aenter__(self) -> PaClient:
        return self

    # --- the Flow Service ----------------------------------------------------------------

    async def upload(self, creds: PaCredentials, flow_info: Mapping[str, str], filename: str,
                     content: bytes) -> UploadResult:
        """``POST /v1/flows``. Idempotent by ``trackingId``: a flow the PA already holds is
        reported with ``already_existed=True`` and its ``flow_id`` (looked up by search)."""
        files = {"flowInfo": (None, json.dumps(dict(flow_info)), "application/json"),
                 "file": (filename, content, mime(filename))}
        outcome, response = await self._call(creds, "POST", "/v1/flows", files=files)
        tracking_id = flow_info["trackingId"]
        body = json_object(response) or {}
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
        body = json_object(response) or {}
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
            page = json_object(response) or {}
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
        body = json_object(response) or {}
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
