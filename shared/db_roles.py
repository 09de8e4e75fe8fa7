"""Least privilege in PostgreSQL: one login role per service, granted only what it uses.

The user of ``EFACTURE_DATABASE_URL`` is the migration role: it owns every schema and table.
Each service connects as ``efacture_<service>`` (see :func:`shared.db.service_url`) and holds:

- ``USAGE`` on the schemas it touches; read access to ``public.efacture_migrations`` (a service
  can tell an up-to-date database from one that needs the migration role);
- ``SELECT, INSERT, UPDATE, DELETE`` on the tables of its own schema and their sequences,
  except the append-only tables (:data:`APPEND_ONLY`): ``SELECT, INSERT`` only;
- ``SELECT, INSERT, UPDATE`` on ``core.outbox`` (every service publishes through it) and
  ``SELECT`` on ``core.tenant`` (without its sealed PA secrets, except for transmit) and any
  other ``core`` table;
- the cross-schema reads of :data:`READS` (transmit and the portal open sealed documents, so
  they read the archive's catalogue and tenant keys; metering reconciles against the
  catalogue). Nothing else: ingest cannot read ``archive.tenant_key``; no service may
  ``TRUNCATE`` anything, nor change the schema.

Roles are cluster-wide and several databases (test runs) migrate at once, so creating them is
idempotent and tolerates a concurrent creator; grants are per database and are re-applied as a
whole (revoke, then grant, in one transaction) whenever a migration ran or the policy changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import psycopg
from psycopg import sql

SERVICES = ("ingest", "archive", "transmit", "metering", "portal")
APPEND_ONLY = {("archive", "log_leaf"), ("archive", "log_node"), ("archive", "log_checkpoint")}
READS: dict[str, tuple[tuple[str, str], ...]] = {
    "transmit": (("archive", "invoice"), ("archive", "tenant_key")),
    "portal": (("archive", "invoice"), ("archive", "tenant_key"),
               ("metering", "period_count"), ("metering", "tenant_count"),
               # /invoices/{id}/proof.zip runs `efacture proof` with the portal's role.
               ("archive", "log_leaf"), ("archive", "log_node"), ("archive", "log_checkpoint")),
    "metering": (("archive", "invoice"),),
}
# Sealed columns of core.tenant, and the only services that may read them.
SECRETS = frozenset({"pa_secret_wrapped"})
SECRET_READERS = frozenset({"transmit"})
OWN_DML = "SELECT, INSERT, UPDATE, DELETE"
POLICY_VERSION = 4  # bump when apply_grants changes: every database then gets the new grants


def role_name(service: str) -> str:
    return f"efacture_{service}"


def policy_digest() -> str:
    """Changes whenever this module's policy does (recorded with the migrations)."""
    text = repr((SERVICES, sorted(APPEND_ONLY), sorted(READS.items()), OWN_DML,
                 sorted(SECRETS), sorted(SECRET_READERS), POLICY_VERSION))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_roles(conn: psycopg.Connection, services: tuple[str, ...] = SERVICES) -> None:
    """Create the missing login roles (no password: set one with :func:`set_passwords`).

    A role another session creates at the same moment is not an error.
    """
    for service in services:
        role = role_name(service)
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            continue
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
                                     " NOINHERIT").format(sql.Identifier(role)))
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            continue  # created meanwhile by a concurrent migration of another database
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PermissionError(
                f"role {role} does not exist and the migration user may not create it: give "
                "it CREATEROLE, or create the roles efacture_* beforehand") from exc


def set_passwords(conn: psycopg.Connection, passwords: Mapping[str, str]) -> None:
    """Set the password of each service's role (``{service: password}``)."""
    for service, password in passwords.items():
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(role_name(service)), sql.Literal(password)))


def _tables(conn: psycopg.Connection, schema: str) -> list[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1",
                        (schema,)).fetchall()
    return [r[0] for r in rows]


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum", (f"{schema}.{table}",)).fetchall()
    return [r[0] for r in rows]


def _schemas(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT nspname FROM pg_namespace").fetchall()
    return {r[0] for r in rows}


def _if_owner(conn: psycopg.Connection, statement: sql.SQL | sql.Composed) -> None:
    try:
        with conn.transaction():
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        pass


def apply_grants(conn: psycopg.Connection, services: tuple[str, ...] = SERVICES) -> None:
    """Make each service role's privileges in this database exactly the policy (one
    transaction: a running service never sees a half-applied policy)."""
    ident = sql.Identifier
    with conn.transaction():
        present = _schemas(conn)
        managed = [s for s in ("core", *services) if s in present]
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        # Database-level: only the database's owner may change these. PostgreSQL 15+ already
        # denies CREATE on public and grants CONNECT to PUBLIC, so a migration role that does
        # not own the database loses nothing by skipping them.
        _if_owner(conn, sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        for service in services:
            role = ident(role_name(service))
            # Start from nothing, so a privilege the policy dropped does not linger.
            for schema in managed:
                conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(
                    ident(schema), role))
                conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(
                    ident(schema), role))
                conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(
                    ident(schema), role))
            _if_owner(conn, sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                ident(database[0]), role))
            conn.execute(sql.SQL("GRANT SELECT ON public.efacture_migrations TO {}").format(role))
            # core: every service publishes through the outbox and reads tenants.
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA core TO {}").format(role))
            for table in _tables(conn, "core"):
                if table == "tenant" and service not in SECRET_READERS:
                    # Column grant: only transmit may read the sealed PA client secrets.
                    columns = sql.SQL(", ").join(
                        ident(c) for c in _columns(conn, "core", "tenant") if c not in SECRETS)
                    conn.execute(sql.SQL("GRANT SELECT ({}) ON core.tenant TO {}").format(
                        columns, role))
                    continue
                privileges = "SELECT, INSERT, UPDATE" if table == "outbox" else "SELECT"
                conn.execute(sql.SQL("GRANT " + privileges + " ON {}.{} TO {}").format(
                    ident("core"), ident(table), role))
            conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA core TO {}").format(
                role))
            if service in present:
                conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                    ident(service), role))
                for table in _tables(conn, service):
                    privileges = "SELECT, INSERT" if (service, table) in APPEND_ONLY else OWN_DML
                    conn.execute(sql.SQL("GRANT " + privileges + " ON {}.{} TO {}").format(
                        ident(service), ident(table), role))
                conn.execute(sql.SQL(
                    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                        ident(service), role))
            for schema, table in READS.get(service, ()):
                if table in _tables(conn, schema):
                    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                        ident(schema), role))
                    conn.execute(sql.SQL("GRANT SELECT ON {}.{} TO {}").format(
                        ident(schema), ident(table), role))
