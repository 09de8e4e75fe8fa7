"""The portal's Starlette application: routes, security headers, error pages.

:func:`build` takes its pool as a callable (the service's runtime opens it; a test passes its
own) and its clock (tests inject one).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from services.portal.clock import Clock, system_clock
from services.portal.web import account, branding, enrol, invoices, issuer, signin
from services.portal.web.endpoint import Handler, endpoint
from services.portal.web.i18n import language, translator
from services.portal.web.security import SecurityHeaders
from services.portal.web.state import STATIC, Portal
from shared import db
from shared.errors import PermanentError
from shared.settings import Settings

_MESSAGES = {404: ("Page introuvable", "Cette page n'existe pas, ou vous n'y avez pas accès."),
             405: ("Méthode non permise", "Cette adresse ne s'utilise pas ainsi.")}


def _routes(p: Portal) -> list[BaseRoute]:
    def r(path: str, get: Handler | None = None, post: Handler | None = None,
          need: str = "user") -> list[BaseRoute]:
        out: list[BaseRoute] = []
        if get is not None:
            out.append(Route(path, endpoint(p, get, need), methods=["GET"]))
        if post is not None:
            out.append(Route(path, endpoint(p, post, need), methods=["POST"]))
        return out

    async def home(ctx: Any) -> Response:
        if ctx.account is None:
            return ctx.redirect("/login")
        return ctx.redirect(signin.home_for(ctx))

    return [
        *r("/", home, need="public"),
        *r("/login", signin.login_form, signin.login, need="public"),
        *r("/login/otp", signin.otp_form, signin.otp, need="otp"),
        *r("/logout", post=signin.logout, need="public"),
        *r("/access", signin.access_form, signin.access, need="public"),
        *r("/link/{token}", signin.link_form, signin.link_confirm, need="public"),
        *r("/enrol/password", enrol.password_form, enrol.password, need="enrol_password"),
        *r("/enrol/totp", enrol.totp_form, enrol.totp_confirm, need="enrol_totp"),
        *r("/account", account.show),
        *r("/account/sessions/end", post=account.end_session),
        *r("/invoices", invoices.listing),
        *r("/invoices/download", invoices.period_zip),
        *r("/invoices/{invoice_id}", invoices.detail),
        *r("/invoices/{invoice_id}/pdf", invoices.pdf),
        *r("/invoices/{invoice_id}/original", invoices.original),
        *r("/invoices/{invoice_id}/proof.zip", invoices.proof),
        *r("/brand/{tenant}/logo", branding.logo),
        *r("/issuer/invoices", issuer.invoice_list, need="issuer"),
        *r("/issuer/clients", issuer.clients, issuer.client_action, need="issuer"),
        *r("/issuer/usage", issuer.usage_page, need="issuer"),
        *r("/issuer/settings", issuer.settings_page, issuer.settings_save, need="admin"),
        *r("/issuer/users", post=issuer.user_action, need="admin"),
        *r("/issuer/audit", issuer.audit_page, need="admin"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def build(settings: Settings, pool: Callable[[], AsyncConnectionPool] | None = None, *,
          clock: Clock = system_clock, mailer: Any = None,
          throttle_limit: int = 100) -> Starlette:
    """The application. Without ``pool`` it opens its own (the portal's role) in its lifespan:
    how tests and benchmarks run it in Starlette's TestClient."""
    own: list[AsyncConnectionPool] = []

    def pool_getter() -> AsyncConnectionPool:
        return pool() if pool is not None else own[0]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if pool is None:
            own.append(await db.open_pool(db.service_url(settings, "portal"),
                                          max_size=settings.db_pool_size))
        try:
            yield
        finally:
            for p in own:
                await p.close()
            own.clear()

    portal = Portal(settings, pool_getter, clock, mailer, throttle_limit)

    def page(request: Request, status: int, title: str, message: str) -> Response:
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"error": title}, status)
        lang = language(request.headers.get("accept-language"))
        html = portal.templates.get_template("error.html").render(
            ctx=None, title=title, message=message, csrf_token="", lang=lang,
            t=translator(lang))
        return HTMLResponse(html, status)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        title, message = _MESSAGES.get(status, ("Erreur", "La demande n'a pas abouti."))
        return page(request, status, title, message)

    async def gone(request: Request, exc: Exception) -> Response:
        return page(request, 410, "Document indisponible",
                    "Ce document n'est plus disponible (durée de conservation écoulée).")

    app = Starlette(routes=_routes(portal), lifespan=lifespan, exception_handlers={
        HTTPException: http_error, PermanentError: gone})
    app.state.portal = portal
    app.add_middleware(SecurityHeaders)
    return app
