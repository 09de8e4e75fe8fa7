"""The ``efacture`` command (contract section 4)."""

from __future__ import annotations

import sys

import click
import psycopg
from pydantic import ValidationError

from efacture.cli import admin, archive_cmds, invoice, ops, serve, status, submit, tenant, usage


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """efacture: e-invoicing broker (ingest, archive, transmit, metering)."""


for module in (serve, tenant, submit, status, invoice, archive_cmds, usage, ops, admin):
    module.register(cli)


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "connection failed"
        click.echo(f"efacture: cannot reach PostgreSQL ({first}).", err=True)
        sys.exit(1)
    except ValidationError as exc:
        click.echo(f"efacture: invalid settings: {exc.errors()[0]['msg']}.", err=True)
        sys.exit(2)
