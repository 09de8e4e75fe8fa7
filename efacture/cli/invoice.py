"""``invoice list | get``: the archive catalogue."""

from __future__ import annotations

import click

from efacture.cli.output import emit, fail, json_option, table


def register(cli: click.Group) -> None:
    @cli.group()
    def invoice() -> None:
        """The archive catalogue."""

    @invoice.command("list")
    @click.option("--tenant", required=True)
    @click.option("--recipient")
    @json_option
    def list_(tenant: str, recipient: str | None, as_json: bool) -> None:
        """A tenant's archived invoices (optionally one recipient's)."""
        from efacture.cli.dbconn import connection
        from services.archive.adapters.catalogue import list_invoices

        with connection() as conn:
            rows = list_invoices(conn, tenant, recipient)
        emit(rows, as_json, lambda: table(
            f"invoices of {tenant}",
            ["invoice_id", "number", "issue_date", "recipient", "sha256", "archived_at", "state"],
            [[r["invoice_id"], r["invoice_number"], r["issue_date"], r["recipient_name"]
              or r["recipient_id"], r["sha256"][:16] + "…", r["archived_at"], r["state"]]
             for r in rows]))

    @invoice.command("get")
    @click.argument("invoice_id")
    @click.option("-o", "output", required=True, type=click.Path(dir_okay=False))
    @json_option
    def get(invoice_id: str, output: str, as_json: bool) -> None:
        """Decrypt an archived invoice, check its SHA-256 and write the original bytes."""
        from shared.vault.reader import read_original

        try:
            data, sha = read_original(invoice_id)
        except LookupError as exc:
            fail(str(exc))
        from shared.vault.safe_files import write_private

        try:  # 0600, and a symlink at OUTPUT is replaced, never followed
            write_private(output, data)
        except OSError as exc:
            fail(f"cannot write {output} ({exc.strerror}).")
        emit({"invoice_id": invoice_id, "file": output, "sha256": sha, "bytes": len(data)}, as_json,
             lambda: click.echo(f"wrote {output} ({len(data)} bytes, SHA-256 {sha} verified)"))
