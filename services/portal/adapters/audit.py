"""The audit trail (``portal.audit``): every view and download, every change an issuer makes,
per tenant. Written in the request's transaction; read by ``/issuer/audit`` and
``efacture audit``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

Conn = psycopg.AsyncConnection[Any]


async def record(conn: Conn, *, tenant: str, at: datetime, actor: str, action: str,
                 invoice_id: uuid.UUID | None = None, address: str | None = None,
                 detail: dict[str, Any] | None = None) -> None:
    await conn.execute(
        "INSERT INTO portal.audit (tenant, at, actor, action, invoice_id, address, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (tenant, at, actor, action, invoice_id, address, json.dumps(detail or {})))


async def recent(conn: Conn, tenant: str, *, limit: int = 200, before: int | None = None
                 ) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, at, actor, action, invoice_id, address, detail FROM portal.audit"
            " WHERE tenant = %s AND (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
            (tenant, before, before, limit))
        return list(await cur.fetchall())
