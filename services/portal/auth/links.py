"""E-mailed links: random, single use, 24 h (enrolment) or 15 min (sign-in).

Only the SHA-256 of a token is stored. A GET of the link only shows a confirmation page (mail
scanners follow links); :func:`consume`, called by that page's POST, spends it atomically.
:class:`PortalLinks` is the link the recipient notifications carry
(``services.portal.notify.RecipientLinks``).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg

from services.portal.auth import accounts
from services.portal.clock import Clock, system_clock
from services.portal.notify import Link

Conn = psycopg.AsyncConnection[Any]

LIFETIME = {"enrol": timedelta(hours=24), "signin": timedelta(minutes=15)}


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue(conn: Conn, email: str, purpose: str, now: datetime) -> str:
    """A new token for ``email`` (committed with the caller's transaction)."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO portal.link (token_hash, email, purpose, created_at, expires_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (_digest(token), accounts.normalise_email(email), purpose, now, now + LIFETIME[purpose]))
    return token


RECENT = timedelta(minutes=15)
MAX_RECENT = 5  # links to one address per 15 minutes, whoever asks (no mail bombing)


async def recently_sent(conn: Conn, email: str, now: datetime) -> int:
    cur = await conn.execute("SELECT count(*) FROM portal.link WHERE email = %s"
                             " AND created_at > %s", (accounts.normalise_email(email),
                                                      now - RECENT))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def consume(conn: Conn, token: str, now: datetime) -> tuple[str, str] | None:
    """``(email, purpose)`` of a valid unused token, which is now spent; else None."""
    if not token or len(token) > 128:
        return None
    cur = await conn.execute(
        "UPDATE portal.link SET used_at = %s WHERE token_hash = %s AND used_at IS NULL"
        " AND expires_at > %s RETURNING email, purpose", (now, _digest(token), now))
    row = await cur.fetchone()
    return (str(row[0]), str(row[1])) if row else None


async def link_for(conn: Conn, base_url: str, email: str, now: datetime) -> tuple[str, bool]:
    """(URL, enrolment?) to e-mail ``email``: a sign-in link once enrolled, else enrolment."""
    account = await accounts.by_email(conn, email)
    purpose = "signin" if account is not None and account.enrolled else "enrol"
    token = await issue(conn, email, purpose, now)
    return f"{base_url.rstrip('/')}/link/{token}", purpose == "enrol"


class PortalLinks:
    """Notification links: enrolment for a new address, the invoice page for an enrolled one."""

    def __init__(self, portal_url: str, clock: Clock = system_clock) -> None:
        self.portal_url = portal_url.rstrip("/")
        self.clock = clock

    async def link(self, conn: Conn, *, email: str, tenant: str,
                   invoice_id: uuid.UUID) -> Link:
        account = await accounts.by_email(conn, email)
        if account is not None and account.enrolled:
            return Link(f"{self.portal_url}/invoices/{invoice_id}", enrolment=False)
        token = await issue(conn, email, "enrol", self.clock())
        return Link(f"{self.portal_url}/link/{token}", enrolment=True)
