"""Enrolment after a confirmed link: a password (argon2id), then a TOTP authenticator whose
first code confirms it, then ten recovery codes shown once. Each step rotates the session."""

from __future__ import annotations

from starlette.responses import Response

from services.portal.auth import accounts, passwords, sessions, totp
from services.portal.web.endpoint import Ctx


def _email(account: accounts.Account | None) -> str:
    return account.email if account is not None else ""


async def password_form(ctx: Ctx, error: str | None = None) -> Response:
    return ctx.render("enrol_password.html", {"title": "Choisir un mot de passe",
                                              "error": error, "min": passwords.MIN_LENGTH},
                      status=400 if error else 200)


async def password(ctx: Ctx) -> Response:
    problem = passwords.problem(ctx.field("password"), ctx.field("password_confirm"))
    if problem is not None:
        return await password_form(ctx, problem)
    assert ctx.session.account_id is not None
    await accounts.set_password(ctx.conn, ctx.session.account_id,
                                passwords.hash_password(ctx.field("password")))
    await sessions.rotate(ctx.conn, ctx.session, stage="enrol_totp",
                          account_id=ctx.session.account_id,
                          data={"pending_totp": totp.new_secret()}, now=ctx.now)
    return ctx.redirect("/enrol/totp")


async def totp_form(ctx: Ctx, error: str | None = None) -> Response:
    assert ctx.session.account_id is not None
    account = await accounts.by_id(ctx.conn, ctx.session.account_id)
    secret = str(ctx.session.data.get("pending_totp") or "")
    if not secret:
        return ctx.redirect("/login")
    uri = totp.uri(secret, _email(account))
    return ctx.render("enrol_totp.html", {
        "title": "Application d'authentification", "uri": uri, "secret": secret,
        "qr": totp.qr_data_uri(uri), "error": error}, status=400 if error else 200)


async def totp_confirm(ctx: Ctx) -> Response:
    account_id = ctx.session.account_id
    secret = str(ctx.session.data.get("pending_totp") or "")
    assert account_id is not None
    step = totp.verify(secret, ctx.field("code"), ctx.now, None) if secret else None
    if step is None:
        return await totp_form(ctx, "Ce code ne correspond pas : saisissez le code à six "
                                    "chiffres affiché par l'application.")
    codes = await accounts.confirm_totp(ctx.conn, account_id,
                                        ctx.portal.box.seal(secret, account_id), step, ctx.now)
    await accounts.record_success(ctx.conn, account_id)
    await sessions.rotate(ctx.conn, ctx.session, stage="full", account_id=account_id, data={},
                          now=ctx.now)
    ctx.tenants = await accounts.memberships(ctx.conn, account_id)
    home = "/issuer/invoices" if ctx.tenants else "/invoices"
    return ctx.render("recovery.html", {"title": "Codes de secours", "codes": codes,
                                        "home": home})
