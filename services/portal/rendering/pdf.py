"""``/invoices/{id}/pdf``: the PDF of an archived invoice, rendered once and cached encrypted.

* A Factur-X (or plain PDF) submission: its original bytes, SHA-256-checked by the vault.
* A CII or UBL submission: the readable PDF/A-3 of :mod:`.document`, made on first request.
  It is sealed like an original (``shared/vault``: a fresh data key wrapped by the tenant key,
  the ciphertext bound to ``(tenant, "<invoice_id>/rendering")`` so it can never pass for the
  original), its ciphertext in the blob store under its own key (the SHA-256 of that
  ciphertext, as for originals: no store is ever asked to overwrite a key with other bytes)
  and its wrapped key in ``portal.rendering``. Two first requests at once render once: the
  second waits on a transaction-scoped advisory lock, then reads the first one's row. The
  blob is written before the row commits, so there is never a row without its blob; a crash
  in between leaves an orphan ciphertext whose data key was never stored (unreadable by
  anyone), and the next request renders again.
* A purged (crypto-shredded) invoice: its ``invoice.purged`` event makes the portal's consumer
  call :func:`forget` (row and wrapped key, then blob), so the rendering is as gone as the
  original; a request arriving first gets :class:`DocumentShreddedError` and forgets it too.

The caller has already checked that the signed-in account may see the invoice; this module
does not look at accounts. Raises ``LookupError`` for an unknown invoice.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.portal.rendering.document import RENDERER_VERSION, render_pdf
from shared.errors import PermanentError
from shared.vault.blobstore import BlobStore
from shared.vault.document_sealer import DocumentShreddedError
from shared.vault.reader import Vault

_LOCK_CLASS = 7_420_050
# One rendering at a time per process: WeasyPrint is CPU-bound Python that holds the GIL, so
# parallel renderings would only slow the pages being served beside them.
_RENDERING = threading.Lock()
RENDERED_KINDS = frozenset({"cii", "ubl"})

Conn = psycopg.AsyncConnection[Any]


class RenderingIntegrityError(PermanentError):
    code = "sha256-mismatch"


def rendering_context(invoice_id: uuid.UUID) -> str:
    """The id the rendering's envelope is bound to (distinct from the original's)."""
    return f"{invoice_id}/rendering"


async def invoice_pdf(pool_or_conn: AsyncConnectionPool | Conn, vault: Vault,
                      invoice_id: uuid.UUID) -> bytes:
    """The invoice's PDF (module docstring). Commits its own cache row on first rendering."""
    if isinstance(pool_or_conn, AsyncConnectionPool):
        async with pool_or_conn.connection() as conn:
            return await _invoice_pdf(conn, vault, invoice_id)
    return await _invoice_pdf(pool_or_conn, vault, invoice_id)


async def _catalogue(conn: Conn, invoice_id: uuid.UUID) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT tenant, kind, profile, content_type, state, wrapped_data_key"
            " FROM archive.invoice WHERE invoice_id = %s", (invoice_id,))
        row = await cur.fetchone()
    if row is None:
        raise LookupError(f"no archived invoice has the id {invoice_id}.")
    return row


async def _cached(conn: Conn, vault: Vault, invoice_id: uuid.UUID) -> bytes | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT * FROM portal.rendering WHERE invoice_id = %s AND renderer_version = %s",
            (invoice_id, RENDERER_VERSION))
        row = await cur.fetchone()
    if row is None:
        return None
    ciphertext = await asyncio.to_thread(vault.blobs.get, row["blob_key"])
    pdf = await vault.sealer.open_document(
        conn, row["tenant"], rendering_context(invoice_id), ciphertext,
        bytes(row["wrapped_data_key"]), row["tenant_key_version"])
    if hashlib.sha256(pdf).hexdigest() != row["sha256"].strip():
        raise RenderingIntegrityError(f"rendering of {invoice_id} does not match its SHA-256")
    return pdf


async def forget(conn: Conn, blobs: BlobStore, invoice_id: uuid.UUID) -> int:
    """Destroy an invoice's renderings (on its purge): the rows with their wrapped data keys
    first (committed), then the ciphertexts. A crash in between leaves ciphertext whose key is
    gone everywhere — as unreadable as a crypto-shredded original. Returns the rows removed."""
    async with conn.transaction():
        cur = await conn.execute(
            "DELETE FROM portal.rendering WHERE invoice_id = %s RETURNING blob_key",
            (invoice_id,))
        keys = [r[0] for r in await cur.fetchall()]
    for key in keys:
        await asyncio.to_thread(blobs.delete, key)
    return len(keys)


async def _forget(conn: Conn, vault: Vault, invoice_id: uuid.UUID) -> None:
    await forget(conn, vault.blobs, invoice_id)


def _render_one_at_a_time(xml: bytes, profile: str | None) -> bytes:
    with _RENDERING:
        return render_pdf(xml, profile)


async def _invoice_pdf(conn: Conn, vault: Vault, invoice_id: uuid.UUID) -> bytes:
    row = await _catalogue(conn, invoice_id)
    if row["state"] != "archived" or row["wrapped_data_key"] is None:
        await _forget(conn, vault, invoice_id)
        raise DocumentShreddedError(f"invoice {invoice_id} was purged")
    if row["kind"] not in RENDERED_KINDS:
        original, _ = await vault.original(conn, invoice_id)
        return original
    cached = await _cached(conn, vault, invoice_id)
    if cached is not None:
        return cached
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                           (_LOCK_CLASS, str(invoice_id)))
        cached = await _cached(conn, vault, invoice_id)
        if cached is not None:
            return cached
        original, _ = await vault.original(conn, invoice_id)
        pdf = await asyncio.to_thread(_render_one_at_a_time, original, row["profile"])
        tenant = row["tenant"]
        sealed = await vault.sealer.seal_document(conn, tenant, rendering_context(invoice_id),
                                                  pdf)
        key = sealed.blob_key
        await asyncio.to_thread(vault.blobs.put, key, sealed.ciphertext)
        await conn.execute(
            "INSERT INTO portal.rendering (invoice_id, renderer_version, tenant, blob_key,"
            " wrapped_data_key, tenant_key_version, sha256, size_bytes)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (invoice_id, RENDERER_VERSION, tenant, key, sealed.wrapped_data_key,
             sealed.tenant_key_version, hashlib.sha256(pdf).hexdigest(), len(pdf)))
    return pdf
