"""Server-side sessions in ``portal.session`` behind the ``__Host-efacture`` cookie.

The cookie carries a random token; the table keeps its SHA-256, the stage reached (``anon``,
``otp``, ``enrol_password``, ``enrol_totp``, ``full``), the account and the CSRF token. A
session ends after 30 minutes without a request or 12 hours after it began. Every step of a
sign-in or an enrolment :func:`rotate`s the token (and the CSRF token), so a token seen before
a step is worthless after it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

Conn = psycopg.AsyncConnection[Any]

COOKIE = "__Host-efacture"
IDLE = timedelta(minutes=30)
MAX_AGE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass
class Session:
    public_id: uuid.UUID
    stage: str
    csrf_token: str
    account_id: uuid.UUID | None = None
    data: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    new_token: str | None = None  # set when the cookie must be (re)written
    ended: bool = False

    @property
    def signed_in(self) -> bool:
        return self.stage == "full" and self.account_id is not None


async def load(conn: Conn, token: str | None, now: datetime) -> Session | None:
    """The live session of ``token`` (its last-seen time refreshed), else None."""
    if not token or len(token) > 128:
        return None
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT public_id, stage, csrf_token, account_id, data, created_at, last_seen"
            " FROM portal.session WHERE token_hash = %s AND last_seen > %s AND created_at > %s",
            (_digest(token), now - IDLE, now - MAX_AGE))
        row = await cur.fetchone()
    if row is None:
        return None
    # Refreshed at most once a minute: a page view is then a read-only transaction (no
    # commit to flush), and the idle limit is still kept to the minute.
    if row.pop("last_seen") < now - TOUCH_EVERY:
        await conn.execute("UPDATE portal.session SET last_seen = %s WHERE public_id = %s",
                           (now, row["public_id"]))
    return Session(**row)


async def create(conn: Conn, now: datetime, *, user_agent: str | None,
                 address: str | None) -> Session:
    token = secrets.token_urlsafe(32)
    s = Session(public_id=uuid.uuid4(), stage="anon", csrf_token=secrets.token_urlsafe(32),
                created_at=now, new_token=token)
    await conn.execute(
        "INSERT INTO portal.session (public_id, token_hash, stage, csrf_token, user_agent,"
        " address, created_at, last_seen) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (s.public_id, _digest(token), s.stage, s.csrf_token, (user_agent or "")[:300],
         address, now, now))
    return s


async def rotate(conn: Conn, s: Session, *, stage: str, account_id: uuid.UUID | None,
                 data: dict[str, Any] | None = None, now: datetime) -> None:
    """Move ``s`` to ``stage`` under a new token and CSRF token (``s`` is updated)."""
    token = secrets.token_urlsafe(32)
    s.stage, s.account_id, s.new_token = stage, account_id, token
    s.csrf_token = secrets.token_urlsafe(32)
    if data is not None:
        s.data = data
    if stage == "full":
        s.created_at = now  # the 12 h count starts when the person is signed in
    await conn.execute(
        "UPDATE portal.session SET token_hash = %s, stage = %s, account_id = %s,"
        " csrf_token = %s, data = %s, created_at = COALESCE(%s, created_at)"
        " WHERE public_id = %s",
        (_digest(token), stage, account_id, s.csrf_token, json.dumps(s.data),
         now if stage == "full" else None, s.public_id))


async def end(conn: Conn, public_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM portal.session WHERE public_id = %s", (public_id,))


async def list_for(conn: Conn, account_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT public_id, user_agent, address, created_at, last_seen FROM portal.session"
            " WHERE account_id = %s AND stage = 'full' AND last_seen > %s AND created_at > %s"
            " ORDER BY last_seen DESC", (account_id, now - IDLE, now - MAX_AGE))
        return list(await cur.fetchall())


async def end_other(conn: Conn, account_id: uuid.UUID, public_id: uuid.UUID,
                    keep: uuid.UUID) -> bool:
    """End one of the account's own sessions (never another account's, never this one)."""
    if public_id == keep:
        return False
    cur = await conn.execute("DELETE FROM portal.session WHERE public_id = %s"
                             " AND account_id = %s", (public_id, account_id))
    return cur.rowcount == 1


async def purge(conn: Conn, now: datetime) -> int:
    cur = await conn.execute("DELETE FROM portal.session WHERE last_seen <= %s"
                             " OR created_at <= %s", (now - IDLE, now - MAX_AGE))
    await conn.execute("DELETE FROM portal.link WHERE expires_at <= %s", (now - IDLE,))
    await conn.execute("DELETE FROM portal.login_failure WHERE at <= %s", (now - MAX_AGE,))
    return cur.rowcount
