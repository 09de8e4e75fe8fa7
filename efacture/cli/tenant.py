"""``tenant add | list | stop | set-credentials``."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from efacture.cli.dbconn import connection
from efacture.cli.output import emit, fail, json_option, printable, table
from services.ingest.domain.siret import siret_ok
from shared import tenants


def register(cli: click.Group) -> None:
    @cli.group()
    def tenant() -> None:
        """Tenants (issuers) and their subscriptions."""

    @tenant.command("add")
    @click.argument("siret")
    @click.option("--name", required=True)
    @click.option("--subscribed-on", "subscribed_on", required=True,
                  type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--sandbox", is_flag=True, help="Test account: fake identifiers allowed.")
    @json_option
    def add(siret: str, name: str, subscribed_on: object, sandbox: bool, as_json: bool) -> None:
        """Register a tenant (refuses a SIRET failing the Luhn check unless --sandbox)."""
        if not tenants.SIRET_RE.match(siret):
            fail(f"{siret!r} is not a SIRET: a SIRET has exactly 14 digits.")
        if not sandbox and not siret_ok(siret):
            fail(f"SIRET {siret} fails the Luhn check digit; use --sandbox for a test account.")
        day = subscribed_on.date() if hasattr(subscribed_on, "date") else date.today()
        with connection() as conn:
            t = tenants.add(conn, siret, name, day, sandbox)
        emit(t.public(), as_json, lambda: click.echo(
            f"tenant {t.siret} ({printable(t.name)}) registered, subscribed on {t.subscribed_on}"
            + (" [sandbox]" if t.sandbox else "")))

    @tenant.command("list")
    @json_option
    def list_(as_json: bool) -> None:
        """List tenants."""
        with connection() as conn:
            rows = [t.public() for t in tenants.list_all(conn)]
        emit(rows, as_json, lambda: table(
            "tenants", ["siret", "name", "subscribed_on", "sandbox", "active"],
            [[r["siret"], r["name"], r["subscribed_on"], r["sandbox"], r["active"]] for r in rows]))

    @tenant.command("stop")
    @click.argument("siret")
    @click.option("-o", "output", required=True, type=click.Path(dir_okay=False))
    @json_option
    def stop(siret: str, output: str, as_json: bool) -> None:
        """Export the tenant's archive to FILE.zip, then close the tenant."""
        from efacture.cli.archive_cmds import run_export

        with connection() as conn:
            if tenants.get_sync(conn, siret) is None:
                fail(f"no tenant is registered with SIRET {siret}.")
        summary = run_export(siret, output, as_json)
        with connection() as conn:
            tenants.stop(conn, siret)
        emit({**summary, "tenant": siret, "stopped": True}, as_json,
             lambda: click.echo(f"tenant {siret} exported to {output} and stopped"))

    @tenant.command("set-credentials")
    @click.argument("siret")
    @click.option("--client-id", required=True)
    @click.option("--client-secret", default=None,
                  help="The secret; `-` reads it from stdin, which keeps it out of the process "
                       "list and the shell history.")
    @click.option("--client-secret-file", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="Read the secret from this file (one line).")
    @json_option
    def set_credentials(siret: str, client_id: str, client_secret: str | None,
                        client_secret_file: Path | None, as_json: bool) -> None:
        """Store the tenant's PA client credentials (the secret encrypted)."""
        from services.transmit.adapters.credentials import seal_secret

        client_secret = _read_secret(client_secret, client_secret_file)

        with connection() as conn:
            if tenants.get_sync(conn, siret) is None:
                fail(f"no tenant is registered with SIRET {siret}.")
            tenants.set_credentials(conn, siret, client_id, seal_secret(siret, client_secret))
        emit({"tenant": siret, "client_id": client_id, "stored": True}, as_json,
             lambda: click.echo(f"credentials stored for {siret} (secret encrypted)"))


def _read_secret(value: str | None, path: Path | None) -> str:
    """The secret from exactly one of ``--client-secret VALUE|-`` and ``--client-secret-file``.

    A trailing newline (``echo``, an editor) is not part of the secret. Usage errors exit 2.
    """
    if (value is None) == (path is None):
        raise click.UsageError("give exactly one of --client-secret and --client-secret-file.")
    if path is not None:
        try:
            secret = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"cannot read the secret from {path}: {exc}.") from exc
    elif value == "-":
        secret = sys.stdin.read()
    else:
        click.echo("efacture: note: a secret on the command line is visible to other local "
                   "users; prefer --client-secret - or --client-secret-file.", err=True)
        secret = value or ""
    secret = secret.rstrip("\r\n")
    if not secret:
        raise click.UsageError("the client secret is empty.")
    return secret
