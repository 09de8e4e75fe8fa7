"""PostgreSQL access: database creation, per-service schema migrations, connection pools.

Each service owns one schema and ships plain SQL migrations in
``services/<service>/migrations/NNN_name.sql`` (the shared core's live in
``shared/migrations``). ``migrate`` applies the ones not yet recorded, each in
its own transaction, under an advisory lock so services starting together do
not race.
"""

from __future__ import annotations

import contextlib
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool

MIGRATION_LOCK = 7_420_001

# Order matters: core first (tenants, outbox), then the services.
SCHEMAS: tuple[tuple[str, str], ...] = (
    ("core", "shared.migrations"),
    ("ingest", "services.ingest.migrations"),
    ("archive", "services.archive.migrations"),
    ("transmit", "services.transmit.migrations"),
    ("metering", "services.metering.migrations"),
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


def migrate(url: str, schemas: tuple[tuple[str, str], ...] = SCHEMAS) -> list[str]:
    """Create the database if needed and apply pending migrations; returns what was applied."""
    ensure_database(url)
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
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
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied


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
