"""Property 8 (least privilege in PostgreSQL): the services connect with roles of their own, each
allowed what its work needs and refused the rest; the migration role owns the schema.

On the real server, in a database of the module's own, with the services of ``efacture up``.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo
import pytest
from psycopg import sql

from shared import db, db_roles
from shared.settings import Settings
from tests.support.infra import Infra
from tests.support.system import System

pytestmark = pytest.mark.security

SERVICES = ("ingest", "archive", "transmit", "metering")


def _settings(infra: Infra) -> Settings:
    return Settings(_env_file=None, database_url=infra.database_url)  # type: ignore[call-arg]


def _outcome(conn: psycopg.Connection[Any], statement: str) -> str:
    """'ok' or 'refused' (a missing privilege); any other error fails the test."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return "refused"
    return "ok"


def test_services_hold_connections_as_their_own_roles_only(system: System) -> None:
    deadline = time.monotonic() + 60
    users: set[str] = set()
    with psycopg.connect(system.infra.admin_pg, autocommit=True) as admin:
        while time.monotonic() < deadline:
            rows = admin.execute(
                "SELECT usename FROM pg_stat_activity WHERE datname = %s",
                (system.infra.database,)).fetchall()
            users = {r[0] for r in rows}
            if {db_roles.role_name(s) for s in SERVICES} <= users:
                break
            time.sleep(0.5)
        assert {db_roles.role_name(s) for s in SERVICES} <= users, users
        roles = admin.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles"
            " WHERE rolname = ANY(%s)", ([db_roles.role_name(s) for s in SERVICES],)).fetchall()
        assert len(roles) == len(SERVICES)
        assert all(not any(flags) for _, *flags in roles), roles
    # The migration role (the user of EFACTURE_DATABASE_URL) owns every schema and table.
    with psycopg.connect(system.infra.database_url) as conn:
        owners = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ANY(%s)", (["core", *SERVICES],)).fetchall()
        me = conn.execute("SELECT current_user").fetchone()
    assert me is not None
    assert {o[0] for o in owners} == {me[0]}


def _children_environments(parent: int) -> dict[str, dict[str, str]]:
    """{serve target: environment} of the processes ``efacture up`` (pid ``parent``) runs."""
    found: dict[str, dict[str, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != parent:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if b"serve" in argv:
            target = argv[argv.index(b"serve") + 1].decode()
            found[target] = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
    return found


def test_service_processes_are_given_only_their_own_role(system: System) -> None:
    assert system.proc is not None
    children = _children_environments(system.proc.pid)
    assert set(SERVICES) <= children.keys(), children.keys()
    for service in SERVICES:
        env = children[service]
        urls = {key: value for key, value in env.items() if key.endswith("DATABASE_URL")}
        users = {psycopg.conninfo.conninfo_to_dict(url).get("user") for url in urls.values()}
        assert users == {db_roles.role_name(service)}, (service, urls)


# (service, statement, expected): what each role's work needs, and what it must never do.
MATRIX = [
    ("ingest", "SELECT count(*) FROM ingest.submission", "ok"),
    ("ingest", "INSERT INTO core.outbox (event_id, exchange, routing_key, body)"
               " VALUES (gen_random_uuid(), 'x', 'y', '')", "ok"),
    ("ingest", "SELECT siret FROM core.tenant", "ok"),
    ("ingest", "SELECT pa_secret_wrapped FROM core.tenant", "refused"),
    ("transmit", "SELECT pa_secret_wrapped FROM core.tenant", "ok"),
    ("metering", "SELECT pa_secret_wrapped FROM core.tenant", "refused"),
    ("portal", "SELECT pa_secret_wrapped FROM core.tenant", "refused"),
    ("portal", "SELECT name FROM core.tenant", "ok"),
    ("ingest", "SELECT wrapped_key FROM archive.tenant_key", "refused"),
    ("ingest", "SELECT sha256 FROM archive.invoice", "refused"),
    ("ingest", "UPDATE core.tenant SET active = true", "refused"),
    ("ingest", "SELECT count(*) FROM transmit.transmission", "refused"),
    ("archive", "SELECT count(*) FROM archive.tenant_key", "ok"),
    ("archive", "SELECT count(*) FROM archive.log_leaf", "ok"),
    ("archive", "UPDATE archive.invoice SET transmit = transmit", "ok"),
    ("archive", "UPDATE archive.log_leaf SET data = data", "refused"),
    ("archive", "DELETE FROM archive.log_leaf", "refused"),
    ("archive", "DELETE FROM archive.log_checkpoint", "refused"),
    ("archive", "TRUNCATE archive.log_leaf", "refused"),
    ("archive", "TRUNCATE archive.invoice", "refused"),
    ("archive", "SELECT count(*) FROM ingest.submission", "refused"),
    ("transmit", "SELECT count(*) FROM transmit.transmission", "ok"),
    ("transmit", "SELECT wrapped_key FROM archive.tenant_key", "ok"),
    ("transmit", "SELECT blob_key FROM archive.invoice", "ok"),
    ("transmit", "UPDATE archive.invoice SET transmit = transmit", "refused"),
    ("transmit", "DELETE FROM archive.tenant_key", "refused"),
    ("metering", "SELECT count(*) FROM metering.counted", "ok"),
    ("metering", "SELECT count(*) FROM archive.invoice", "ok"),
    ("metering", "SELECT wrapped_key FROM archive.tenant_key", "refused"),
    ("metering", "INSERT INTO metering.tenant_count (tenant) VALUES ('x')", "ok"),
    ("metering", "DELETE FROM core.outbox", "refused"),
]


# Nobody but the migration role changes the schema or hands out privileges.
DDL = [
    "CREATE TABLE {service}.intruder (x int)",
    "CREATE TABLE public.intruder (x int)",
    "CREATE SCHEMA intruder",
    "DROP TABLE core.outbox",
    "ALTER TABLE core.tenant ADD COLUMN x int",
    "ALTER ROLE CURRENT_USER CREATEROLE",
]


@pytest.mark.parametrize("service", SERVICES)
def test_each_role_may_do_its_work_and_nothing_more(system: System, service: str) -> None:
    expected = {statement: outcome for who, statement, outcome in MATRIX if who == service}
    expected.update({ddl.format(service=service): "refused" for ddl in DDL})
    url = db.service_url(_settings(system.infra), service)
    with psycopg.connect(url) as conn:
        user = conn.execute("SELECT current_user").fetchone()
        assert user == (db_roles.role_name(service),)
        seen = {statement: _outcome(conn, statement) for statement in expected}
    assert seen == expected


def test_a_service_role_sees_an_up_to_date_database_without_ddl_rights(system: System) -> None:
    # A service container that only has its own role's URL may still call migrate at start.
    url = db.service_url(_settings(system.infra), "ingest")
    assert db.migrate(url, roles=True) == []


def test_roles_are_created_once_under_concurrent_migrations(infra: Infra) -> None:
    """Several databases (test runs) creating the same cluster-wide role at once all succeed."""
    name = f"race_{uuid.uuid4().hex[:8]}"
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        try:
            with psycopg.connect(infra.admin_pg, autocommit=True) as conn:
                barrier.wait(timeout=30)
                db_roles.ensure_roles(conn, (name,))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors, errors
        with psycopg.connect(infra.admin_pg) as conn:
            assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s",
                                (db_roles.role_name(name),)).fetchone() == (1,)
    finally:
        with psycopg.connect(infra.admin_pg, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(
                sql.Identifier(db_roles.role_name(name))))
