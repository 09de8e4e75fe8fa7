"""Key rotation (``efacture keys rotate``): re-wrap keys, never re-encrypt a document.

Two levels of the envelope can rotate:

- the master key (:func:`rotate_master`): a new file-held master key; every tenant key and
  every tenant's sealed PA secret is re-wrapped under it, then the previous key is forgotten
  — only once no row names it any more. Running services follow the key files
  (:class:`~shared.vault.master_source.MasterKeySource`): they wrap new material under the
  new key as soon as it exists and open re-wrapped rows at once, without a restart. A row a
  service wrapped under the old key just before it noticed is caught by the next pass; if
  rows still name the old key after the last pass, the old key is kept and the rotation
  refused with a sentence (run it again: it resumes).
- one tenant's key (:func:`rotate_tenant`): a new active tenant-key version, then every
  data key of the tenant's live documents is re-wrapped under it, in batches. The previous
  version stays (inactive) until every data key has moved, so a crash mid-way loses nothing
  and running services keep working.

Blobs (the ciphertexts) are never read or written here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from shared.settings import Settings
from shared.vault import keyring, secrets
from shared.vault.document_sealer import DocumentSealer
from shared.vault.envelope import DecryptFailedError
from shared.vault.master_key import (
    MasterKey,
    MasterKeyError,
    finish_master_rotation,
    load_master_key,
    rotate_master_key,
)

BATCH = 500
PASSES = 5
PASS_PAUSE_S = 0.5  # lets a service finish a write it began under the old key


class RotationIncompleteError(MasterKeyError):
    """Rows still name the old master key: it is kept, and the rotation can be run again."""

    code = "rotation-incomplete"


async def _naming(pool: AsyncConnectionPool, old: MasterKey) -> int:
    async with pool.connection() as conn:
        return await keyring.count_wrapped_by(conn, old.key_id) + await secrets.count_naming(
            conn, old)


async def rotate_master(
    pool: AsyncConnectionPool, settings: Settings,
    after_pass: Callable[[MasterKey], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Rotate the file-held master key; raises :class:`MasterKeyError` when it is not one,
    :class:`RotationIncompleteError` when rows still name the old key after every pass.

    ``after_pass`` (tests) runs after each re-wrap pass with the old key, as a service that
    has not noticed the rotation yet would.
    """
    if settings.master_key or settings.master_key_file:
        raise MasterKeyError(
            "the master key comes from EFACTURE_MASTER_KEY(_FILE), so only its operator can "
            "rotate it; unset it to use a key file under EFACTURE_DATA_DIR/keys")
    load_master_key(settings, generate=False)  # refuses a missing key file, never makes one
    old, new = rotate_master_key(Path(settings.data_dir))
    keys = sealed = left = 0
    unreadable: list[str] = []
    for attempt in range(PASSES):
        try:
            async with pool.connection() as conn, conn.transaction():
                keys += await keyring.rewrap_all(conn, old, new)
                done, unreadable = await secrets.rewrap_secrets(conn, old, new)
                sealed += done
        except DecryptFailedError as exc:
            raise RotationIncompleteError(
                f"a tenant key wrapped by the old master key {old.key_id} does not open ({exc}), "
                "so the old key is kept in master.key.old; nothing was lost") from exc
        if after_pass is not None:
            await after_pass(old)
        left = await _naming(pool, old)
        if not left:
            break
        if attempt < PASSES - 1:
            await asyncio.sleep(PASS_PAUSE_S)
    if left:
        raise RotationIncompleteError(
            f"{left} rows still name the old master key {old.key_id}, so it is kept in "
            "master.key.old and every service still opens them; run efacture keys rotate again")
    finish_master_rotation(Path(settings.data_dir))
    return {"rotated": "master", "old_key_id": old.key_id, "new_key_id": new.key_id,
            "keys_rewrapped": keys, "secrets_rewrapped": sealed,
            "secrets_unreadable": unreadable, "documents_reencrypted": 0}


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
