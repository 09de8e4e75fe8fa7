"""Export of one tenant's whole archive to a ZIP (``efacture export``, ``tenant stop``).

Layout (contract section 4): ``documents/<invoice_id>.<ext>`` (originals, byte for byte),
``proofs/<invoice_id>/`` (the six bundle files, as ``proof`` writes them), ``manifest.json``
(one entry per invoice, in log order), ``manifest.sig`` (raw 64-byte Ed25519 signature of
``manifest.json`` by the log key: ``openssl pkeyutl -verify -pubin -inkey log.pub -rawin
-in manifest.json -sigfile manifest.sig``), ``checkpoint.json`` and ``log.pub``.

Memory stays bounded whatever the archive's size: invoices come from a server-side cursor,
each document and bundle is written to the ZIP as soon as it is read, the manifest is
spooled to a temporary file (signed through ``mmap``, so the signature needs no copy in the
heap) and the ZIP's central directory is spooled too (:mod:`services.archive.zip_stream`).
The ZIP is written beside ``output`` and renamed into place only when complete.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mmap
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.archive.adapters import merkle_store
from services.archive.domain import merkle
from services.archive.domain.checkpoint import Checkpoint, sign_checkpoint
from services.archive.proofs import ProofError, bundle_for_row
from services.archive.zip_stream import ZipStream
from shared.vault.blobstore import BlobStore
from shared.vault.document_sealer import DocumentSealer

_ROWS = (
    "SELECT invoice_id, tenant, invoice_number, issue_date, recipient_id, sha256, blob_key,"
    " wrapped_data_key, tenant_key_version, tsa_token, log_index, content_type"
    " FROM archive.invoice WHERE tenant = %s AND state = 'archived' AND log_index < %s"
    " ORDER BY log_index"
)
_EXTENSIONS = {"application/pdf": "pdf", "application/xml": "xml", "text/xml": "xml"}


@dataclass(frozen=True)
class ExportKeys:
    """What signs the export: the log's private key and its public PEM, and the TSA chain."""

    signer: Any
    log_pub: bytes
    tsa_pem: bytes


def document_name(invoice_id: Any, content_type: str) -> str:
    return f"documents/{invoice_id}.{_EXTENSIONS.get(content_type.split(';')[0], 'bin')}"


async def count_invoices(pool: AsyncConnectionPool, tenant: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM archive.invoice WHERE tenant = %s AND state = 'archived'",
            (tenant,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _fresh_checkpoint(pool: AsyncConnectionPool, signer: Any) -> Checkpoint:
    """A checkpoint covering the whole log now (signed here if the archive has not yet)."""
    async with pool.connection() as conn, conn.transaction():
        await merkle_store.checkpoint(conn, signer)
    async with pool.connection() as conn:
        latest = await merkle_store.latest_checkpoint(conn)
    if latest is None:  # an empty log: its signed head says so (size 0, the empty root)
        return sign_checkpoint(signer, 0, merkle.empty_root(), datetime.now(UTC))
    return latest


async def export_tenant(
    pool: AsyncConnectionPool, sealer: DocumentSealer, blobs: BlobStore, keys: ExportKeys,
    tenant: str, output: Path, on_invoice: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Write the tenant's archive to ``output``; returns a summary of what was written.

    Raises :class:`ProofError` when no checkpoint can be had, and the sealer's errors when a
    document does not decrypt to its recorded SHA-256 (the partial file is removed).
    """
    checkpoint = await _fresh_checkpoint(pool, keys.signer)
    part = output.with_name(f".{output.name}.{os.getpid()}.part")
    part.unlink(missing_ok=True)  # a leftover (or a planted link): ZipStream creates it afresh
    try:
        with ZipStream(part) as zf, tempfile.TemporaryFile() as manifest:
            manifest.write(b"[")
            count = await _stream(zf, manifest, pool, sealer, blobs, keys, checkpoint, tenant,
                                  on_invoice)
            manifest.write(b"\n]\n" if count else b"]\n")
            manifest.flush()
            manifest.seek(0)
            zf.write_file("manifest.json", manifest)
            with mmap.mmap(manifest.fileno(), 0, access=mmap.ACCESS_READ) as view:
                zf.write("manifest.sig", keys.signer.sign(view))
            zf.write("checkpoint.json", checkpoint.to_json_bytes())
            zf.write("log.pub", keys.log_pub)
        size = zf.size
        os.replace(part, output)
    finally:
        part.unlink(missing_ok=True)
    return {"tenant": tenant, "file": str(output), "count": count,
            "checkpoint_size": checkpoint.size, "bytes": size}


async def _stream(
    zf: ZipStream, manifest: BinaryIO, pool: AsyncConnectionPool, sealer: DocumentSealer,
    blobs: BlobStore, keys: ExportKeys, checkpoint: Checkpoint, tenant: str,
    on_invoice: Callable[[], None] | None,
) -> int:
    """Write every covered invoice of ``tenant``; the manifest entries go to ``manifest``."""
    count = 0
    # Two connections: the server-side cursor holds one inside its transaction, the key and
    # log look-ups run on the other.
    async with (
        pool.connection() as cconn, pool.connection() as lconn, cconn.transaction(),
        cconn.cursor(name="efacture_export", row_factory=dict_row) as cur,
    ):
        await cur.execute(_ROWS, (tenant, checkpoint.size))
        async for row in cur:
            entry = await _write_invoice(zf, lconn, sealer, blobs, keys, checkpoint, row)
            manifest.write(b"," if count else b"")
            manifest.write(b"\n  " + json.dumps(entry, sort_keys=True).encode())
            count += 1
            if on_invoice is not None:
                on_invoice()
    return count


async def _write_invoice(zf: ZipStream, conn: Any, sealer: DocumentSealer, blobs: BlobStore,
                         keys: ExportKeys, checkpoint: Checkpoint,
                         row: dict[str, Any]) -> dict[str, Any]:
    invoice_id, sha256 = row["invoice_id"], row["sha256"].strip()
    ciphertext = await asyncio.to_thread(blobs.get, row["blob_key"])
    wrapped = bytes(row["wrapped_data_key"]) if row["wrapped_data_key"] is not None else None
    data = await sealer.open_document(conn, row["tenant"], invoice_id, ciphertext, wrapped,
                                      row["tenant_key_version"])
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ProofError(f"invoice {invoice_id} does not decrypt to its archived SHA-256; "
                         "the export was stopped")
    path = document_name(invoice_id, row["content_type"])
    zf.write(path, data)
    bundle = await bundle_for_row(conn, row, checkpoint, keys.tsa_pem, keys.log_pub)
    for name, content in bundle.files().items():
        zf.write(f"proofs/{invoice_id}/{name}", content)
    return {
        "invoice_id": str(invoice_id), "invoice_number": row["invoice_number"],
        "issue_date": row["issue_date"].isoformat() if row["issue_date"] else None,
        "recipient_id": row["recipient_id"], "sha256": sha256,
        "log_index": int(row["log_index"]), "path": path,
    }
