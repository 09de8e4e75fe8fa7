"""PostgreSQL access: database creation, per-service schema migrations, connection pools.

Each service owns one schema and ships plain SQL migrations in
``services/<service>/migrations/NNN_name.sql`` (the shared core's live in
``shared/migrations``). ``migrate`` applies the ones not yet recorded, each in
its own transaction, under an advisory lock so services starting together do
not race. After migrations it creates the services' roles and applies their grants
(``shared.db_roles``); a database already up to date is left untouched, so a service
connected with its own role (no DDL rights) can call ``migrate`` too.
"""

from __future__ import annotations

import contextlib
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

from shared import db_roles
from shared.settings import Settings, get_settings

MIGRATION_LOCK = 7_420_001

# Order matters: core first (tenants, outbox), then the services.
SCHEMAS: tuple[tuple[str, str], ...] = (
    ("core", "shared.migrations"),
    ("ingest", "services.ingest.migrations"),
    ("archive", "services.archive.migrations"),
    ("transmit", "services.transmit.migrations"),
    ("metering", "services.metering.migrations"),
    ("portal", "services.portal.migrations"),
)


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist (contract section 1)."""
    params = conninfo_to_dict(url)
    name = str(params.get("dbname") or "postgres")
    admin = make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            # Another service may create it between our check and our create.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _migration_files(package: str) -> list[tuple[str, str]]:
    try:
        root = resources.files(package)
    except ModuleNotFoundError:
        return []
    files = [p for p in root.iterdir() if p.name.endswith(".sql")]
    return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(files, key=lambda p: p.name)]


ROLES_SCHEMA = "roles"  # the row recording which role policy was applied


def _wanted(schemas: tuple[tuple[str, str], ...], roles: bool) -> set[tuple[str, str]]:
    wanted = {(schema, name) for schema, package in schemas
              for name, _ in _migration_files(package)}
    if roles:
        wanted.add((ROLES_SCHEMA, db_roles.policy_digest()))
    return wanted


def _up_to_date(conn: psycopg.Connection, wanted: set[tuple[str, str]]) -> bool:
    """Whether every migration (and the role policy) is recorded, reading only."""
    found = conn.execute("SELECT to_regclass('public.efacture_migrations')").fetchone()
    if not found or found[0] is None:
        return False
    rows = conn.execute("SELECT schema_name, filename FROM public.efacture_migrations").fetchall()
    return wanted <= {(r[0], r[1]) for r in rows}


def migrate(
    url: str, schemas: tuple[tuple[str, str], ...] = SCHEMAS, *, roles: bool | None = None,
    passwords: dict[str, str] | None = None,
) -> list[str]:
    """Create the database if needed and apply pending migrations; returns what was applied.

    ``roles`` (default: ``EFACTURE_DATABASE_ROLES``) also creates the service roles and applies
    their grants; ``passwords`` (``{service: password}``) sets those roles' passwords and
    forces the grants to be applied again. Raises ``psycopg`` errors (a missing privilege
    when the user of ``url`` is not the migration role and something is pending).
    """
    if roles is None:
        roles = get_settings().database_roles
    ensure_database(url)
    applied: list[str] = []
    wanted = _wanted(schemas, roles)
    with psycopg.connect(url, autocommit=True) as conn:
        if not passwords and _up_to_date(conn, wanted):
            return applied
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS public.efacture_migrations ("
                " schema_name text NOT NULL, filename text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (schema_name, filename))"
            )
            for schema, package in schemas:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                done = {
                    r[0]
                    for r in conn.execute(
                        "SELECT filename FROM public.efacture_migrations WHERE schema_name = %s",
                        (schema,),
                    )
                }
                for name, text in _migration_files(package):
                    if name in done:
                        continue
                    with conn.transaction():
                        conn.execute(text.encode())
                        conn.execute(
                            "INSERT INTO public.efacture_migrations (schema_name, filename)"
                            " VALUES (%s, %s)",
                            (schema, name),
                        )
                    applied.append(f"{schema}/{name}")
            if roles:
                _apply_roles(conn, applied, passwords or {})
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied


def _apply_roles(conn: psycopg.Connection, applied: list[str], passwords: dict[str, str]) -> None:
    digest = db_roles.policy_digest()
    recorded = conn.execute(
        "SELECT 1 FROM public.efacture_migrations WHERE schema_name = %s AND filename = %s",
        (ROLES_SCHEMA, digest)).fetchone()
    if recorded and not applied and not passwords:
        return
    db_roles.ensure_roles(conn)
    if passwords:
        db_roles.set_passwords(conn, passwords)
    db_roles.apply_grants(conn)
    with conn.transaction():
        conn.execute("DELETE FROM public.efacture_migrations WHERE schema_name = %s",
                     (ROLES_SCHEMA,))
        conn.execute("INSERT INTO public.efacture_migrations (schema_name, filename)"
                     " VALUES (%s, %s)", (ROLES_SCHEMA, digest))


def service_url(settings: Settings, service: str) -> str:
    """The URL ``service`` connects with: its own ``EFACTURE_<SERVICE>_DATABASE_URL``, else
    ``EFACTURE_DATABASE_URL`` with the user replaced by the service's role and the password
    dropped (libpq then finds it in ``PGPASSFILE``, or trust/peer authentication applies);
    ``EFACTURE_DATABASE_ROLES=false`` -> ``EFACTURE_DATABASE_URL`` itself."""
    own = getattr(settings, f"{service}_database_url", None)
    if isinstance(own, str) and own:
        return own
    if not settings.database_roles or service not in db_roles.SERVICES:
        return settings.database_url
    params = conninfo_to_dict(settings.database_url)
    params.pop("password", None)
    params["user"] = db_roles.role_name(service)
    return make_conninfo("", **params)


def role_passwords(settings: Settings) -> dict[str, str]:
    """``{service: password}`` from the per-service URLs that carry one (for ``migrate``)."""
    found: dict[str, str] = {}
    for service in db_roles.SERVICES:
        own = getattr(settings, f"{service}_database_url", None)
        if isinstance(own, str) and own:
            params = conninfo_to_dict(own)
            if params.get("password") and params.get("user") == db_roles.role_name(service):
                found[service] = str(params["password"])
    return found


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 8) -> AsyncConnectionPool:
    """An open async pool; callers close it on shutdown."""
    pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False)
    await pool.open(wait=True, timeout=30)
    return pool


def connect(url: str) -> psycopg.Connection:
    """A synchronous connection for the CLI."""
    return psycopg.connect(url)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
