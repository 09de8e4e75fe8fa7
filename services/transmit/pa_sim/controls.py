"""The simulator's control surface (``/_sim/*``): faults, stats, reset, token revocation.

Not an open door (issue 10, property 5). Every control request must

- name a loopback ``Host`` (``127.0.0.1``, ``localhost``, ``[::1]``, any port): a page that
  rebinds its DNS name to 127.0.0.1 still sends its own name, and is refused 403;
- carry the control token in ``X-Sim-Token`` (kept in ``<data dir>/pa-sim/control-token``,
  mode 0600, created on first start; compared in constant time), else 401;
- for ``POST``, send ``Content-Type: application/json`` (else 415): a cross-site form
  cannot, and a cross-site ``fetch`` with that type or a custom header needs a CORS
  preflight, which the simulator never grants.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from services.transmit.pa_sim.app import Simulator

TOKEN_HEADER: Final = "X-Sim-Token"  # noqa: S105 - a header name, not a secret
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def token_path(data_dir: Path) -> Path:
    return Path(data_dir) / "pa-sim" / "control-token"


def load_or_create_token(data_dir: Path) -> str:
    """The control token of the simulator served for ``data_dir`` (created 0600 if absent)."""
    path = token_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return read_token(data_dir)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    return token


def read_token(data_dir: Path) -> str:
    """The token a client (CLI, test, benchmark) sends; raises ``OSError`` if unreadable."""
    fd = os.open(token_path(data_dir), os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as src:
        return src.read().strip()


def control_headers(data_dir: Path | str) -> dict[str, str]:
    return {TOKEN_HEADER: read_token(Path(data_dir))}


def _host(request: Request) -> str:
    raw = request.headers.get("host", "")
    if raw.startswith("["):
        return raw[1:].split("]", 1)[0]
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"errorCode": code, "errorMessage": message}, status)


class Controls:
    """Handlers of ``/_sim/*`` bound to one simulator and its control token."""

    def __init__(self, sim: Simulator, token: str) -> None:
        self.sim, self._token = sim, token

    def refused(self, request: Request) -> Response | None:
        if _host(request).lower() not in LOOPBACK:
            return _error(403, "ForbiddenHost", "control requests must name a loopback Host")
        given = request.headers.get(TOKEN_HEADER, "")
        if not given or not hmac.compare_digest(given.encode(), self._token.encode()):
            return _error(401, "ControlTokenRequired", f"{TOKEN_HEADER} is missing or wrong")
        if request.method == "POST":
            media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                return _error(415, "UnsupportedMediaType", "send application/json")
        return None

    async def get_config(self, request: Request) -> Response:
        if (answer := self.refused(request)) is not None:
            return answer
        return JSONResponse(self.sim.config.model_dump(mode="json"))

    async def set_config(self, request: Request) -> Response:
        if (answer := self.refused(request)) is not None:
            return answer
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("a JSON object is expected")
            self.sim.config = self.sim.config.merged(changes)
        except ValidationError as exc:
            return JSONResponse({"errorCode": "InvalidConfig",
                                 "errorMessage": str(exc.errors(include_url=False,
                                                                include_context=False))}, 422)
        except ValueError as exc:
            return _error(400, "BadRequest", str(exc))
        return JSONResponse(self.sim.config.model_dump(mode="json"))

    async def stats(self, request: Request) -> Response:
        if (answer := self.refused(request)) is not None:
            return answer
        return JSONResponse(self.sim.store.stats())

    async def reset(self, request: Request) -> Response:
        if (answer := self.refused(request)) is not None:
            return answer
        self.sim.store.reset()
        self.sim.config = self.sim.initial
        return JSONResponse({"reset": True})

    async def inbound(self, request: Request) -> Response:
        """``{"client_id", "name", "content", "tracking_id"?}`` → an inbound CDAR flow for
        that client now, with ``content`` (text) as its file, valid or not."""
        if (answer := self.refused(request)) is not None:
            return answer
        try:
            body = await request.json()
            client, name, content = body["client_id"], body["name"], body["content"]
            if not all(isinstance(x, str) and x for x in (client, name, content)):
                raise ValueError("client_id, name and content are non-empty strings")
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "BadRequest", str(exc))
        flow = self.sim.store.add_inbound_raw(client, name, content.encode(),
                                              body.get("tracking_id"))
        return JSONResponse({"flowId": flow.flow_id}, 201)

    async def revoke_tokens(self, request: Request) -> Response:
        if (answer := self.refused(request)) is not None:
            return answer
        self.sim.store.revoke_tokens()
        return JSONResponse({"revoked": True})
