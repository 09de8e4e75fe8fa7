"""The archive's read side: decrypt an original and check it against its fingerprint.

Used by ``efacture invoice get``, by transmit (claim check: transmit reads the document from
the archive instead of carrying it in messages) and by the portal's downloads. It only reads
the catalogue table (``archive.invoice``); archive alone writes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row

from shared import db
from shared.errors import PermanentError, RetryableError
from shared.settings import Settings, get_settings
from shared.vault.blob_factory import blob_store_from_settings
from shared.vault.blobstore import BlobNotFoundError, BlobStore
from shared.vault.document_sealer import DocumentSealer, DocumentShreddedError
from shared.vault.master_source import MasterKeySource


class IntegrityError(PermanentError):
    code = "sha256-mismatch"


async def _catalogue_row(
    conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID
) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM archive.invoice WHERE invoice_id = %s", (invoice_id,))
        return await cur.fetchone()


class Vault:
    """Decrypting reader over the catalogue and the blob store (one per process)."""

    def __init__(self, settings: Settings) -> None:
        self.sealer = DocumentSealer(MasterKeySource(settings))
        self.blobs: BlobStore = blob_store_from_settings(settings)

    async def original(
        self, conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID
    ) -> tuple[bytes, dict[str, Any]]:
        """The original bytes and the catalogue row; refuses bytes whose SHA-256 differs.

        Raises LookupError for an unknown invoice, ``DocumentShreddedError`` for a purged one,
        :class:`IntegrityError` when the decrypted bytes do not match the recorded SHA-256.
        """
        row = await _catalogue_row(conn, invoice_id)
        if row is None:
            raise LookupError(f"no archived invoice has the id {invoice_id}.")
        ciphertext = await self._ciphertext(row)
        wrapped = bytes(row["wrapped_data_key"]) if row["wrapped_data_key"] is not None else None
        data = await self.sealer.open_document(
            conn, row["tenant"], invoice_id, ciphertext, wrapped, row["tenant_key_version"]
        )
        if hashlib.sha256(data).hexdigest() != row["sha256"].strip():
            raise IntegrityError(
                f"invoice {invoice_id}: decrypted bytes do not match the archived SHA-256"
            )
        return data, row

    async def _ciphertext(self, row: dict[str, Any]) -> bytes:
        """The row's blob. Missing: ``DocumentShreddedError`` for a purged row; for a live row,
        retryable on a store whose objects can be briefly invisible (``missing_may_be_transient``:
        S3 while it restarts or replicates), else the store's permanent ``BlobNotFoundError``."""
        try:
            return await asyncio.to_thread(self.blobs.get, row["blob_key"])
        except BlobNotFoundError:
            if row["wrapped_data_key"] is None:
                raise DocumentShreddedError(f"invoice {row['invoice_id']} was purged") from None
            if getattr(self.blobs, "missing_may_be_transient", False):
                raise RetryableError(f"the blob of invoice {row['invoice_id']} is not visible",
                                     code="blob-not-visible") from None
            raise


def read_original(ident: str) -> tuple[bytes, str]:
    """CLI entry: (bytes, sha256) of an archived invoice; LookupError with a sentence otherwise."""
    try:
        invoice_id = uuid.UUID(ident)
    except ValueError:
        raise LookupError(f"{ident!r} is not an invoice id (a UUID).") from None
    settings = get_settings()
    db.migrate(settings.database_url)

    async def run() -> tuple[bytes, str]:
        vault = Vault(settings)
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            try:
                data, row = await vault.original(conn, invoice_id)
            except PermanentError as exc:
                raise LookupError(f"invoice {invoice_id} cannot be read: {exc}.") from exc
            except RetryableError as exc:
                raise LookupError(f"invoice {invoice_id} cannot be read now ({exc}); "
                                  "try again later.") from exc
        return data, row["sha256"].strip()

    return asyncio.run(run())
