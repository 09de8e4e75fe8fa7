"""The simulator's HTTP surface: XP Z12-013 Flow Service 1.3.0, ``/oauth/token``, the
``/_sim/*`` controls (``controls.py``) and ``/health``.

Errors are the document's ``Error`` body (``errorCode``, ``errorMessage``). A
``Request-Id`` header must be a UUID (else 400) and is echoed on the answer. Injected
faults (``down``, ``failure_rate``/``failure_status``, ``latency_ms``, ``lost_answer_rate``)
apply to ``/oauth/token`` (down and latency only) and every ``/v1/*`` route;
``/_sim/*`` and ``/health`` are never faulted, so a test can always repair what it broke.
Every flow is visible only to the OAuth client whose token uploaded it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import uuid

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.transmit.pa_sim.config import SimConfig
from services.transmit.pa_sim.controls import Controls
from services.transmit.pa_sim.faults import Hangup, LostAnswer, content_problem
from services.transmit.pa_sim.flow_info import FlowInfoError, validate_flow_info
from services.transmit.pa_sim.search import SearchError, parse
from services.transmit.pa_sim.store import DuplicateFlow, FlowStore
from services.transmit.pa_sim.webhook_routes import WebhookRoutes
from shared.settings import Settings

# The simulator accepts any client credentials except this secret, to exercise refusals.
REFUSED_SECRET = "bad"  # noqa: S105


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errorCode": code, "errorMessage": message}, status, headers=headers)


class Simulator:
    """One simulator: its configuration (replaceable at run time), store and control token."""

    def __init__(self, config: SimConfig | None = None, store: FlowStore | None = None,
                 *, control_token: str | None = None) -> None:
        self.initial = config or SimConfig()
        self.config = self.initial
        self.store = store or FlowStore(seed=self.initial.seed)
        self.control_token = control_token or secrets.token_urlsafe(32)

    async def fault(self, request: Request, *, injectable: bool = True) -> Response | None:
        """Apply the configured faults; a response means the request is answered by it."""
        rid = request.headers.get("request-id")
        if rid is not None:
            try:
                uuid.UUID(rid)
            except ValueError:
                return error(400, "INVALID_REQUEST_ID", "Request-Id must be a UUID")
        config = self.config
        if config.down:
            return error(503, "RESOURCE_ERROR", "the platform is down (simulated)")
        if config.latency_ms:
            await asyncio.sleep(min(config.latency_ms, 10_000) / 1000)
        scoped = config.failure_scope == "all" or (
            request.method == "POST" and request.url.path.rstrip("/") == "/v1/flows")
        if injectable and scoped and self.store.roll(config.failure_rate):
            status = config.failure_status
            headers = {"Retry-After": str(config.retry_after)} if status == 429 else None
            return error(status, f"SIMULATED_{status}", "fault injected by the simulator",
                         headers)
        return None

    async def gate(self, request: Request) -> tuple[Response | None, str]:
        """Faults first (the platform's front door), then the Bearer token → its client."""
        answer = await self.fault(request)
        if answer is not None:
            return answer, ""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error(401, "MISSING_TOKEN", "a Bearer token is required",
                         {"WWW-Authenticate": "Bearer"}), ""
        client = self.store.token_client(token.strip())
        if client is None:
            return error(401, "INVALID_TOKEN", "the access token is unknown or expired",
                         {"WWW-Authenticate": 'Bearer error="invalid_token"'}), ""
        return None, client

    # --- OAuth2 ----------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        if (answer := await self.fault(request, injectable=False)) is not None:
            return answer
        form = await request.form()
        grant, client_id = form.get("grant_type"), form.get("client_id")
        secret = form.get("client_secret")
        if grant != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if not isinstance(client_id, str) or not client_id or not isinstance(secret, str):
            return JSONResponse({"error": "invalid_request"}, 400)
        if secret == REFUSED_SECRET:
            return JSONResponse({"error": "invalid_client"}, 401,
                                headers={"WWW-Authenticate": "Basic"})
        lifetime = self.config.expires_in
        return JSONResponse({"access_token": self.store.issue_token(lifetime, client_id),
                             "expires_in": lifetime, "token_type": "Bearer"})

    # --- Flow Service ----------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        self.store.count_upload_attempt()
        answer, client = await self.gate(request)
        if answer is not None:
            return answer
        limit = self.config.max_file_bytes
        try:
            form = await request.form(max_part_size=max(1024 * 1024, limit + 1))
        except Exception as exc:  # malformed multipart: the client's fault, say so
            return error(400, "INVALID_MULTIPART", f"malformed multipart body: {exc}")
        try:
            raw_info, upload = form.get("flowInfo"), form.get("file")
            if isinstance(raw_info, UploadFile):
                raw_info = (await raw_info.read()).decode("utf-8", "replace")
            if not isinstance(raw_info, str) or not isinstance(upload, UploadFile):
                return error(400, "MISSING_REQUIRED_FIELD",
                             "parts 'flowInfo' and 'file' are required")
            content = await upload.read(limit + 1)
        finally:
            await form.close()
        if len(content) > limit:
            return error(413, "FILE_SIZE_EXCEEDED", f"file exceeds {limit} bytes")
        try:
            info = validate_flow_info(json.loads(raw_info))
        except (ValueError, FlowInfoError) as exc:
            return error(422, "InvalidFlowInfo", str(exc))
        digest = hashlib.sha256(content).hexdigest()
        if info["sha256"] is not None and digest != info["sha256"]:
            return error(422, "ChecksumMismatch", "sha256 does not match the file")
        try:
            flow = self.store.add_outbound(client, info, content, digest, self.config,
                                           ack_error=content_problem(info, content))
        except DuplicateFlow:
            return error(409, "AlreadyExistingFlow",
                         f"a flow with trackingId {info['trackingId']} already exists")
        if self.store.roll(self.config.lost_answer_rate):
            return LostAnswer()
        return JSONResponse(flow.full_flow_info(), 202)

    async def get_flow(self, request: Request) -> Response:
        answer, client = await self.gate(request)
        if answer is not None:
            return answer
        doc_type = request.query_params.get("docType", "Metadata")
        if doc_type not in ("Metadata", "Original", "Converted", "ReadableView"):
            return error(400, "INVALID_DOC_TYPE", "docType is Metadata, Original, Converted "
                         "or ReadableView")
        flow = self.store.get(client, request.path_params["flow_id"])
        if flow is None:
            return error(404, "MISSING_RESOURCE", "no such flow")
        if doc_type == "Metadata":
            return JSONResponse(flow.as_json())
        if doc_type != "Original":
            return error(404, "MISSING_RESOURCE", f"this flow has no {doc_type} document")
        safe = "".join(ch for ch in flow.name if ch.isalnum() or ch in "-_.") or "flow"
        return Response(flow.content, 200, media_type="application/octet-stream",
                        headers={"Content-Disposition": f"attachment;filename={safe}"})

    async def search(self, request: Request) -> Response:
        answer, client = await self.gate(request)
        if answer is not None:
            return answer
        try:
            query = parse(await request.json())
        except (ValueError, SearchError) as exc:
            return error(400, "BAD_REQUEST", f"bad search: {exc}")
        return JSONResponse(self.store.search(client, query))

    async def healthcheck(self, request: Request) -> Response:
        if (answer := await self.fault(request, injectable=False)) is not None:
            return answer
        return Response(status_code=200)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "down": self.config.down})


def create_app(config: SimConfig | None = None, *, simulator: Simulator | None = None) -> Starlette:
    """The simulator as an ASGI app; ``app.state.simulator`` gives tests direct access."""
    sim = simulator or Simulator(config)
    controls = Controls(sim, sim.control_token)
    hooks = WebhookRoutes(sim)
    app = Starlette(routes=[
        Route("/oauth/token", sim.token, methods=["POST"]),
        Route("/v1/flows", sim.upload, methods=["POST"]),
        Route("/v1/flows/search", sim.search, methods=["POST"]),
        Route("/v1/flows/{flow_id}", sim.get_flow, methods=["GET"]),
        Route("/v1/webhooks", hooks.list, methods=["GET"]),
        Route("/v1/webhooks", hooks.create, methods=["POST"]),
        Route("/v1/webhooks/{webhook_id}", hooks.delete, methods=["DELETE"]),
        Route("/v1/healthcheck", sim.healthcheck, methods=["GET"]),
        Route("/_sim/config", controls.get_config, methods=["GET"]),
        Route("/_sim/config", controls.set_config, methods=["POST"]),
        Route("/_sim/stats", controls.stats, methods=["GET"]),
        Route("/_sim/reset", controls.reset, methods=["POST"]),
        Route("/_sim/revoke-tokens", controls.revoke_tokens, methods=["POST"]),
        Route("/_sim/inbound", controls.inbound, methods=["POST"]),
        Route("/health", sim.health, methods=["GET"]),
    ], middleware=[Middleware(Hangup, sim=sim)])
    app.state.simulator = sim
    return app


def run(settings: Settings) -> None:
    """Serve the simulator on ``settings.bind_host:settings.pa_sim_port`` (``efacture serve
    pa-sim``)."""
    # Imported here: the server module builds on this one.
    from services.transmit.pa_sim.server import run as serve

    serve(settings)
