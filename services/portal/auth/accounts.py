"""Accounts, memberships and recovery codes in ``portal.*`` (queries only; callers commit).

An account is an e-mail address (lower-cased). It is an issuer user through ``portal.member``
rows and a recipient through archived invoices carrying its address (``archive.invoice``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from services.portal.auth import recovery

Conn = psycopg.AsyncConnection[Any]

MAX_FAILURES = 10
LOCK = timedelta(minutes=15)


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    password_hash: str | None
    totp_secret: str | None
    totp_last_step: int | None
    failed_attempts: int
    locked_until: datetime | None

    @property
    def enrolled(self) -> bool:
        return self.password_hash is not None and self.totp_secret is not None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


_COLS = ("id, email, password_hash, totp_secret, totp_last_step, failed_attempts, "
         "locked_until")


async def _one(conn: Conn, where: str, arg: Any) -> Account | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLS} FROM portal.account WHERE {where}", (arg,))  # noqa: S608
        row = await cur.fetchone()
    return Account(**row) if row else None


async def by_email(conn: Conn, email: str) -> Account | None:
    return await _one(conn, "email = %s", normalise_email(email))


async def by_id(conn: Conn, account_id: uuid.UUID) -> Account | None:
    return await _one(conn, "id = %s", account_id)


async def ensure(conn: Conn, email: str, now: datetime) -> Account:
    """The account of ``email``, created (not enrolled) when missing."""
    email = normalise_email(email)
    await conn.execute(
        "INSERT INTO portal.account (id, email, created_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (email) DO NOTHING", (uuid.uuid4(), email, now))
    found = await by_email(conn, email)
    assert found is not None
    return found


async def record_failure(conn: Conn, account: Account, now: datetime) -> None:
    """One more failure in a row; the tenth locks the account for 15 minutes."""
    await conn.execute(
        "UPDATE portal.account SET failed_attempts = failed_attempts + 1,"
        " locked_until = CASE WHEN failed_attempts + 1 >= %s THEN %s ELSE locked_until END"
        " WHERE id = %s", (MAX_FAILURES, now + LOCK, account.id))


async def record_success(conn: Conn, account_id: uuid.UUID) -> None:
    await conn.execute("UPDATE portal.account SET failed_attempts = 0, locked_until = NULL"
                       " WHERE id = %s", (account_id,))


async def set_password(conn: Conn, account_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute("UPDATE portal.account SET password_hash = %s WHERE id = %s",
                       (password_hash, account_id))


async def confirm_totp(conn: Conn, account_id: uuid.UUID, secret: str, step: int,
                       now: datetime) -> list[str]:
    """Store the confirmed TOTP secret (sealed by :mod:`.secret_box`) and ten fresh recovery
    codes (returned, shown once)."""
    await conn.execute(
        "UPDATE portal.account SET totp_secret = %s, totp_last_step = %s,"
        " enrolled_at = COALESCE(enrolled_at, %s) WHERE id = %s",
        (secret, step, now, account_id))
    codes = recovery.generate()
    await conn.execute("DELETE FROM portal.recovery_code WHERE account_id = %s", (account_id,))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO portal.recovery_code (account_id, code_hash) VALUES (%s, %s)",
            [(account_id, recovery.digest(c)) for c in codes])
    return codes


async def use_totp_step(conn: Conn, account_id: uuid.UUID, step: int) -> bool:
    """Record ``step`` as used; False when it (or a later one) was already (concurrent use)."""
    cur = await conn.execute(
        "UPDATE portal.account SET totp_last_step = %s WHERE id = %s"
        " AND (totp_last_step IS NULL OR totp_last_step < %s)", (step, account_id, step))
    return cur.rowcount == 1


async def use_recovery_code(conn: Conn, account_id: uuid.UUID, code: str,
                            now: datetime) -> bool:
    cur = await conn.execute(
        "UPDATE portal.recovery_code SET used_at = %s WHERE account_id = %s"
        " AND code_hash = %s AND used_at IS NULL", (now, account_id, recovery.digest(code)))
    return cur.rowcount == 1


async def memberships(conn: Conn, account_id: uuid.UUID) -> dict[str, str]:
    """``{tenant: role}`` of an account (active tenants only)."""
    cur = await conn.execute(
        "SELECT m.tenant, m.role FROM portal.member m JOIN core.tenant t ON t.siret = m.tenant"
        " WHERE m.account_id = %s AND t.active ORDER BY m.tenant", (account_id,))
    return {str(t).strip(): str(r) for t, r in await cur.fetchall()}


async def is_recipient(conn: Conn, email: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM archive.invoice i WHERE lower(i.recipient_email) = %s"
        " AND i.state = 'archived' AND NOT EXISTS (SELECT 1 FROM portal.revoked r"
        " WHERE r.tenant = i.tenant AND r.email = %s) LIMIT 1",
        (normalise_email(email), normalise_email(email)))
    return await cur.fetchone() is not None
