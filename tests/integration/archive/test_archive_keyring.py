"""Tenant keyring and document sealer against a real PostgreSQL (issue 4, items 1 and 8)."""

from __future__ import annotations

import asyncio
import csv
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import psycopg
import pytest

from shared.errors import RetryableError
from shared.vault import keyring
from shared.vault.document_sealer import (
    DocumentSealer,
    DocumentShreddedError,
    SealedDocument,
)
from shared.vault.envelope import DecryptFailedError
from shared.vault.keyring import KeyCache, MasterKeyMismatchError
from shared.vault.master_key import MasterKey

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus"
MIGRATION = REPO / "services" / "archive" / "migrations" / "010_keys.sql"
SERVER = os.environ.get("EFACTURE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
TENANT = "73282932000074"
T = TypeVar("T")


@pytest.fixture
def db_url() -> Iterator[str]:
    name = f"efacture_test_keyring_{uuid4().hex[:12]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{SERVER}/{name}"
    try:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE SCHEMA archive")
            conn.execute(MIGRATION.read_text(encoding="utf-8"))
        yield url
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory())


def _document() -> bytes:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh, delimiter="\t") if r["expected"] == "valid")
    return (CORPUS / row["path"]).read_bytes()


async def _connect(url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(url)


async def _seal(
    url: str, sealer: DocumentSealer, tenant: str, invoice: str, doc: bytes
) -> SealedDocument:
    async with await _connect(url) as conn:
        sealed = await sealer.seal_document(conn, tenant, invoice, doc)
        await conn.commit()
    return sealed


async def _open(
    url: str, sealer: DocumentSealer, tenant: str, invoice: str, s: SealedDocument
) -> bytes:
    async with await _connect(url) as conn:
        return await sealer.open_document(
            conn, tenant, invoice, s.ciphertext, s.wrapped_data_key, s.tenant_key_version
        )


def test_sealed_document_opens_and_neither_plaintext_nor_keys_reach_the_database(
    db_url: str,
) -> None:
    master, doc, invoice = MasterKey(os.urandom(32)), _document(), str(uuid4())
    sealer = DocumentSealer(master)

    async def scenario() -> tuple[SealedDocument, bytes, bytes, keyring.TenantKey]:
        sealed = await _seal(db_url, sealer, TENANT, invoice, doc)
        opened = await _open(db_url, sealer, TENANT, invoice, sealed)
        async with await _connect(db_url) as conn:
            cur = await conn.execute("SELECT * FROM archive.tenant_key")
            dump = repr(await cur.fetchall()).encode()
            tk = await keyring.tenant_key(conn, master, TENANT)
        return sealed, opened, dump, tk

    sealed, opened, dump, tk = run(scenario)
    assert opened == doc
    assert doc[:64] not in sealed.ciphertext
    assert tk.version == sealed.tenant_key_version == 1
    assert tk.key.hex().encode() not in dump
    assert repr(tk.key).encode() not in dump
    assert master.key_id.encode() in dump


def test_blob_moved_to_another_invoice_of_the_same_tenant_fails(db_url: str) -> None:
    sealer = DocumentSealer(MasterKey(os.urandom(32)))
    a, b = str(uuid4()), str(uuid4())

    async def scenario() -> None:
        sealed = await _seal(db_url, sealer, TENANT, a, b"document A")
        with pytest.raises(DecryptFailedError):
            await _open(db_url, sealer, TENANT, b, sealed)

    run(scenario)


def test_shredded_document_can_no_longer_be_opened(db_url: str) -> None:
    sealer = DocumentSealer(MasterKey(os.urandom(32)))
    invoice = str(uuid4())

    async def scenario() -> None:
        sealed = await _seal(db_url, sealer, TENANT, invoice, b"purged after retention")
        async with await _connect(db_url) as conn:
            with pytest.raises(DocumentShreddedError) as caught:
                await sealer.open_document(conn, TENANT, invoice, sealed.ciphertext, None, 1)
        assert caught.value.code == "shredded"

    run(scenario)


def test_concurrent_first_use_by_two_transactions_yields_one_key(db_url: str) -> None:
    master = MasterKey(os.urandom(32))

    async def scenario() -> tuple[keyring.TenantKey, keyring.TenantKey, int]:
        async with await _connect(db_url) as first, await _connect(db_url) as second:
            key_a = await keyring.tenant_key(first, master, TENANT)  # inserted, not committed
            pending = asyncio.create_task(keyring.tenant_key(second, master, TENANT))
            await _wait_until_blocked(db_url, second.info.backend_pid)
            await first.commit()
            key_b = await pending
            await second.commit()
            cur = await first.execute("SELECT count(*) FROM archive.tenant_key")
            row = await cur.fetchone()
        return key_a, key_b, int(row[0]) if row else -1

    key_a, key_b, rows = run(scenario)
    assert (key_a.version, key_a.key) == (key_b.version, key_b.key)
    assert rows == 1


def test_many_concurrent_first_uses_all_get_the_same_key(db_url: str) -> None:
    master = MasterKey(os.urandom(32))

    async def one() -> bytes:
        async with await _connect(db_url) as conn:
            key = await keyring.tenant_key(conn, master, TENANT)
            await conn.commit()
        return key.key

    async def scenario() -> list[bytes]:
        return list(await asyncio.gather(*(one() for _ in range(8))))

    assert len(set(run(scenario))) == 1


def test_key_from_a_rolled_back_transaction_is_never_used_again(db_url: str) -> None:
    # The cache must not keep a key whose row vanished with a rollback.
    master = MasterKey(os.urandom(32))
    sealer = DocumentSealer(master, KeyCache())
    invoice = str(uuid4())

    async def scenario() -> bytes:
        async with await _connect(db_url) as conn:
            await sealer.seal_document(conn, TENANT, str(uuid4()), b"lost")
            await conn.rollback()
        other = DocumentSealer(master)  # another process creates the real key
        await _seal(db_url, other, TENANT, str(uuid4()), b"first kept")
        sealed = await _seal(db_url, sealer, TENANT, invoice, b"second kept")
        return await _open(db_url, other, TENANT, invoice, sealed)

    assert run(scenario) == b"second kept"


def test_master_rotation_rewraps_tenant_keys_and_documents_still_open(db_url: str) -> None:
    old, new, doc = MasterKey(os.urandom(32)), MasterKey(os.urandom(32)), _document()
    tenants = [TENANT, "35600000000048", "44306184100047"]
    invoices = {t: str(uuid4()) for t in tenants}

    async def scenario() -> None:
        sealed = {t: await _seal(db_url, DocumentSealer(old), t, invoices[t], doc) for t in tenants}
        async with await _connect(db_url) as conn:
            assert await keyring.rewrap_all(conn, old, new) == 3
            await conn.commit()
            assert await keyring.rewrap_all(conn, old, new) == 0
        for t in tenants:  # same ciphertext, same wrapped data key: no document touched
            assert await _open(db_url, DocumentSealer(new), t, invoices[t], sealed[t]) == doc
        with pytest.raises(MasterKeyMismatchError) as caught:
            await _open(db_url, DocumentSealer(old), TENANT, invoices[TENANT], sealed[TENANT])
        assert isinstance(caught.value, RetryableError)

    run(scenario)


def test_key_not_yet_rewrapped_opens_with_the_previous_master_key(db_url: str) -> None:
    old = MasterKey(os.urandom(32))
    during_rotation = MasterKey(os.urandom(32), previous=old)
    invoice = str(uuid4())

    async def scenario() -> bytes:
        sealed = await _seal(db_url, DocumentSealer(old), TENANT, invoice, b"mid-rotation")
        return await _open(db_url, DocumentSealer(during_rotation), TENANT, invoice, sealed)

    assert run(scenario) == b"mid-rotation"


def test_tenant_key_rotation_keeps_old_documents_readable_and_can_move_them(db_url: str) -> None:
    master = MasterKey(os.urandom(32))
    sealer = DocumentSealer(master)
    before, after = str(uuid4()), str(uuid4())

    async def scenario() -> None:
        old_doc = await _seal(db_url, sealer, TENANT, before, b"sealed under v1")
        async with await _connect(db_url) as conn:
            rotated = await keyring.rotate_tenant_key(conn, master, TENANT)
            await conn.commit()
        assert rotated.version == 2
        new_doc = await _seal(db_url, sealer, TENANT, after, b"sealed under v2")
        assert new_doc.tenant_key_version == 2
        assert await _open(db_url, sealer, TENANT, before, old_doc) == b"sealed under v1"
        async with await _connect(db_url) as conn:
            wrapped, version = await sealer.rewrap_data_key(
                conn, TENANT, before, old_doc.wrapped_data_key, 1
            )
        moved = SealedDocument(old_doc.ciphertext, wrapped, version)
        assert version == 2
        assert await _open(db_url, sealer, TENANT, before, moved) == b"sealed under v1"

    run(scenario)


async def _wait_until_blocked(url: str, pid: int) -> None:
    """Poll pg_stat_activity until backend ``pid`` waits on a lock (bounded by count)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as probe:
        for _ in range(2000):
            cur = await probe.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            )
            row = await cur.fetchone()
            if row is not None and row[0] == "Lock":
                return
            await asyncio.sleep(0.005)
    raise AssertionError(f"backend {pid} never blocked on the first transaction's insert")
