"""Tenants (issuers) and their subscriptions: the registry every service reads.

Writes come from the CLI (synchronous psycopg); services read asynchronously.
A stopped tenant is kept (its archive is history) but ``active`` is false,
so ingest answers ``unknown-tenant`` for it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict

SIRET_RE = re.compile(r"^\d{14}$")


class Tenant(BaseModel):
    model_config = ConfigDict(frozen=True)

    siret: str
    name: str
    subscribed_on: date
    sandbox: bool
    active: bool
    pa_client_id: str | None = None
    pa_secret_wrapped: bytes | None = None

    @property
    def siren(self) -> str:
        return self.siret[:9]

    def public(self) -> dict[str, Any]:
        """The ``tenant list --json`` shape of contract section 4."""
        return {
            "siret": self.siret, "name": self.name,
            "subscribed_on": self.subscribed_on.isoformat(), "sandbox": self.sandbox,
            "active": self.active,
        }


_COLUMNS = "siret, name, subscribed_on, sandbox, active, pa_client_id, pa_secret_wrapped"
# Without the sealed PA secret: the only column a service other than transmit may not read.
_PUBLIC_COLUMNS = "siret, name, subscribed_on, sandbox, active, pa_client_id, NULL"


def _row(row: tuple[Any, ...]) -> Tenant:
    return Tenant(
        siret=row[0].strip(), name=row[1], subscribed_on=row[2], sandbox=row[3], active=row[4],
        pa_client_id=row[5], pa_secret_wrapped=bytes(row[6]) if row[6] is not None else None,
    )


async def get(
    conn: psycopg.AsyncConnection[Any], siret: str, *, with_secret: bool = False
) -> Tenant | None:
    """The tenant, or None. ``with_secret`` also reads the sealed PA client secret, which only
    transmit's database role may (``shared/db_roles.py``); otherwise it is left None."""
    columns = _COLUMNS if with_secret else _PUBLIC_COLUMNS
    cur = await conn.execute(f"SELECT {columns} FROM core.tenant WHERE siret = %s", (siret,))  # noqa: S608
    row = await cur.fetchone()
    return _row(row) if row else None


def get_sync(conn: psycopg.Connection[Any], siret: str) -> Tenant | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM core.tenant WHERE siret = %s", (siret,)).fetchone()  # noqa: S608
    return _row(row) if row else None


def add(
    conn: psycopg.Connection[Any], siret: str, name: str, subscribed_on: date, sandbox: bool
) -> Tenant:
    """Register a tenant; an existing SIRET is updated (name, date, sandbox) and re-activated."""
    conn.execute(
        "INSERT INTO core.tenant (siret, name, subscribed_on, sandbox) VALUES (%s,%s,%s,%s)"
        " ON CONFLICT (siret) DO UPDATE SET name = EXCLUDED.name,"
        " subscribed_on = EXCLUDED.subscribed_on, sandbox = EXCLUDED.sandbox, active = true,"
        " stopped_at = NULL",
        (siret, name, subscribed_on, sandbox),
    )
    tenant = get_sync(conn, siret)
    assert tenant is not None
    return tenant


def list_all(conn: psycopg.Connection[Any]) -> list[Tenant]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM core.tenant ORDER BY siret").fetchall()  # noqa: S608
    return [_row(r) for r in rows]


def stop(conn: psycopg.Connection[Any], siret: str) -> bool:
    cur = conn.execute(
        "UPDATE core.tenant SET active = false, stopped_at = now() WHERE siret = %s AND active",
        (siret,),
    )
    return cur.rowcount == 1


def set_credentials(
    conn: psycopg.Connection[Any], siret: str, client_id: str, secret_wrapped: bytes
) -> bool:
    cur = conn.execute(
        "UPDATE core.tenant SET pa_client_id = %s, pa_secret_wrapped = %s WHERE siret = %s",
        (client_id, secret_wrapped, siret),
    )
    return cur.rowcount == 1
