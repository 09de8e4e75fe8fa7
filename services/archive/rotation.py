"""Key rotation (``efacture keys rotate``): re-wrap keys, never re-encrypt a document.

Two levels of the envelope can rotate:

- the master key (:func:`rotate_master`): a new file-held master key; every tenant key is
  re-wrapped under it in one transaction, then the previous key is forgotten. Services that
  are running still hold the previous key and must be restarted to load the new one.
- one tenant's key (:func:`rotate_tenant`): a new active tenant-key version, then every
  data key of the tenant's live documents is re-wrapped under it, in batches. The previous
  version stays (inactive) until every data key has moved, so a crash mid-way loses nothing
  and running services keep working.

Blobs (the ciphertexts) are never read or written here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from shared.settings import Settings
from shared.vault import keyring
from shared.vault.document_sealer import DocumentSealer
from shared.vault.master_key import (
    MasterKeyError,
    finish_master_rotation,
    load_master_key,
    rotate_master_key,
)

BATCH = 500


async def rotate_master(pool: AsyncConnectionPool, settings: Settings) -> dict[str, Any]:
    """Rotate the file-held master key; raises :class:`MasterKeyError` when it is not one."""
    if settings.master_key:
        raise MasterKeyError(
            "the master key comes from EFACTURE_MASTER_KEY, so only its operator can rotate "
            "it; unset it to use a key file under EFACTURE_DATA_DIR/keys")
    load_master_key(settings, generate=False)  # refuses a missing key file, never makes one
    old, new = rotate_master_key(Path(settings.data_dir))
    async with pool.connection() as conn, conn.transaction():
        count = await keyring.rewrap_all(conn, old, new)
    finish_master_rotation(Path(settings.data_dir))
    return {"rotated": "master", "old_key_id": old.key_id, "new_key_id": new.key_id,
            "keys_rewrapped": count, "documents_reencrypted": 0}


async def rotate_tenant(
    pool: AsyncConnectionPool, settings: Settings, tenant: str
) -> dict[str, Any]:
    """New key version for ``tenant``; re-wrap the data keys of its live documents."""
    master = load_master_key(settings, generate=False)
    sealer = DocumentSealer(master)
    async with pool.connection() as conn, conn.transaction():
        key = await keyring.rotate_tenant_key(conn, master, tenant)
    moved = 0
    while True:
        async with pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT invoice_id, wrapped_data_key, tenant_key_version FROM archive.invoice"
                " WHERE tenant = %s AND wrapped_data_key IS NOT NULL"
                " AND tenant_key_version <> %s ORDER BY log_index LIMIT %s"
                " FOR UPDATE SKIP LOCKED",
                (tenant, key.version, BATCH),
            )
            rows = await cur.fetchall()
            for invoice_id, wrapped, version in rows:
                new_wrapped, new_version = await sealer.rewrap_data_key(
                    conn, tenant, invoice_id, bytes(wrapped), int(version))
                await conn.execute(
                    "UPDATE archive.invoice SET wrapped_data_key = %s, tenant_key_version = %s"
                    " WHERE invoice_id = %s",
                    (new_wrapped, new_version, invoice_id),
                )
        moved += len(rows)
        if len(rows) < BATCH:
            break
    return {"rotated": "tenant", "tenant": tenant, "tenant_key_version": key.version,
            "keys_rewrapped": moved, "documents_reencrypted": 0}
