"""The ``efacture`` command (contract section 4)."""

from __future__ import annotations

import os
import sys
import traceback

import click
import psycopg
from pydantic import ValidationError

from efacture.cli import (
    admin,
    archive_cmds,
    bench,
    dbconn,
    dlq,
    invoice,
    lifecycle,
    ops,
    portal_user,
    serve,
    status,
    submit,
    tenant,
    usage,
    validate,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """efacture: e-invoicing broker (ingest, archive, transmit, metering)."""


for module in (serve, tenant, submit, status, invoice, archive_cmds, usage, ops, admin, dlq, bench,
               lifecycle, dbconn, validate, portal_user):
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
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last resort: one sentence, the traceback on demand
        if os.environ.get("EFACTURE_DEBUG"):
            traceback.print_exc()
        click.echo(f"efacture: unexpected {type(exc).__name__}: {exc} "
                   "(set EFACTURE_DEBUG=1 for the traceback).", err=True)
        sys.exit(1)
