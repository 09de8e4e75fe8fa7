"""``/account``: the signed-in account's sessions; it may end any other one."""

from __future__ import annotations

import uuid

from starlette.responses import Response

from services.portal.auth import sessions
from services.portal.web.endpoint import Ctx


async def show(ctx: Ctx) -> Response:
    assert ctx.account is not None
    rows = await sessions.list_for(ctx.conn, ctx.account.id, ctx.now)
    for r in rows:
        r["current"] = r["public_id"] == ctx.session.public_id
    return ctx.render("account.html", {"title": "Mon compte", "email": ctx.account.email,
                                       "sessions": rows},
                      json_data={"email": ctx.account.email, "sessions": rows})


async def end_session(ctx: Ctx) -> Response:
    assert ctx.account is not None
    try:
        target = uuid.UUID(ctx.field("session"))
    except ValueError:
        return ctx.redirect("/account")
    await sessions.end_other(ctx.conn, ctx.account.id, target, ctx.session.public_id)
    return ctx.redirect("/account")
