"""Tenant keys in ``archive.tenant_key``, wrapped by the master key; the document sealer.

Every function takes an :class:`psycopg.AsyncConnection` already inside the caller's
transaction and never commits: a tenant key created on first use commits (or rolls back)
with the caller's archive write.

Caching: unwrapped tenant keys are memoised per process in a bounded :class:`KeyCache`,
keyed by the *wrapped* bytes and their context. The row itself is still read on every call
(one primary-key lookup): a cache keyed on the tenant alone could keep a key whose creating
transaction rolled back while another process committed a different key for the same
version, and documents sealed under it would be lost.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import psycopg

from shared.errors import RetryableError
from shared.vault.envelope import new_data_key, tenant_key_context, unwrap, wrap
from shared.vault.master_key import MasterKey, MasterKeys

Conn = psycopg.AsyncConnection[Any]


class MasterKeyMismatchError(RetryableError):
    """A tenant key was wrapped by a master key this process does not hold.

    Retryable: the invoice is fine, the deployment is misconfigured (wrong
    ``EFACTURE_MASTER_KEY`` or key file); once fixed, the message succeeds.
    """

    code = "master-key-mismatch"


@dataclass(frozen=True, repr=False)
class TenantKey:
    """A tenant's unwrapped key of one version (key material: never logged)."""

    tenant: str
    version: int
    key: bytes

    def __repr__(self) -> str:
        return f"TenantKey(tenant={self.tenant!r}, version={self.version})"


class KeyCache:
    """Bounded LRU of unwrapped tenant keys; one per process, owned by the composition root."""

    def __init__(self, maxsize: int = 1024) -> None:
        self._maxsize = maxsize
        self._items: OrderedDict[tuple[str, int, str, bytes], bytes] = OrderedDict()

    def unwrap(
        self, master: MasterKeys, tenant: str, version: int, wrapped: bytes, mkid: str
    ) -> bytes:
        """Unwrap (or recall) a tenant key; raises :class:`MasterKeyMismatchError`."""
        slot = (tenant, version, mkid, wrapped)
        found = self._items.get(slot)
        if found is not None:
            self._items.move_to_end(slot)
            return found
        key = _unwrap_row(master, tenant, version, wrapped, mkid)
        self._items[slot] = key
        if len(self._items) > self._maxsize:
            self._items.popitem(last=False)
        return key

    def __len__(self) -> int:
        return len(self._items)


def _unwrap_row(master: MasterKeys, tenant: str, version: int, wrapped: bytes, mkid: str) -> bytes:
    # A source re-reads the key file on an unknown id: a rotation is picked up without restart.
    holder = master.holding(mkid)
    if holder is None:
        raise MasterKeyMismatchError(
            f"tenant key {tenant} v{version} is wrapped by master key {mkid}, "
            f"but this process holds {master.current().key_id}"
        )
    return unwrap(wrapped, holder.key, context=tenant_key_context(tenant, version))


_ACTIVE = (
    "SELECT version, wrapped_key, master_key_id FROM archive.tenant_key"
    " WHERE tenant = %s AND active"
)
_VERSION = (
    "SELECT version, wrapped_key, master_key_id FROM archive.tenant_key"
    " WHERE tenant = %s AND version = %s"
)
_INSERT = (
    "INSERT INTO archive.tenant_key (tenant, version, wrapped_key, master_key_id, active)"
    " VALUES (%s, %s, %s, %s, true) ON CONFLICT DO NOTHING"
)


async def _fetch(conn: Conn, query: str, params: tuple[Any, ...]) -> tuple[int, bytes, str] | None:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]), str(row[2]))


async def _insert_version(conn: Conn, master: MasterKeys, tenant: str, version: int) -> None:
    current = master.current()
    wrapped = wrap(new_data_key(), current.key, context=tenant_key_context(tenant, version))
    await conn.execute(_INSERT, (tenant, version, wrapped, current.key_id))


def _key(
    master: MasterKeys, cache: KeyCache | None, tenant: str, row: tuple[int, bytes, str]
) -> TenantKey:
    version, wrapped, mkid = row
    if cache is not None:
        return TenantKey(tenant, version, cache.unwrap(master, tenant, version, wrapped, mkid))
    return TenantKey(tenant, version, _unwrap_row(master, tenant, version, wrapped, mkid))


async def tenant_key(
    conn: Conn, master: MasterKeys, tenant: str, *, cache: KeyCache | None = None
) -> TenantKey:
    """The tenant's active key, created (version 1, or next) on first use.

    Race-safe: concurrent first uses insert with ``ON CONFLICT DO NOTHING`` and then read the
    one row that won, so every caller gets the same key once the winner commits.
    """
    row = await _fetch(conn, _ACTIVE, (tenant,))
    if row is None:
        cur = await conn.execute(
            "SELECT coalesce(max(version), 0) FROM archive.tenant_key WHERE tenant = %s",
            (tenant,),
        )
        latest = await cur.fetchone()
        await _insert_version(conn, master, tenant, int(latest[0]) + 1 if latest else 1)
        row = await _fetch(conn, _ACTIVE, (tenant,))
        if row is None:  # the winner's version was rotated away meanwhile: rare, retry
            raise RetryableError(f"tenant key of {tenant} changed concurrently", code="key-race")
    return _key(master, cache, tenant, row)


async def tenant_key_version(
    conn: Conn, master: MasterKeys, tenant: str, version: int, *, cache: KeyCache | None = None
) -> TenantKey:
    """A given version of the tenant's key (active or not), to open older documents.

    Raises :class:`LookupError` if that version does not exist (e.g. the tenant was shredded).
    """
    row = await _fetch(conn, _VERSION, (tenant, version))
    if row is None:
        raise LookupError(f"no tenant key {tenant} v{version}")
    return _key(master, cache, tenant, row)


async def rotate_tenant_key(
    conn: Conn, master: MasterKeys, tenant: str, *, cache: KeyCache | None = None
) -> TenantKey:
    """Make a new key version active; older versions stay to open older documents.

    Documents are untouched; their data keys stay wrapped by the version they name (use
    ``DocumentSealer.rewrap_data_key`` to move one to the new version).
    """
    cur = await conn.execute(
        "SELECT version FROM archive.tenant_key WHERE tenant = %s AND active FOR UPDATE",
        (tenant,),
    )
    current = await cur.fetchone()
    if current is None:
        return await tenant_key(conn, master, tenant, cache=cache)
    await conn.execute(
        "UPDATE archive.tenant_key SET active = false WHERE tenant = %s AND version = %s",
        (tenant, current[0]),
    )
    await _insert_version(conn, master, tenant, int(current[0]) + 1)
    return await tenant_key(conn, master, tenant, cache=cache)


async def count_wrapped_by(conn: Conn, key_id: str) -> int:
    """How many tenant keys are still wrapped by the master key ``key_id``."""
    cur = await conn.execute(
        "SELECT count(*) FROM archive.tenant_key WHERE master_key_id = %s", (key_id,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def rewrap_all(conn: Conn, old_master: MasterKey, new_master: MasterKey) -> int:
    """Re-wrap every tenant key wrapped by ``old_master`` under ``new_master``.

    No document or data key is touched. Returns how many keys were re-wrapped. Idempotent:
    rows already under ``new_master`` are skipped, so an interrupted run can be repeated.
    """
    if old_master.key_id == new_master.key_id:
        return 0
    cur = await conn.execute(
        "SELECT tenant, version, wrapped_key FROM archive.tenant_key"
        " WHERE master_key_id = %s ORDER BY tenant, version FOR UPDATE",
        (old_master.key_id,),
    )
    updates = []
    for tenant, version, wrapped in await cur.fetchall():
        context = tenant_key_context(tenant, version)
        key = unwrap(bytes(wrapped), old_master.key, context=context)
        updates.append(
            (wrap(key, new_master.key, context=context), new_master.key_id, tenant, version)
        )
    async with conn.cursor() as upd:
        await upd.executemany(
            "UPDATE archive.tenant_key SET wrapped_key = %s, master_key_id = %s"
            " WHERE tenant = %s AND version = %s",
            updates,
        )
    return len(updates)
