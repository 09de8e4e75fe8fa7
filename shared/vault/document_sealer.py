"""What the archive handler calls to encrypt and decrypt documents (envelope encryption).

The sealer returns ciphertext and a wrapped data key; it stores neither. The caller puts the
ciphertext in the blob store (key: :attr:`SealedDocument.blob_key`) and the wrapped data key and
tenant-key version in the catalogue row. Crypto-shredding a document = setting its wrapped data
key to NULL: :meth:`DocumentSealer.open_document` then raises :class:`DocumentShreddedError`
and no key anywhere can recover the ciphertext. No plaintext byte is written anywhere here.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shared.errors import PermanentError
from shared.vault import keyring
from shared.vault.blob_key import blob_key
from shared.vault.envelope import (
    data_key_context,
    new_data_key,
    open_,
    seal,
    unwrap,
    wrap,
)
from shared.vault.keyring import Conn, KeyCache
from shared.vault.master_key import MasterKeys


class DocumentShreddedError(PermanentError):
    """The document's data key was destroyed (purge): it can never be decrypted again."""

    code = "shredded"


@dataclass(frozen=True, repr=False)
class SealedDocument:
    """A document encrypted under its own data key, that key wrapped by the tenant key."""

    ciphertext: bytes
    wrapped_data_key: bytes
    tenant_key_version: int

    @property
    def blob_key(self) -> str:
        """Content address of the ciphertext (SHA-256 hex): the blob-store key, different
        for every sealing (fresh data key), so no attempt ever overwrites another's blob."""
        return blob_key(self.ciphertext)

    def __repr__(self) -> str:
        return (
            f"SealedDocument(blob_key={self.blob_key!r}, bytes={len(self.ciphertext)}, "
            f"tenant_key_version={self.tenant_key_version})"
        )


class DocumentSealer:
    """Seals and opens documents with the tenant keys of ``archive.tenant_key``.

    One instance per process (it holds the master key and the tenant-key cache). Methods
    take a connection inside the caller's transaction and never commit.
    """

    def __init__(self, master: MasterKeys, cache: KeyCache | None = None) -> None:
        self._master = master
        self._cache = cache if cache is not None else KeyCache()

    async def seal_document(
        self, conn: Conn, tenant: str, invoice_id: str | UUID, plaintext: bytes
    ) -> SealedDocument:
        """Encrypt under a fresh data key bound to (tenant, invoice_id); creates the tenant
        key on first use (committed with the caller's transaction)."""
        tk = await keyring.tenant_key(conn, self._master, tenant, cache=self._cache)
        data_key = new_data_key()
        return SealedDocument(
            ciphertext=seal(plaintext, data_key, tenant=tenant, invoice_id=invoice_id),
            wrapped_data_key=wrap(data_key, tk.key, context=data_key_context(tenant, invoice_id)),
            tenant_key_version=tk.version,
        )

    async def open_document(
        self,
        conn: Conn,
        tenant: str,
        invoice_id: str | UUID,
        ciphertext: bytes,
        wrapped_data_key: bytes | None,
        tenant_key_version: int,
    ) -> bytes:
        """The original bytes.

        Raises :class:`DocumentShreddedError` if ``wrapped_data_key`` is None,
        ``envelope.DecryptFailedError`` if the ciphertext or key belongs to another
        tenant/invoice or was altered, ``LookupError`` if the tenant-key version is gone.
        """
        data_key = await self._data_key(
            conn, tenant, invoice_id, wrapped_data_key, tenant_key_version
        )
        return open_(ciphertext, data_key, tenant=tenant, invoice_id=invoice_id)

    async def rewrap_data_key(
        self,
        conn: Conn,
        tenant: str,
        invoice_id: str | UUID,
        wrapped_data_key: bytes | None,
        tenant_key_version: int,
    ) -> tuple[bytes, int]:
        """Re-wrap a data key under the tenant's active key (after ``rotate_tenant_key``).

        Returns ``(wrapped_data_key, tenant_key_version)`` for the catalogue row; the
        ciphertext is unchanged.
        """
        data_key = await self._data_key(
            conn, tenant, invoice_id, wrapped_data_key, tenant_key_version
        )
        tk = await keyring.tenant_key(conn, self._master, tenant, cache=self._cache)
        return wrap(data_key, tk.key, context=data_key_context(tenant, invoice_id)), tk.version

    async def _data_key(
        self,
        conn: Conn,
        tenant: str,
        invoice_id: str | UUID,
        wrapped_data_key: bytes | None,
        tenant_key_version: int,
    ) -> bytes:
        if wrapped_data_key is None:
            raise DocumentShreddedError(f"invoice {invoice_id} was crypto-shredded")
        tk = await keyring.tenant_key_version(
            conn, self._master, tenant, tenant_key_version, cache=self._cache
        )
        return unwrap(wrapped_data_key, tk.key, context=data_key_context(tenant, invoice_id))
