"""Faults that need more than an error answer: dropped connections, lost answers, and
files the platform cannot read (acknowledged ``Error`` with details).

:class:`Hangup` is also where the ``Request-Id`` of a request is echoed on its answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.transmit.adapters.cdar_schema import CdarInvalid, parse_valid

if TYPE_CHECKING:
    from services.transmit.pa_sim.app import Simulator


class SimulatedHangup(ConnectionAbortedError):
    """Raised after a response has started, so the server drops the connection."""


async def _hang_up(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"1024")]})
    raise SimulatedHangup("simulated connection drop")


class LostAnswer(Response):
    """The upload was accepted and stored, but its answer never reaches the client."""

    def __init__(self) -> None:
        super().__init__(status_code=202)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _hang_up(send)


class Hangup:
    """ASGI middleware: ``down`` with ``down_mode="close"`` starts an answer then aborts
    (the client sees the connection drop mid-answer); every answer echoes ``Request-Id``."""

    def __init__(self, app: ASGIApp, sim: Simulator) -> None:
        self.app, self.sim = app, sim

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = self.sim.config
        path = scope.get("path", "")
        if config.down and config.down_mode == "close" and (
                path.startswith("/v1/") or path == "/oauth/token"):
            if scope.get("method") == "POST" and path.rstrip("/") == "/v1/flows":
                self.sim.store.count_upload_attempt()
            await _hang_up(send)
        rid = next((v for k, v in scope.get("headers", []) if k == b"request-id"), None)

        async def echo(message: Message) -> None:
            if rid is not None and message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"request-id", rid)]
            await send(message)

        await self.app(scope, receive, echo)


def content_problem(info: dict[str, str | None], content: bytes) -> list[dict[str, str]] | None:
    """Acknowledgement details when the PA cannot read the file, else ``None``.

    Empty → ``EmptyFlow``; not XML nor PDF → ``FlowTypeError``; a CDAR failing the D22B
    schema → ``InvalidSchema``.
    """
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:5]
    if not content:
        return [{"level": "Error", "item": "file", "reasonCode": "EmptyFlow",
                 "reasonMessage": "the file is empty"}]
    if not (head.startswith(b"<") or head == b"%PDF-"):
        return [{"level": "Error", "item": "file", "reasonCode": "FlowTypeError",
                 "reasonMessage": "the file is neither XML nor PDF"}]
    if info.get("flowSyntax") == "CDAR":
        try:
            parse_valid(content)
        except CdarInvalid as exc:
            return [{"level": "Error", "item": "file", "reasonCode": "InvalidSchema",
                     "reasonMessage": str(exc)[:500]}]
    return None
