"""The CLI's database access: migrate once, then a plain synchronous connection; and
``db migrate``, the one-shot job a deployment runs as the migration role before the services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import psycopg

from efacture.cli.output import emit, json_option
from shared import db
from shared.settings import get_settings


@contextmanager
def connection() -> Iterator[psycopg.Connection[Any]]:
    """A connection to the migrated database; commits on success, rolls back on error.

    The CLI is the operator's: it connects as the user of ``EFACTURE_DATABASE_URL`` (the
    migration role), not as a service role.
    """
    url = get_settings().database_url
    db.migrate(url)
    with psycopg.connect(url) as conn:
        yield conn


def register(cli: click.Group) -> None:
    @cli.group("db")
    def db_group() -> None:
        """The PostgreSQL schema and the services' roles."""

    @db_group.command("migrate")
    @json_option
    def migrate(as_json: bool) -> None:
        """Apply pending migrations, create the services' roles and (re)apply their grants;
        a role whose EFACTURE_<SERVICE>_DATABASE_URL carries a password gets that password."""
        settings = get_settings()
        passwords = db.role_passwords(settings)
        applied = db.migrate(settings.database_url, passwords=passwords or None)
        emit({"applied": applied, "passwords_set": sorted(passwords)}, as_json,
             lambda: click.echo(f"{len(applied)} migrations applied; roles granted"
                                + (f"; passwords set for {', '.join(sorted(passwords))}"
                                   if passwords else "")))
