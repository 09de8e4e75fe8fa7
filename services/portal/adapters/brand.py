"""The issuer's space: display name and logo (``portal.brand``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]


async def get(conn: Conn, tenant: str) -> dict[str, Any]:
    """``{"tenant", "name", "display_name", "has_logo"}``; the tenant's registered name when no
    display name is set."""
    cur = await conn.execute(
        "SELECT t.name, b.display_name, b.logo_type IS NOT NULL FROM core.tenant t"
        " LEFT JOIN portal.brand b ON b.tenant = t.siret WHERE t.siret = %s", (tenant,))
    row = await cur.fetchone()
    if row is None:
        return {"tenant": tenant, "name": tenant, "display_name": None, "has_logo": False}
    return {"tenant": tenant, "name": row[1] or row[0], "display_name": row[1],
            "has_logo": bool(row[2])}


async def logo(conn: Conn, tenant: str) -> tuple[bytes, str] | None:
    cur = await conn.execute("SELECT logo, logo_type FROM portal.brand WHERE tenant = %s"
                             " AND logo IS NOT NULL", (tenant,))
    row = await cur.fetchone()
    return (bytes(row[0]), str(row[1])) if row else None


async def save(conn: Conn, tenant: str, now: datetime, *, display_name: str | None = None,
               logo: tuple[bytes, str] | None = None) -> None:
    await conn.execute(
        "INSERT INTO portal.brand (tenant, display_name, logo, logo_type, updated_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant) DO UPDATE SET"
        " display_name = COALESCE(EXCLUDED.display_name, portal.brand.display_name),"
        " logo = COALESCE(EXCLUDED.logo, portal.brand.logo),"
        " logo_type = COALESCE(EXCLUDED.logo_type, portal.brand.logo_type),"
        " updated_at = EXCLUDED.updated_at",
        (tenant, display_name, logo[0] if logo else None, logo[1] if logo else None, now))


async def may_see(conn: Conn, tenant: str, email: str, tenants: tuple[str, ...]) -> bool:
    """Whether the account sees ``tenant``'s space (a user of it, or one of its recipients)."""
    if tenant in tenants:
        return True
    cur = await conn.execute(
        "SELECT 1 FROM archive.invoice i WHERE i.tenant = %s AND lower(i.recipient_email) = %s"
        " AND i.state = 'archived' AND NOT EXISTS (SELECT 1 FROM portal.revoked r"
        " WHERE r.tenant = i.tenant AND r.email = %s) LIMIT 1", (tenant, email, email))
    return await cur.fetchone() is not None
