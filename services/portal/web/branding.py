"""``/brand/{tenant}/logo``: an issuer's logo, to accounts that see its space (else 404)."""

from __future__ import annotations

from starlette.responses import Response

from services.portal.adapters import brand
from services.portal.web.endpoint import Ctx, not_found


async def logo(ctx: Ctx) -> Response:
    assert ctx.account is not None
    tenant = ctx.request.path_params["tenant"]
    if not await brand.may_see(ctx.conn, tenant, ctx.account.email, tuple(ctx.tenants)):
        raise not_found()
    found = await brand.logo(ctx.conn, tenant)
    if found is None:
        raise not_found()
    data, media = found
    # An SVG opened on its own must not run anything either.
    return Response(data, media_type=media, headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"})


async def brand_of(ctx: Ctx, tenant: str) -> dict[str, object]:
    return await brand.get(ctx.conn, tenant)
