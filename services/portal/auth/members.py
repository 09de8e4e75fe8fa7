"""Issuer users of a tenant (``portal.member``), shared by ``/issuer/settings`` and
``efacture user``. Callers commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from services.portal.auth import accounts, links

Conn = psycopg.AsyncConnection[Any]


async def add(conn: Conn, portal_url: str, tenant: str, email: str, role: str,
              now: datetime) -> str | None:
    """Make ``email`` a ``role`` user of ``tenant``; returns the enrolment URL to e-mail when
    the account is not enrolled yet (None when it is: it signs in as before)."""
    account = await accounts.ensure(conn, email, now)
    await conn.execute(
        "INSERT INTO portal.member (account_id, tenant, role, created_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (account_id, tenant) DO UPDATE SET role = EXCLUDED.role",
        (account.id, tenant, role, now))
    if account.enrolled:
        return None
    token = await links.issue(conn, account.email, "enrol", now)
    return f"{portal_url.rstrip('/')}/link/{token}"


async def remove(conn: Conn, tenant: str, email: str) -> bool:
    cur = await conn.execute(
        "DELETE FROM portal.member m USING portal.account a WHERE a.id = m.account_id"
        " AND a.email = %s AND m.tenant = %s", (accounts.normalise_email(email), tenant))
    return cur.rowcount == 1


async def listing(conn: Conn, tenant: str) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT a.email, m.role, a.totp_secret IS NOT NULL, m.created_at FROM portal.member m"
        " JOIN portal.account a ON a.id = m.account_id WHERE m.tenant = %s ORDER BY a.email",
        (tenant,))
    return [{"email": e, "role": r, "enrolled": bool(en), "added_at": at}
            for e, r, en, at in await cur.fetchall()]
