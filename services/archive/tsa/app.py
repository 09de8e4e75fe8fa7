"""HTTP face of the built-in TSA (RFC 3161 section 3.4, "time-stamp protocol via HTTP").

``POST /tsa``      application/timestamp-query -> 200 application/timestamp-reply (a rejection
                   is a 200 too: the refusal is in the TimeStampResp status, as RFC 3161 says);
                   another content type -> 415; a body over 64 KiB -> 413.
``GET /tsa.pem``   the certificate chain, TSA certificate then CA (the bundle's ``tsa.pem``).
``GET /health``    200 ``ok``.

:func:`run` serves it on 127.0.0.1:``settings.tsa_port``; ``efacture up`` runs it as the child
process ``efacture serve tsa`` when ``EFACTURE_TSA_URL`` is unset.
"""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from shared.settings import Settings

from .authority import TimeStampAuthority
from .keystore import tsa_key_dir
from .protocol import REPLY_CONTENT_TYPE, REQUEST_CONTENT_TYPE

# A TimeStampReq over SHA-512 with a nonce is about 100 bytes.
MAX_REQUEST_BYTES = 64 * 1024


def create_app(authority: TimeStampAuthority) -> Starlette:
    """The Starlette app answering with ``authority`` (no I/O until requests arrive)."""
    chain = authority.chain_pem()

    async def stamp(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != REQUEST_CONTENT_TYPE:
            return PlainTextResponse(f"expected {REQUEST_CONTENT_TYPE}\n", status_code=415)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
            return PlainTextResponse("request too large\n", status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return PlainTextResponse("request too large\n", status_code=413)
        # Signing takes about a millisecond: cheaper inline than a hop to the thread pool.
        return Response(authority.respond(bytes(body)), media_type=REPLY_CONTENT_TYPE)

    async def chain_pem(_: Request) -> Response:
        return Response(chain, media_type="application/x-pem-file")

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/tsa", stamp, methods=["POST"]),
            Route("/tsa.pem", chain_pem, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def run(settings: Settings) -> None:
    """Serve the built-in TSA on 127.0.0.1:``settings.tsa_port`` until the process is stopped.

    Keys live in ``EFACTURE_TSA_KEY_DIR`` (default ``<data_dir>/tsa``), created on first start.
    Blocks; uvicorn handles SIGINT/SIGTERM (in-flight requests finish, then it returns).
    """
    authority = TimeStampAuthority.load_or_create(tsa_key_dir(settings))
    uvicorn.run(
        create_app(authority),
        host=settings.bind_host,
        port=settings.tsa_port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
