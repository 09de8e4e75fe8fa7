"""``user add|list|remove`` (the issuer's portal users) and ``audit SIRET`` (the portal's audit
trail), contract v2 section 4.

``user add`` makes the address a user of the tenant with its role and e-mails an enrolment
link (24 h, single use) unless the account is already enrolled; the e-mail goes out through
the portal's mailer (SMTP when ``EFACTURE_SMTP_URL`` is set, else an ``.eml`` file under
``EFACTURE_DATA_DIR/mail/``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import click
import psycopg

from efacture.cli.output import emit, fail, json_option, table
from shared import db
from shared.settings import get_settings


def _run(body: Any) -> Any:
    settings = get_settings()
    db.migrate(settings.database_url)

    async def go() -> Any:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            result = await body(conn, settings)
            await conn.commit()
            return result

    return asyncio.run(go())


async def _tenant_exists(conn: psycopg.AsyncConnection[Any], siret: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM core.tenant WHERE siret = %s", (siret,))
    return await cur.fetchone() is not None


def register(cli: click.Group) -> None:
    @cli.group("user")
    def user_group() -> None:
        """The issuer's portal users: `user add SIRET EMAIL [--role admin|staff]`,
        `user list SIRET`, `user remove SIRET EMAIL`."""

    @user_group.command("add")
    @click.argument("siret")
    @click.argument("email")
    @click.option("--role", type=click.Choice(["admin", "staff"]), default="staff",
                  show_default=True)
    @json_option
    def add(siret: str, email: str, role: str, as_json: bool) -> None:
        """Make EMAIL a portal user of tenant SIRET and e-mail its enrolment link."""
        from services.portal.auth import members
        from services.portal.web.mail import link_text

        email = email.strip().lower()
        if "@" not in email or len(email) > 254 or any(c in email for c in "\r\n <>"):
            raise click.BadParameter(f"{email!r} is not an e-mail address.", param_hint="EMAIL")

        async def body(conn: psycopg.AsyncConnection[Any], settings: Any) -> dict[str, Any]:
            if not await _tenant_exists(conn, siret):
                fail(f"no tenant is registered with SIRET {siret}.")
            url = await members.add(conn, settings.portal_url, siret, email, role,
                                    datetime.now(UTC))
            await conn.execute(
                "INSERT INTO portal.audit (tenant, at, actor, action, detail) VALUES"
                " (%s, now(), 'cli', 'user-add', jsonb_build_object('email', %s::text,"
                " 'role', %s::text))", (siret, email, role))
            return {"tenant": siret, "email": email, "role": role, "url": url}

        result = _run(body)
        sent = False
        if result["url"] is not None:
            from services.portal.adapters.mailer import Mailer

            subject, text = link_text(result["url"], True)
            asyncio.run(Mailer(get_settings()).send(email, subject, text))
            sent = True
        data = {"tenant": siret, "email": email, "role": role, "enrolment_sent": sent}
        emit(data, as_json, lambda: click.echo(
            f"{email} is now {role} of {siret}"
            + ("; enrolment e-mail sent" if sent else " (already enrolled; no e-mail)")))

    @user_group.command("list")
    @click.argument("siret")
    @json_option
    def list_(siret: str, as_json: bool) -> None:
        """The portal users of tenant SIRET."""
        from services.portal.auth import members

        async def body(conn: psycopg.AsyncConnection[Any], _s: Any) -> list[dict[str, Any]]:
            if not await _tenant_exists(conn, siret):
                fail(f"no tenant is registered with SIRET {siret}.")
            return await members.listing(conn, siret)

        rows = _run(body)
        emit(rows, as_json, lambda: table(
            f"portal users of {siret}", ["email", "role", "enrolled", "added_at"],
            [[r["email"], r["role"], r["enrolled"], r["added_at"]] for r in rows]))

    @user_group.command("remove")
    @click.argument("siret")
    @click.argument("email")
    @json_option
    def remove(siret: str, email: str, as_json: bool) -> None:
        """Take EMAIL's access to tenant SIRET's space away (its sessions see it at once)."""
        from services.portal.auth import members

        async def body(conn: psycopg.AsyncConnection[Any], _s: Any) -> bool:
            if not await _tenant_exists(conn, siret):
                fail(f"no tenant is registered with SIRET {siret}.")
            return await members.remove(conn, siret, email)

        if not _run(body):
            fail(f"{email} is not a portal user of {siret}.")
        emit({"tenant": siret, "email": email.strip().lower(), "removed": True}, as_json,
             lambda: click.echo(f"{email} removed from {siret}"))

    @cli.command("audit")
    @click.argument("siret")
    @click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
    @json_option
    def audit_cmd(siret: str, limit: int, as_json: bool) -> None:
        """The portal's audit trail of tenant SIRET (views, downloads, changes), newest first."""
        from services.portal.adapters import audit

        async def body(conn: psycopg.AsyncConnection[Any], _s: Any) -> list[dict[str, Any]]:
            if not await _tenant_exists(conn, siret):
                fail(f"no tenant is registered with SIRET {siret}.")
            return await audit.recent(conn, siret, limit=limit)

        rows = _run(body)
        emit(rows, as_json, lambda: table(
            f"portal audit of {siret}", ["at", "actor", "action", "invoice_id", "address"],
            [[r["at"], r["actor"], r["action"], r["invoice_id"], r["address"]] for r in rows]))
