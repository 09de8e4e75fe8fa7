"""``proof``, ``verify``, ``keys rotate``, ``purge``, ``export``: the archive's read side and
lifecycle (contract section 4). ``verify`` reads nothing but its arguments."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.progress import Progress

from efacture.cli.output import emit, fail, json_option, table

if TYPE_CHECKING:
    from shared.settings import Settings

T = TypeVar("T")


def _progress(label: str, total: int) -> tuple[AbstractContextManager[Any], Callable[[], None]]:
    """A progress bar on stderr (stdout stays one JSON document) and its step function."""
    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task(label, total=total)
    return bar, lambda: bar.advance(task)


def _log_keys(settings: Settings) -> tuple[Any, bytes]:
    """(log signing key, log.pub PEM); refuses to create a key that never signed anything."""
    from services.archive.adapters.log_key import existing_log_key, log_key_path
    from services.archive.domain.checkpoint import public_key_pem
    from shared.errors import PermanentError

    try:
        key = existing_log_key(settings)
    except PermanentError as exc:  # a configured key that is unreadable or not Ed25519
        fail(str(exc))
    if key is None:
        fail(f"no log key at {log_key_path(settings.data_dir)}: set EFACTURE_LOG_SIGNING_KEY"
             "(_FILE) or the EFACTURE_DATA_DIR the archive runs with")
    return key, public_key_pem(key.public_key())


def _run(make: Callable[..., Awaitable[T]], *, broker: bool = False) -> T:
    from efacture.cli.async_runtime import cli_runtime
    from shared.settings import get_settings

    async def go() -> T:
        async with cli_runtime(get_settings(), broker=broker) as rt:
            return await make(rt)

    return asyncio.run(go())


def run_export(siret: str, output: str, as_json: bool) -> dict[str, Any]:
    """Export ``siret``'s archive to ``output`` (a ZIP) with a progress bar; returns the summary.

    Exits with one sentence on stderr when the export cannot be made (``tenant stop`` then
    leaves the tenant open).
    """
    from services.archive.export import ExportKeys, count_invoices, export_tenant
    from services.archive.proofs import ProofError, tsa_chain_pem
    from shared import tenants
    from shared.errors import PermanentError
    from shared.settings import get_settings
    from shared.vault.blob_factory import blob_store_from_settings
    from shared.vault.document_sealer import DocumentSealer
    from shared.vault.master_key import MasterKeyError, load_master_key

    settings = get_settings()
    target = Path(output)
    if not target.parent.is_dir():
        fail(f"cannot write {output}: its directory does not exist.")
    try:
        signer, log_pub = _log_keys(settings)
        keys = ExportKeys(signer=signer, log_pub=log_pub, tsa_pem=tsa_chain_pem(settings))
        sealer = DocumentSealer(load_master_key(settings, generate=False))
    except (ProofError, MasterKeyError) as exc:
        fail(f"{exc}.")

    async def go(rt: Any) -> dict[str, Any]:
        async with rt.pool.connection() as conn:
            if await tenants.get(conn, siret) is None:
                raise LookupError(f"no tenant is registered with SIRET {siret}")
        bar, step = _progress(f"exporting {siret}", await count_invoices(rt.pool, siret))
        with bar:
            return await export_tenant(rt.pool, sealer, blob_store_from_settings(settings),
                                       keys, siret, target, step)

    try:
        return _run(go)
    except (ProofError, PermanentError, LookupError) as exc:
        fail(f"cannot export {siret}: {str(exc).rstrip('.')}.")


def register(cli: click.Group) -> None:
    @cli.command("proof")
    @click.argument("invoice_id")
    @click.option("-o", "output", required=True, type=click.Path(file_okay=False))
    @json_option
    def proof(invoice_id: str, output: str, as_json: bool) -> None:
        """Write the evidence bundle of an archived invoice into DIR."""
        from services.archive.domain.bundle import write_bundle
        from services.archive.proofs import (
            ProofError,
            build_bundle,
            parse_invoice_id,
            tsa_chain_pem,
        )
        from shared.settings import get_settings

        settings = get_settings()
        try:
            ident = parse_invoice_id(invoice_id)
            _signer, log_pub = _log_keys(settings)
            tsa_pem = tsa_chain_pem(settings)

            async def go(rt: Any) -> Any:
                async with rt.pool.connection() as conn:
                    return await build_bundle(conn, ident, tsa_pem, log_pub)

            bundle = _run(go)
        except ProofError as exc:
            fail(f"{exc}.")
        write_bundle(Path(output), bundle)
        files = sorted(bundle.files())
        emit({"invoice_id": invoice_id, "directory": output, "files": files,
              "log_index": bundle.inclusion.leaf_index, "tree_size": bundle.checkpoint.size},
             as_json, lambda: click.echo(f"wrote the evidence bundle of {invoice_id} to {output}/ "
                                         f"(entry {bundle.inclusion.leaf_index} of "
                                         f"{bundle.checkpoint.size})"))

    @cli.command("verify")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--proof", "proof_dir", required=True,
                  type=click.Path(exists=True, file_okay=False))
    @click.option("--log-key", "log_key", type=click.Path(exists=True, dir_okay=False),
                  help="The log's public key (PEM), obtained from the operator.")
    @click.option("--tsa-ca", "tsa_ca", type=click.Path(exists=True, dir_okay=False),
                  help="The TSA's root certificate (PEM), obtained from the operator.")
    @json_option
    def verify(file: str, proof_dir: str, log_key: str | None, tsa_ca: str | None,
               as_json: bool) -> None:
        """Check a document against its evidence bundle, offline, against the trust anchors."""
        from services.archive.domain.verify import verify as check
        from services.archive.domain.verify_report import ANCHOR_OPTIONS

        report = check(Path(file).read_bytes(), Path(proof_dir),
                       Path(log_key).read_bytes() if log_key else None,
                       Path(tsa_ca).read_bytes() if tsa_ca else None)

        def human() -> None:
            for c in report.checks:
                click.echo(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.sentence}")
            for name in report.missing_anchors:
                click.echo(f"MISSING {ANCHOR_OPTIONS[name]}: not given, origin not proven")

        emit({"ok": report.ok, "consistent": report.consistent, **report.model_dump(mode="json")},
             as_json, human)
        if not report.ok:
            fail(f"verification failed: {report.failure}.")

    @cli.group("keys")
    def keys() -> None:
        """Encryption keys of the archive."""

    @keys.command("export-trust")
    @click.option("-o", "output", required=True, type=click.Path(file_okay=False))
    @json_option
    def export_trust(output: str, as_json: bool) -> None:
        """Write log.pub and tsa-ca.pem, the trust anchors auditors verify bundles against."""
        from services.archive.adapters.tsa_trust import TsaTrustError, root_pem
        from shared.settings import get_settings
        from shared.vault.safe_files import PUBLIC, write_private

        settings = get_settings()
        _signer, log_pub = _log_keys(settings)
        try:
            ca = root_pem(settings)
        except TsaTrustError as exc:
            fail(f"{str(exc).rstrip('.')}.")
        directory = Path(output)
        directory.mkdir(parents=True, exist_ok=True)
        write_private(directory / "log.pub", log_pub, PUBLIC)
        write_private(directory / "tsa-ca.pem", ca, PUBLIC)
        emit({"directory": output, "files": ["log.pub", "tsa-ca.pem"]}, as_json,
             lambda: click.echo(f"wrote log.pub and tsa-ca.pem to {output}/: publish both for "
                                "auditors (efacture verify --log-key --tsa-ca)"))

    @keys.command("rotate")
    @click.option("--tenant", help="Rotate this tenant's key instead of the master key.")
    @json_option
    def rotate(tenant: str | None, as_json: bool) -> None:
        """Re-wrap keys under a new key; documents are not re-encrypted."""
        from services.archive.rotation import rotate_master, rotate_tenant
        from shared.settings import get_settings
        from shared.vault.master_key import MasterKeyError

        settings = get_settings()
        try:
            done = _run(lambda rt: rotate_tenant(rt.pool, settings, tenant) if tenant
                        else rotate_master(rt.pool, settings))
        except MasterKeyError as exc:
            fail(f"{str(exc).rstrip('.')}.")
        emit(done, as_json, lambda: click.echo(
            f"{done['rotated']} key rotated; {done['keys_rewrapped']} keys"
            + ("" if tenant else f" and {done['secrets_rewrapped']} PA secrets")
            + " re-wrapped, no document re-encrypted" + ("" if tenant else
            "; the running services use the new master key already")))

    @cli.command("purge")
    @click.option("--dry-run", is_flag=True, help="List and count, remove nothing.")
    @click.option("--force", is_flag=True, help="Allow purging more than the configured share.")
    @json_option
    def purge(dry_run: bool, force: bool, as_json: bool) -> None:
        """Remove the invoices whose retention has passed (crypto-shredding)."""
        from services.archive.purge import candidates, over_share, purge_all
        from shared.settings import get_settings
        from shared.vault.blob_factory import blob_store_from_settings

        settings = get_settings()

        async def go(rt: Any) -> list[Any]:
            async with rt.pool.connection() as conn:
                found = await candidates(conn, date.today())
                too_many = await over_share(conn, found, settings.purge_max_share)
            if dry_run:
                return found
            if too_many and not force:
                tenant, (n, total) = next(iter(sorted(too_many.items())))
                raise click.ClickException(
                    f"purging {n} of the {total} invoices of tenant {tenant} exceeds the "
                    f"allowed share ({settings.purge_max_share:.0%}); use --force")
            bar, step = _progress("purging", len(found))
            with bar:
                await purge_all(rt.pool, rt.publish, blob_store_from_settings(settings),
                                found, lambda _c: step())
            return found

        try:
            found = _run(go, broker=not dry_run)
        except click.ClickException as exc:
            fail(f"{exc.message}.")
        rows = [c.public() for c in found]
        emit({"dry_run": dry_run, "count": len(rows), "invoices": rows}, as_json, lambda: table(
            f"{'to purge' if dry_run else 'purged'}: {len(rows)}",
            ["invoice_id", "tenant", "invoice_number", "retain_until"],
            [[r["invoice_id"], r["tenant"], r["invoice_number"], r["retain_until"]]
             for r in rows]))

    @cli.command("export")
    @click.argument("siret")
    @click.option("-o", "output", required=True, type=click.Path(dir_okay=False))
    @json_option
    def export(siret: str, output: str, as_json: bool) -> None:
        """Export a tenant's whole archive (originals, proofs, signed manifest) to FILE.zip."""
        summary = run_export(siret, output, as_json)
        emit(summary, as_json, lambda: click.echo(
            f"exported {summary['count']} invoices of {siret} to {output}"))
