"""The issuer's space: its invoices, clients (re-send or revoke access), usage, settings
(display name, logo, users) and audit trail. Every query is scoped to ``ctx.tenant``."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.responses import Response

from services.portal.adapters import audit, brand, invoices, usage
from services.portal.auth import accounts, links
from services.portal.domain import logo
from services.portal.web.endpoint import Ctx, not_found
from services.portal.web.invoices import filters, page_query, public, viewer
from services.portal.web.mail import send_link


def _tenant(ctx: Ctx) -> str:
    assert ctx.tenant is not None
    return ctx.tenant


async def _log(ctx: Ctx, action: str, **detail: Any) -> None:
    assert ctx.account is not None
    await audit.record(ctx.conn, tenant=_tenant(ctx), at=ctx.now, actor=ctx.account.email,
                       action=action, address=ctx.address, detail=detail)


async def invoice_list(ctx: Ctx) -> Response:
    f = filters(ctx)
    rows, total = await invoices.listing(ctx.conn, viewer(ctx), f, as_issuer=_tenant(ctx))
    data = {"invoices": [public(r) for r in rows], "total": total, "page": f.page,
            "pages": max(1, -(-total // invoices.PAGE))}
    return ctx.render("issuer_invoices.html", {"title": "Factures émises", "rows": rows,
                                               "f": f, "query": page_query(ctx), **data},
                      json_data=data)


async def _clients(ctx: Ctx) -> list[dict[str, Any]]:
    async with ctx.conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT c.*, EXISTS (SELECT 1 FROM portal.revoked r WHERE r.tenant = %s"
            "   AND r.email = c.email) AS revoked,"
            " EXISTS (SELECT 1 FROM portal.account a WHERE a.email = c.email"
            "   AND a.totp_secret IS NOT NULL) AS enrolled"
            " FROM (SELECT lower(i.recipient_email) AS email, max(i.recipient_name) AS name,"
            "   max(i.recipient_id) AS identifier, count(*) AS invoices,"
            "   max(i.issue_date) AS last_invoice FROM archive.invoice i"
            "   WHERE i.tenant = %s AND i.recipient_email IS NOT NULL AND i.state = 'archived'"
            "   GROUP BY lower(i.recipient_email)) c ORDER BY c.name NULLS LAST, c.email",
            (_tenant(ctx), _tenant(ctx)))
        return list(await cur.fetchall())


async def clients(ctx: Ctx) -> Response:
    rows = await _clients(ctx)
    return ctx.render("clients.html", {"title": "Clients", "rows": rows,
                                       "notice": ctx.request.query_params.get("ok")},
                      json_data={"clients": rows})


async def client_action(ctx: Ctx) -> Response:
    email = accounts.normalise_email(ctx.field("email"))
    action = ctx.field("action")
    known = {r["email"] for r in await _clients(ctx)}
    if email not in known or action not in ("resend", "revoke"):
        raise not_found()
    tenant = _tenant(ctx)
    if action == "revoke":
        await ctx.conn.execute(
            "INSERT INTO portal.revoked (tenant, email, revoked_at) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING", (tenant, email, ctx.now))
        await _log(ctx, "revoke-access", email=email)
        return ctx.redirect("/issuer/clients?ok=revoked")
    await ctx.conn.execute("DELETE FROM portal.revoked WHERE tenant = %s AND email = %s",
                           (tenant, email))
    url, enrolment = await links.link_for(ctx.conn, ctx.portal.settings.portal_url, email,
                                          ctx.now)
    await _log(ctx, "resend-access", email=email)
    name = (await brand.get(ctx.conn, tenant))["name"]
    answer = ctx.redirect("/issuer/clients?ok=sent")
    answer.background = BackgroundTask(send_link, ctx.portal, email, url, enrolment, name)
    return answer


async def usage_page(ctx: Ctx) -> Response:
    report = await usage.report(ctx.conn, _tenant(ctx), ctx.now)
    if report is None:
        raise not_found()
    return ctx.render("usage.html", {"title": "Consommation", "u": report}, json_data=report)


async def _users(ctx: Ctx) -> list[dict[str, Any]]:
    async with ctx.conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT a.email, m.role, a.totp_secret IS NOT NULL AS enrolled, m.created_at"
            " FROM portal.member m JOIN portal.account a ON a.id = m.account_id"
            " WHERE m.tenant = %s ORDER BY a.email", (_tenant(ctx),))
        return list(await cur.fetchall())


async def settings_page(ctx: Ctx, error: str | None = None, notice: str | None = None
                        ) -> Response:
    b = await brand.get(ctx.conn, _tenant(ctx))
    users = await _users(ctx)
    return ctx.render("settings.html", {"title": "Paramètres", "b": b, "users": users,
                                        "error": error, "notice": notice},
                      status=400 if error else 200, json_data={"brand": b, "users": users})


async def settings_save(ctx: Ctx) -> Response:
    assert ctx.form is not None
    display = ctx.field("display_name").strip()[:120] or None
    upload = ctx.form.get("logo")
    stored: tuple[bytes, str] | None = None
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(logo.MAX_BYTES + 1)
        try:
            stored = logo.sanitise(data)
        except logo.LogoError as exc:
            return await settings_page(ctx, error=str(exc))
    await brand.save(ctx.conn, _tenant(ctx), ctx.now, display_name=display, logo=stored)
    await _log(ctx, "settings", display_name=display, logo=stored[1] if stored else None)
    return await settings_page(ctx, notice="Paramètres enregistrés.")


async def user_action(ctx: Ctx) -> Response:
    """Add a user (and e-mail an enrolment link), change a role, or remove a user."""
    from services.portal.auth import members

    email = accounts.normalise_email(ctx.field("email"))
    action, role = ctx.field("action"), ctx.field("role") or "staff"
    tenant = _tenant(ctx)
    assert ctx.account is not None
    if "@" not in email or len(email) > 254 or role not in ("admin", "staff"):
        return await settings_page(ctx, error="Adresse ou rôle invalide.")
    if action == "remove":
        if email == ctx.account.email:
            return await settings_page(ctx, error="Vous ne pouvez pas retirer votre propre "
                                                  "accès.")
        await members.remove(ctx.conn, tenant, email)
        await _log(ctx, "user-remove", email=email)
        return await settings_page(ctx, notice=f"Accès de {email} retiré.")
    invite = await members.add(ctx.conn, ctx.portal.settings.portal_url, tenant, email, role,
                               ctx.now)
    await _log(ctx, "user-add", email=email, role=role)
    answer = await settings_page(ctx, notice=f"{email} : rôle {role}.")
    if invite is not None:
        name = (await brand.get(ctx.conn, tenant))["name"]
        answer.background = BackgroundTask(send_link, ctx.portal, email, invite, True, name)
    return answer


async def audit_page(ctx: Ctx) -> Response:
    rows = await audit.recent(ctx.conn, _tenant(ctx))
    return ctx.render("audit.html", {"title": "Journal d'audit", "rows": rows},
                      json_data={"audit": rows})
