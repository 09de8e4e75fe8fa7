"""``efacture serve portal``: the HTTPS web application and the recipient notifications in one
process, on one :class:`~shared.runtime.Runtime` (database pool, broker, READY line).

The web server (uvicorn, TLS 1.2 or later, the certificate of :mod:`services.portal.tls`)
starts before the runtime opens its pool; requests are only expected once ``READY portal``
is printed, after which the pool exists. SIGTERM stops consuming, then the web server.
"""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from faststream import FastStream

from services.portal.auth import sessions
from services.portal.auth.links import PortalLinks
from services.portal.clock import system_clock
from services.portal.notify_app import Notifier
from services.portal.tls import ensure_certificate, listen_address, minimum_version
from services.portal.web.app import build
from shared.logging import get_logger
from shared.runtime import Runtime
from shared.settings import Settings

log = get_logger(__name__)
PURGE_EVERY_S = 300.0


class WebServer:
    def __init__(self, settings: Settings, rt: Runtime) -> None:
        self.settings = settings
        self.rt = rt
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        cert, key, fingerprint = await asyncio.to_thread(ensure_certificate, self.settings)
        host, port = listen_address(self.settings)
        app = build(self.settings, lambda: self.rt.pool)
        config = uvicorn.Config(app, host=host, port=port, ssl_certfile=str(cert),
                                ssl_keyfile=str(key), lifespan="off", access_log=False,
                                log_level="warning", server_header=False,
                                proxy_headers=False)
        config.load()
        assert config.ssl is not None
        config.ssl.minimum_version = minimum_version()
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # raises what stopped it (port in use …)
                raise RuntimeError("the portal's web server stopped at start")
            await asyncio.sleep(0.05)
        print(f"portal {self.settings.portal_url} certificate SHA-256 {fingerprint}",
              flush=True)
        log.info("portal-listening", url=self.settings.portal_url, fingerprint=fingerprint)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 15)


def create_app(settings: Settings) -> FastStream:
    rt = Runtime(settings, "portal")
    Notifier(settings, links=PortalLinks(settings.portal_url)).attach(rt)
    web = WebServer(settings, rt)

    async def purge() -> None:
        async with rt.pool.connection() as conn:
            await sessions.purge(conn, system_clock())

    rt.every(PURGE_EVERY_S, purge)
    return rt.app(on_startup=[web.start], after_shutdown=[web.stop])
