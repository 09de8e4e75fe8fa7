"""What a signed-in account may see of the catalogue (``archive.invoice``), read only.

Visibility is decided here, in SQL, for every query: a recipient sees the archived invoices
whose ``recipient_email`` is their address and whose issuer has not revoked them; an issuer
user sees its tenant's. :func:`visible` answers None for an invoice the account may not see,
exactly as for one that does not exist.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from shared.topology import STATUS

Conn = psycopg.AsyncConnection[Any]
PAGE = 50

EVENT_LABELS = {
    "received": "Reçue par le service", "archived": "Archivée", "transmitted": "Transmise",
    "transmission_failed": "Échec de transmission", "purged": "Supprimée (fin de conservation)",
    "rejected": "Refusée",
}

_COLUMNS = ("i.invoice_id, i.tenant, i.submission_id, i.invoice_number, i.issue_date,"
            " i.recipient_id, i.recipient_name, i.recipient_email, i.amount_payable, i.currency,"
            " i.kind, i.syntax, i.profile, i.sha256, i.archived_at, i.state, i.size_bytes,"
            " t.name AS issuer_name, b.display_name AS issuer_display, b.logo_type")
_FROM = (" FROM archive.invoice i JOIN core.tenant t ON t.siret = i.tenant"
         " LEFT JOIN portal.brand b ON b.tenant = i.tenant")
_LAST = (", (SELECT convert_from(o.body, 'UTF8')::jsonb FROM core.outbox o"
         " WHERE o.invoice_id = i.invoice_id AND o.exchange = %(status)s AND o.tenant = i.tenant"
         " ORDER BY o.id DESC LIMIT 1) AS last_event")
_RECIPIENT = ("lower(i.recipient_email) = %(email)s AND i.state = 'archived' AND NOT EXISTS"
              " (SELECT 1 FROM portal.revoked r WHERE r.tenant = i.tenant"
              " AND r.email = %(email)s)")


@dataclass(frozen=True)
class Viewer:
    """Who asks: their address and the tenants whose invoices they see as issuer users."""

    email: str
    tenants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Filters:
    issuer: str | None = None
    number: str | None = None
    start: date | None = None
    end: date | None = None
    recipient: str | None = None
    page: int = 1


def _scope(viewer: Viewer, as_issuer: str | None) -> str:
    if as_issuer is not None:
        return "i.tenant = %(tenant)s"
    return _RECIPIENT


def _filters(f: Filters) -> str:
    parts = []
    if f.issuer:
        parts.append("i.tenant = %(f_issuer)s")
    if f.number:
        parts.append("i.invoice_number ILIKE %(f_number)s ESCAPE '\\'")
    if f.start:
        parts.append("i.issue_date >= %(f_start)s")
    if f.end:
        parts.append("i.issue_date <= %(f_end)s")
    if f.recipient:
        parts.append("(lower(i.recipient_email) = lower(%(f_recipient)s)"
                     " OR i.recipient_id = %(f_recipient)s)")
    return "".join(f" AND {p}" for p in parts)


def _params(viewer: Viewer, as_issuer: str | None, f: Filters) -> dict[str, Any]:
    number = None
    if f.number:
        number = "%" + f.number.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return {"email": viewer.email, "tenant": as_issuer, "status": STATUS,
            "f_issuer": f.issuer, "f_number": number, "f_start": f.start, "f_end": f.end,
            "f_recipient": f.recipient}


def state_label(event: dict[str, Any] | None, row_state: str) -> str:
    if row_state == "purged":
        return EVENT_LABELS["purged"]
    if not event:
        return EVENT_LABELS["archived"]
    if event.get("event") == "lifecycle" and event.get("lifecycle_label"):
        return f"{event.get('lifecycle_code')} {event['lifecycle_label']}"
    return EVENT_LABELS.get(str(event.get("event")), str(event.get("event")))


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    last = row.pop("last_event", None)
    if isinstance(last, str):
        last = json.loads(last)
    row["state_label"] = state_label(last, row["state"])
    row["issuer"] = row.pop("issuer_display") or row["issuer_name"]
    row["has_logo"] = row.pop("logo_type") is not None
    row["tenant"] = str(row["tenant"]).strip()
    row["sha256"] = str(row["sha256"]).strip()
    return row


async def listing(conn: Conn, viewer: Viewer, f: Filters, *, as_issuer: str | None = None
                  ) -> tuple[list[dict[str, Any]], int]:
    """One page of the visible invoices (newest first) and the total count."""
    where = " WHERE " + _scope(viewer, as_issuer) + _filters(f)
    params = _params(viewer, as_issuer, f)
    params["limit"], params["offset"] = PAGE, (max(f.page, 1) - 1) * PAGE
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL("SELECT " + _COLUMNS + _LAST + _FROM + where +
                                  " ORDER BY i.issue_date DESC NULLS LAST, i.archived_at DESC"
                                  " LIMIT %(limit)s OFFSET %(offset)s"), params)
        rows = [_finish(r) for r in await cur.fetchall()]
        await cur.execute(sql.SQL("SELECT count(*) AS n" + _FROM + where), params)
        total = await cur.fetchone()
    return rows, int(total["n"]) if total else 0


async def in_period(conn: Conn, viewer: Viewer, start: date, end: date, *,
                    as_issuer: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """Every visible invoice issued from ``start`` to ``end`` (at most ``limit``)."""
    f = Filters(start=start, end=end)
    where = " WHERE " + _scope(viewer, as_issuer) + _filters(f) + " AND i.state = 'archived'"
    params = _params(viewer, as_issuer, f) | {"limit": limit}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL("SELECT " + _COLUMNS + _LAST + _FROM + where +
                                  " ORDER BY i.issue_date, i.invoice_number LIMIT %(limit)s"),
                          params)
        return [_finish(r) for r in await cur.fetchall()]


async def visible(conn: Conn, viewer: Viewer, invoice_id: uuid.UUID) -> dict[str, Any] | None:
    """The invoice if ``viewer`` may see it (as its recipient or as an issuer user)."""
    params = _params(viewer, None, Filters()) | {"id": invoice_id,
                                                  "tenants": list(viewer.tenants)}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.SQL(
            "SELECT " + _COLUMNS + _LAST + _FROM + " WHERE i.invoice_id = %(id)s"
            " AND (i.tenant = ANY(%(tenants)s) OR (" + _RECIPIENT + "))"), params)
        row = await cur.fetchone()
    return _finish(row) if row else None


async def history(conn: Conn, invoice_id: uuid.UUID, tenant: str) -> list[dict[str, Any]]:
    """The invoice's status events (contract section 3), oldest first, as kept in the outbox."""
    cur = await conn.execute(
        "SELECT body FROM core.outbox WHERE invoice_id = %s AND tenant = %s AND exchange = %s"
        " ORDER BY id", (invoice_id, tenant, STATUS))
    events = [json.loads(bytes(r[0])) for r in await cur.fetchall()]
    events.sort(key=lambda e: str(e.get("occurred_at")))
    for e in events:
        e["label"] = state_label(e, "archived")
    return events
