"""One wrapper for every page: a connection in one transaction, the session (made when
missing), the CSRF check of every POST, who may see the page, HTML or JSON.

A handler is ``async def h(ctx: Ctx) -> Response``. Who may call it is ``need``:
``public`` (anyone), a sign-in stage (``otp``, ``enrol_password``, ``enrol_totp``), ``user``
(signed in), ``issuer`` (signed in and a user of a tenant), ``admin`` (its admin). A signed-out
visitor of a ``user`` page is sent to ``/login``; a signed-in account lacking the role gets the
same 404 as a page that does not exist.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.portal.auth import accounts, sessions
from services.portal.auth.sessions import Session
from services.portal.web.i18n import language, translator
from services.portal.web.state import Portal

Conn = psycopg.AsyncConnection[Any]
MAX_FORM_BYTES = 1024 * 1024  # the logo (512 KB) and its multipart envelope


@dataclass
class Ctx:
    request: Request
    portal: Portal
    conn: Conn
    session: Session
    now: datetime
    form: FormData | None = None
    account: accounts.Account | None = None
    tenants: dict[str, str] = field(default_factory=dict)
    brand: dict[str, Any] | None = None  # the issuer whose space this page belongs to

    @property
    def address(self) -> str:
        return self.request.client.host if self.request.client else "unknown"

    @property
    def tenant(self) -> str | None:
        """The tenant whose issuer space the account is in (the chosen one, else the first)."""
        chosen = self.session.data.get("tenant")
        if chosen in self.tenants:
            return str(chosen)
        return next(iter(self.tenants), None)

    @property
    def is_admin(self) -> bool:
        return self.tenant is not None and self.tenants.get(self.tenant) == "admin"

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""

    def wants_json(self) -> bool:
        accept = self.request.headers.get("accept", "")
        return "application/json" in accept and "text/html" not in accept

    def render(self, template: str, data: dict[str, Any], *, status: int = 200,
               json_data: Any = None) -> Response:
        if self.wants_json():
            body = json.dumps(data if json_data is None else json_data, default=_json_default,
                              ensure_ascii=False)
            return Response(body, status, media_type="application/json")
        lang = language(self.request.headers.get("accept-language"))
        page = self.portal.templates.get_template(template).render(
            ctx=self, csrf_token=self.session.csrf_token, lang=lang, t=translator(lang),
            **data)
        return HTMLResponse(page, status)

    def redirect(self, path: str) -> Response:
        return RedirectResponse(path, 303)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    raise TypeError(type(value).__name__)


Handler = Callable[[Ctx], Awaitable[Response]]
_STAGES = {"otp", "enrol_password", "enrol_totp"}


def not_found() -> HTTPException:
    return HTTPException(404)


def endpoint(portal: Portal, handler: Handler, need: str = "user"
             ) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        now = portal.clock()
        async with portal.pool().connection() as conn, conn.transaction():
            token = request.cookies.get(sessions.COOKIE)
            session = await sessions.load(conn, token, now)
            if session is None:
                session = await sessions.create(
                    conn, now, user_agent=request.headers.get("user-agent"),
                    address=request.client.host if request.client else None)
            ctx = Ctx(request, portal, conn, session, now)
            response = await _guarded(ctx, handler, need)
        if session.ended:
            response.delete_cookie(sessions.COOKIE, path="/", secure=True, httponly=True,
                                   samesite="lax")
        elif session.new_token is not None:
            response.set_cookie(sessions.COOKIE, session.new_token, path="/", secure=True,
                                httponly=True, samesite="lax")
        return response

    return run


async def _guarded(ctx: Ctx, handler: Handler, need: str) -> Response:
    request = ctx.request
    if request.method == "POST":
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_FORM_BYTES:
            return ctx.render("error.html", {"title": "Envoi trop volumineux"}, status=413)
        ctx.form = await request.form(max_files=1, max_fields=50)
        sent = ctx.field("csrf_token")
        if not sent or not hmac.compare_digest(sent, ctx.session.csrf_token):
            return ctx.render("error.html", {
                "title": "Formulaire expiré",
                "message": "Ce formulaire n'est plus valable : rechargez la page et "
                           "recommencez."}, status=403)
    s = ctx.session
    if s.account_id is not None and s.stage == "full":
        ctx.account = await accounts.by_id(ctx.conn, s.account_id)
        if ctx.account is None:
            s.ended = True
            return ctx.redirect("/login")
        ctx.tenants = await accounts.memberships(ctx.conn, s.account_id)
    if need in _STAGES and s.stage != need:
        return ctx.redirect("/login")
    if need in ("user", "issuer", "admin") and ctx.account is None:
        if ctx.wants_json():
            return ctx.render("error.html", {"error": "sign-in-required"}, status=401)
        return ctx.redirect("/login")
    if need in ("issuer", "admin") and ctx.tenant is None:
        raise not_found()
    if need == "admin" and not ctx.is_admin:
        raise not_found()
    if need in ("issuer", "admin") and ctx.tenant is not None:
        from services.portal.adapters import brand

        ctx.brand = await brand.get(ctx.conn, ctx.tenant)
    return await handler(ctx)
