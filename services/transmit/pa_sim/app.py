"""The simulator's HTTP surface: contract section 5, plus ``/_sim/*`` controls and ``/health``.

Flow Service errors are ``{"errorCode", "errorMessage"}``. Injected faults (``down``,
``failure_rate``/``failure_status``, ``latency_ms``) apply to ``/oauth/token`` (down and
latency only) and every ``/v1/*`` route; ``/_sim/*`` and ``/health`` are never faulted, so
a test can always repair what it broke.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from services.transmit.pa_sim.config import SimConfig
from services.transmit.pa_sim.flow import iso
from services.transmit.pa_sim.flow_info import FlowInfoError, validate_flow_info
from services.transmit.pa_sim.store import DuplicateFlow, FlowStore
from shared.settings import Settings

# The simulator accepts any client credentials except this secret, to exercise refusals.
REFUSED_SECRET = "bad"  # noqa: S105


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errorCode": code, "errorMessage": message}, status, headers=headers)


class Simulator:
    """One simulator: its configuration (replaceable at run time) and its store."""

    def __init__(self, config: SimConfig | None = None, store: FlowStore | None = None) -> None:
        self.initial = config or SimConfig()
        self.config = self.initial
        self.store = store or FlowStore(seed=self.initial.seed)

    async def fault(self, request: Request, *, injectable: bool = True) -> Response | None:
        """Apply the configured faults; a response means the request is answered by it."""
        config = self.config
        if config.down:
            return error(503, "ServiceUnavailable", "the platform is down (simulated)")
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000)
        if injectable and self.store.roll(config.failure_rate):
            status = config.failure_status
            headers = {"Retry-After": str(config.retry_after)} if status == 429 else None
            return error(status, f"Simulated{status}", "fault injected by the simulator", headers)
        return None

    async def gate(self, request: Request) -> Response | None:
        """Faults first (the platform's front door), then the Bearer token."""
        answer = await self.fault(request)
        return answer if answer is not None else self.authorised(request)

    def authorised(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error(401, "Unauthorized", "a Bearer token is required",
                         {"WWW-Authenticate": "Bearer"})
        if not self.store.token_valid(token.strip()):
            return error(401, "InvalidToken", "the access token is unknown or expired",
                         {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return None

    # --- OAuth2 ----------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        if (answer := await self.fault(request, injectable=False)) is not None:
            return answer
        form = await request.form()
        grant = form.get("grant_type")
        client_id = form.get("client_id")
        secret = form.get("client_secret")
        if grant != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if not isinstance(client_id, str) or not client_id or not isinstance(secret, str):
            return JSONResponse({"error": "invalid_request"}, 400)
        if secret == REFUSED_SECRET:
            return JSONResponse({"error": "invalid_client"}, 401,
                                headers={"WWW-Authenticate": "Basic"})
        lifetime = self.config.expires_in
        return JSONResponse({"access_token": self.store.issue_token(lifetime),
                             "expires_in": lifetime, "token_type": "Bearer"})

    # --- Flow Service ----------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        self.store.count_upload_attempt()
        if (answer := await self.gate(request)) is not None:
            return answer
        try:
            form = await request.form(max_part_size=1024 * 1024)
        except Exception as exc:  # malformed multipart: the client's fault, say so
            return error(400, "BadRequest", f"malformed multipart body: {exc}")
        try:
            raw_info, upload = form.get("flowInfo"), form.get("file")
            if isinstance(raw_info, UploadFile):
                raw_info = (await raw_info.read()).decode("utf-8", "replace")
            if not isinstance(raw_info, str) or not isinstance(upload, UploadFile):
                return error(400, "BadRequest", "parts 'flowInfo' and 'file' are required")
            content = await upload.read(self.config.max_file_bytes + 1)
        finally:
            await form.close()
        if len(content) > self.config.max_file_bytes:
            return error(413, "FileTooLarge", f"file exceeds {self.config.max_file_bytes} bytes")
        try:
            info = validate_flow_info(json.loads(raw_info))
        except (ValueError, FlowInfoError) as exc:
            return error(422, "InvalidFlowInfo", str(exc))
        if hashlib.sha256(content).hexdigest() != info["sha256"]:
            return error(422, "InvalidSha256", "sha256 does not match the file")
        try:
            flow = self.store.add_outbound(info, self.config)
        except DuplicateFlow:
            return error(409, "AlreadyExistingFlow",
                         f"a flow with trackingId {info['trackingId']} already exists")
        return JSONResponse({"flowId": flow.flow_id, "trackingId": flow.tracking_id,
                             "submittedAt": iso(flow.submitted_at)}, 202)

    async def get_flow(self, request: Request) -> Response:
        if (answer := await self.gate(request)) is not None:
            return answer
        flow = self.store.get(request.path_params["flow_id"])
        if flow is None:
            return error(404, "FlowNotFound", "no such flow")
        return JSONResponse(flow)

    async def search(self, request: Request) -> Response:
        if (answer := await self.gate(request)) is not None:
            return answer
        try:
            body = await request.json()
            where: dict[str, Any] = body.get("where") or {}
            unknown = set(where) - {"trackingId", "updatedAfter", "flowDirection"}
            if unknown:
                raise ValueError(f"unknown criteria {sorted(unknown)}")
            after = where.get("updatedAfter")
            updated_after = datetime.fromisoformat(after) if after is not None else None
            if updated_after is not None and updated_after.tzinfo is None:
                raise ValueError("updatedAfter needs a time zone")
            direction = where.get("flowDirection")
            if direction not in (None, "In", "Out"):
                raise ValueError("flowDirection is In or Out")
        except (ValueError, AttributeError, TypeError) as exc:
            return error(400, "BadRequest", f"bad search: {exc}")
        tracking = where.get("trackingId")
        results = self.store.search(tracking_id=None if tracking is None else str(tracking),
                                    updated_after=updated_after, direction=direction)
        return JSONResponse({"results": results})

    # --- controls ----------------------------------------------------------------------

    async def get_config(self, request: Request) -> Response:
        return JSONResponse(self.config.model_dump(mode="json"))

    async def set_config(self, request: Request) -> Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("a JSON object is expected")
            self.config = self.config.merged(changes)
        except ValidationError as exc:
            return JSONResponse({"errorCode": "InvalidConfig",
                                 "errorMessage": exc.errors(include_url=False,
                                                            include_context=False)}, 422)
        except ValueError as exc:
            return error(400, "BadRequest", str(exc))
        return JSONResponse(self.config.model_dump(mode="json"))

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.store.stats())

    async def reset(self, request: Request) -> Response:
        self.store.reset()
        self.config = self.initial
        return JSONResponse({"reset": True})

    async def revoke_tokens(self, request: Request) -> Response:
        self.store.revoke_tokens()
        return JSONResponse({"revoked": True})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "down": self.config.down})


class SimulatedHangup(ConnectionAbortedError):
    """Raised after a response has started, so the server drops the connection."""


class _Hangup:
    """ASGI middleware of ``down`` with ``down_mode="close"``: start a response, then abort.

    Servers close a connection whose application fails after the response started; the
    client sees the connection drop mid-answer (an httpx ``RemoteProtocolError``).
    """

    def __init__(self, app: ASGIApp, sim: Simulator) -> None:
        self.app, self.sim = app, sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        config = self.sim.config
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if config.down and config.down_mode == "close" and (
                path.startswith("/v1/") or path == "/oauth/token"):
            if scope.get("method") == "POST" and path.rstrip("/") == "/v1/flows":
                self.sim.store.count_upload_attempt()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"1024")]})
            raise SimulatedHangup("simulated connection drop")
        await self.app(scope, receive, send)


def create_app(config: SimConfig | None = None, *, simulator: Simulator | None = None) -> Starlette:
    """The simulator as an ASGI app; ``app.state.simulator`` gives tests direct access."""
    sim = simulator or Simulator(config)
    app = Starlette(routes=[
        Route("/oauth/token", sim.token, methods=["POST"]),
        Route("/v1/flows", sim.upload, methods=["POST"]),
        Route("/v1/flows/search", sim.search, methods=["POST"]),
        Route("/v1/flows/{flow_id}", sim.get_flow, methods=["GET"]),
        Route("/_sim/config", sim.get_config, methods=["GET"]),
        Route("/_sim/config", sim.set_config, methods=["POST"]),
        Route("/_sim/stats", sim.stats, methods=["GET"]),
        Route("/_sim/reset", sim.reset, methods=["POST"]),
        Route("/_sim/revoke-tokens", sim.revoke_tokens, methods=["POST"]),
        Route("/health", sim.health, methods=["GET"]),
    ], middleware=[Middleware(_Hangup, sim=sim)])
    app.state.simulator = sim
    return app


def run(settings: Settings) -> None:
    """Serve the simulator on ``127.0.0.1:settings.pa_sim_port`` (``efacture serve pa-sim``)."""
    # Imported here: the server module builds on this one.
    from services.transmit.pa_sim.server import run as serve

    serve(settings)
