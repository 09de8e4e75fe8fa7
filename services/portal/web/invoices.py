"""Invoice pages of recipients and issuer users: the list, one invoice with its lifecycle
history, its PDF, original and proof bundle, and a period's PDFs as one zip.

Every lookup goes through :func:`services.portal.adapters.invoices.visible`: an invoice the
account may not see answers the same 404 as one that does not exist. Every view and download
is audited under the invoice's tenant.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from datetime import date
from typing import Any

from starlette.responses import Response

from services.portal.adapters import audit, invoices, proofs
from services.portal.adapters.invoices import Filters, Viewer
from services.portal.web.endpoint import Ctx, not_found

MAX_PERIOD_INVOICES = 500


def viewer(ctx: Ctx) -> Viewer:
    assert ctx.account is not None
    return Viewer(ctx.account.email, tuple(ctx.tenants))


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filters(ctx: Ctx) -> Filters:
    q = ctx.request.query_params
    try:
        page = max(1, min(int(q.get("page") or 1), 100_000))
    except ValueError:
        page = 1
    return Filters(issuer=(q.get("issuer") or None), number=(q.get("number") or "")[:64] or None,
                   start=_day(q.get("from")), end=_day(q.get("to")),
                   recipient=(q.get("recipient") or "")[:254] or None, page=page)


def page_query(ctx: Ctx) -> str:
    """The list's filters as a query prefix for the pager's links (``a=1&b=2&``)."""
    from urllib.parse import urlencode

    kept = [(k, v) for k, v in ctx.request.query_params.multi_items() if k != "page" and v]
    return urlencode(kept) + "&" if kept else ""


def public(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("invoice_id", "tenant", "issuer", "invoice_number", "issue_date", "recipient_id",
            "recipient_name", "amount_payable", "currency", "state", "state_label",
            "archived_at", "sha256", "submission_id", "syntax", "profile")
    return {k: row.get(k) for k in keys}


async def listing(ctx: Ctx) -> Response:
    f = filters(ctx)
    rows, total = await invoices.listing(ctx.conn, viewer(ctx), f)
    issuers = await _issuers(ctx)
    data = {"invoices": [public(r) for r in rows], "total": total, "page": f.page,
            "pages": max(1, -(-total // invoices.PAGE))}
    return ctx.render("invoices.html", {"title": "Mes factures", "rows": rows, "f": f,
                                        "issuers": issuers, "query": page_query(ctx), **data},
                      json_data=data)


async def _issuers(ctx: Ctx) -> list[tuple[str, str]]:
    assert ctx.account is not None
    cur = await ctx.conn.execute(
        "SELECT DISTINCT i.tenant, COALESCE(b.display_name, t.name) FROM archive.invoice i"
        " JOIN core.tenant t ON t.siret = i.tenant LEFT JOIN portal.brand b"
        " ON b.tenant = i.tenant WHERE lower(i.recipient_email) = %s AND i.state = 'archived'"
        " AND NOT EXISTS (SELECT 1 FROM portal.revoked r WHERE r.tenant = i.tenant"
        " AND r.email = %s) ORDER BY 2", (ctx.account.email, ctx.account.email))
    return [(str(a).strip(), str(b)) for a, b in await cur.fetchall()]


async def _find(ctx: Ctx) -> dict[str, Any]:
    try:
        invoice_id = uuid.UUID(ctx.request.path_params["invoice_id"])
    except ValueError:
        raise not_found() from None
    row = await invoices.visible(ctx.conn, viewer(ctx), invoice_id)
    if row is None:
        raise not_found()
    return row


async def _audit(ctx: Ctx, row: dict[str, Any], action: str) -> None:
    assert ctx.account is not None
    await audit.record(ctx.conn, tenant=row["tenant"], at=ctx.now, actor=ctx.account.email,
                       action=action, invoice_id=row["invoice_id"], address=ctx.address)


async def detail(ctx: Ctx) -> Response:
    row = await _find(ctx)
    events = await invoices.history(ctx.conn, row["invoice_id"], row["tenant"])
    await _audit(ctx, row, "view")
    from services.portal.adapters import brand

    ctx.brand = await brand.get(ctx.conn, row["tenant"])
    data = {"invoice": public(row), "events": events}
    return ctx.render("invoice.html", {"title": "Facture",
                                       "title_suffix": row["invoice_number"] or "",
                                       "row": row, "events": events}, json_data=data)


def _name(row: dict[str, Any], suffix: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(row.get("invoice_number") or row["invoice_id"]))
    return f"{base[:80]}{suffix}"


def download(data: bytes, media: str, filename: str) -> Response:
    return Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


async def pdf(ctx: Ctx) -> Response:
    row = await _find(ctx)
    from services.portal.rendering.pdf import invoice_pdf

    data = await invoice_pdf(ctx.conn, ctx.portal.vault, row["invoice_id"])
    await _audit(ctx, row, "download-pdf")
    return download(data, "application/pdf", _name(row, ".pdf"))


async def original(ctx: Ctx) -> Response:
    row = await _find(ctx)
    data, cat = await ctx.portal.vault.original(ctx.conn, row["invoice_id"])
    await _audit(ctx, row, "download-original")
    media = str(cat.get("content_type") or "application/octet-stream")
    suffix = ".pdf" if media == "application/pdf" else ".xml"
    return download(data, media, _name(row, suffix))


async def proof(ctx: Ctx) -> Response:
    row = await _find(ctx)
    try:
        data = await proofs.proof_zip(ctx.portal.settings, row["invoice_id"])
    except proofs.ProofUnavailable as exc:
        return ctx.render("message.html", {"title": "Preuve indisponible",
                                           "message": str(exc)}, status=503)
    await _audit(ctx, row, "download-proof")
    return download(data, "application/zip", _name(row, "-preuve.zip"))


async def period_zip(ctx: Ctx) -> Response:
    q = ctx.request.query_params
    start, end = _day(q.get("from")), _day(q.get("to"))
    if start is None or end is None or end < start:
        return ctx.render("message.html", {
            "title": "Période invalide",
            "message": "Indiquez une période : du (AAAA-MM-JJ) au (AAAA-MM-JJ)."}, status=400)
    as_issuer = ctx.tenant if q.get("space") == "issuer" else None
    rows = await invoices.in_period(ctx.conn, viewer(ctx), start, end, as_issuer=as_issuer,
                                    limit=MAX_PERIOD_INVOICES + 1)
    if len(rows) > MAX_PERIOD_INVOICES:
        return ctx.render("message.html", {
            "title": "Période trop longue",
            "message": f"Plus de {MAX_PERIOD_INVOICES} factures : choisissez une période "
                       "plus courte."}, status=400)
    from services.portal.rendering.pdf import invoice_pdf

    out = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for row in rows:
            data = await invoice_pdf(ctx.conn, ctx.portal.vault, row["invoice_id"])
            name = _name(row, ".pdf")
            if name in used:
                name = f"{row['invoice_id']}.pdf"
            used.add(name)
            zf.writestr(f"{row['tenant']}/{name}", data)
            await _audit(ctx, row, "download-period")
    return download(out.getvalue(), "application/zip", f"factures-{start}-{end}.zip")
