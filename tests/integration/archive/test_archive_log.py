"""The Merkle log in a real PostgreSQL: appends, roots, proofs, checkpoints, bundles (issue 4)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import psycopg
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from services.archive.adapters import merkle_store as store
from services.archive.adapters.log_key import load_or_create_log_key, log_public_key_pem
from services.archive.domain import merkle
from services.archive.domain.bundle import InclusionProof, ProofBundle, write_bundle
from services.archive.domain.checkpoint import public_key_pem
from services.archive.domain.leaf import invoice_leaf_data, tombstone_leaf_data
from services.archive.domain.merkle_proof import verify_consistency, verify_inclusion
from services.archive.domain.verify import verify
from tests.unit.archive.tsa_fixture import make_fake_tsa

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
MIGRATION = REPO / "services" / "archive" / "migrations" / "020_log.sql"
SERVER = os.environ.get("EFACTURE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
TENANT = "73282932000074"
T = TypeVar("T")


@pytest.fixture
def db_url() -> Iterator[str]:
    name = f"efacture_test_log_{uuid4().hex[:12]}"
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


async def _append(url: str, datas: list[bytes]) -> list[int]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        indexes = await store.append(conn, datas)
        await conn.commit()
    return indexes


def test_roots_and_proofs_match_the_in_memory_tree_for_every_size(db_url: str) -> None:
    leaves = [b"entry-%d" % i for i in range(70)]

    async def scenario() -> None:
        start = 0
        for batch in (1, 1, 2, 3, 9, 16, 1, 37):
            assert await _append(db_url, leaves[start : start + batch]) == list(
                range(start, start + batch)
            )
            start += batch
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            assert await store.size(conn) == 70
            roots = [await store.root(conn, n) for n in range(71)]
            for n in range(71):
                assert roots[n] == merkle.root_from_leaves(leaves[:n]), n
            for n in range(1, 71):
                for m in range(n):
                    path = await store.inclusion_proof(conn, m, n)
                    assert path == merkle.inclusion_path(leaves[:n], m)
                    assert verify_inclusion(merkle.leaf_hash(leaves[m]), m, n, path, roots[n])
                for m in range(0, n + 1, 3):
                    path = await store.consistency_proof(conn, m, n)
                    assert verify_consistency(m, n, roots[m], roots[n], path), (m, n)
            assert await store.leaf(conn, 69) == leaves[69]
            assert await store.leaf(conn, 70) is None
            with pytest.raises(store.LogRangeError):
                await store.root(conn, 71)
            with pytest.raises(store.LogRangeError):
                await store.inclusion_proof(conn, 70, 70)

    run(scenario)


def test_concurrent_appenders_get_contiguous_indexes_and_one_valid_tree(db_url: str) -> None:
    async def scenario() -> None:
        batches = [[b"w%d-%d" % (w, i) for i in range(1 + w % 4)] for w in range(12)]
        results = await asyncio.gather(*(_append(db_url, b) for b in batches))
        assert sorted(i for r in results for i in r) == list(range(sum(map(len, batches))))
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            n = await store.size(conn)
            datas = [await store.leaf(conn, i) for i in range(n)]
            assert await store.root(conn, n) == merkle.root_from_leaves([d or b"" for d in datas])

    run(scenario)


def test_rolled_back_append_leaves_no_trace(db_url: str) -> None:
    async def scenario() -> None:
        await _append(db_url, [b"a", b"b", b"c"])
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            await store.append(conn, [b"d", b"e"])
            await conn.rollback()
        assert await _append(db_url, [b"f"]) == [3]
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            assert await store.root(conn, 4) == merkle.root_from_leaves([b"a", b"b", b"c", b"f"])

    run(scenario)


def test_log_rows_cannot_be_rewritten(db_url: str) -> None:
    run(lambda: _append(db_url, [b"a", b"b"]))
    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute("UPDATE archive.log_leaf SET data = 'x' WHERE idx = 0")


def test_checkpoints_are_signed_only_when_the_log_grew(db_url: str, tmp_path: Path) -> None:
    key = load_or_create_log_key(tmp_path)
    assert public_key_pem(load_or_create_log_key(tmp_path).public_key()) == public_key_pem(
        key.public_key()
    )
    assert (tmp_path / "keys" / "log.key").stat().st_mode & 0o777 == 0o600
    t0 = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            assert await store.checkpoint(conn, key, t0) is None
            await store.append(conn, [b"a", b"b", b"c"])
            first = await store.checkpoint(conn, key, t0)
            assert first is not None
            assert first.size == 3
            assert first.signature_valid(key.public_key())
            assert await store.checkpoint(conn, key, t0 + timedelta(seconds=2)) is None
            await store.append(conn, [b"d", b"e"])
            second = await store.checkpoint(conn, key, t0 + timedelta(seconds=4))
            assert second is not None
            assert second.size == 5
            await conn.commit()
            assert await store.latest_checkpoint(conn) == second
            assert await store.checkpoint_covering(conn, 2) == first
            assert await store.checkpoint_covering(conn, 3) == second
            assert await store.checkpoint_covering(conn, 5) is None
            assert await store.checkpoint_at(conn, 3) == first
            path = await store.consistency_proof(conn, 3, 5)
            assert verify_consistency(3, 5, first.root, second.root, path)

    run(scenario)


def test_a_tombstone_keeps_old_checkpoints_consistent(db_url: str, tmp_path: Path) -> None:
    key = load_or_create_log_key(tmp_path)
    when = datetime(2026, 5, 1, tzinfo=UTC)

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            await store.append(conn, [invoice_leaf_data(uuid4(), TENANT, "ab" * 32, when)])
            old = await store.checkpoint(conn, key, when)
            await store.append(conn, [tombstone_leaf_data(uuid4(), TENANT, "ab" * 32, when)])
            new = await store.checkpoint(conn, key, when + timedelta(seconds=3))
            assert old is not None
            assert new is not None
            path = await store.consistency_proof(conn, old.size, new.size)
            assert verify_consistency(old.size, new.size, old.root, new.root, path)

    run(scenario)


def test_a_bundle_built_from_the_store_verifies_offline(db_url: str, tmp_path: Path) -> None:
    key = load_or_create_log_key(tmp_path / "data")
    tsa = make_fake_tsa()
    document = b"<Invoice>archived</Invoice>"
    digest = hashlib.sha256(document).digest()
    gen_time = datetime(2026, 5, 1, 9, 30, 0, 250000, tzinfo=UTC)

    async def scenario() -> ProofBundle:
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            await store.append(conn, [b"before-%d" % i for i in range(6)])
            data = invoice_leaf_data(uuid4(), TENANT, digest.hex(), gen_time)
            [index] = await store.append(conn, [data])
            await store.append(conn, [b"after"])
            await store.checkpoint(conn, key)
            await conn.commit()
            cp = await store.checkpoint_covering(conn, index)
            assert cp is not None
            path = await store.inclusion_proof(conn, index, cp.size)
            return ProofBundle(
                document_sha256=digest.hex(),
                timestamp_tsr=tsa.respond(digest, gen_time),
                tsa_pem=tsa.chain_pem(),
                inclusion=InclusionProof.build(index, cp.size, data, path),
                checkpoint=cp,
                log_pub=log_public_key_pem(tmp_path / "data"),
            )

    write_bundle(tmp_path / "proof", run(scenario))
    report = verify(document, tmp_path / "proof", public_key_pem(key.public_key()),
                    tsa.ca_cert.public_bytes(Encoding.PEM))
    assert report.ok, report.failure
    assert not verify(document + b" ", tmp_path / "proof", None).consistent


def test_inclusion_evidence_is_the_first_covering_checkpoint_leaf_and_path(
    db_url: str, tmp_path: Path
) -> None:
    key = load_or_create_log_key(tmp_path)
    leaves = [b"e%d" % i for i in range(9)]

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            await store.append(conn, leaves[:1])
            assert await store.inclusion_evidence(conn, 0) is None
            await store.checkpoint(conn, key)
            await store.append(conn, leaves[1:])
            await store.checkpoint(conn, key)
            first = await store.inclusion_evidence(conn, 0)
            assert first is not None
            assert (first.checkpoint.size, first.leaf_data, first.path) == (1, b"e0", [])
            later = await store.inclusion_evidence(conn, 6)
            assert later is not None
            assert later.checkpoint.size == 9
            assert later.leaf_data == b"e6"
            assert verify_inclusion(
                merkle.leaf_hash(b"e6"), 6, 9, later.path, later.checkpoint.root
            )
            assert await store.inclusion_evidence(conn, 9) is None

    run(scenario)


def test_a_bundle_with_a_built_in_tsa_token_verifies_here_and_with_openssl(
    db_url: str, tmp_path: Path
) -> None:
    from asn1crypto import tsp

    from services.archive.tsa.authority import TimeStampAuthority

    authority = TimeStampAuthority.load_or_create(tmp_path / "tsa")
    key = load_or_create_log_key(tmp_path / "data")
    document = b"<Invoice>stamped by the built-in TSA</Invoice>"
    digest = hashlib.sha256(document).digest()
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": digest,
            },
            "cert_req": True,
        }
    ).dump()
    tsr = authority.respond(request)
    gen_time = (
        tsp.TimeStampResp.load(tsr)["time_stamp_token"]["content"]["encap_content_info"]["content"]
        .parsed["gen_time"]
        .native
    )

    async def scenario() -> ProofBundle:
        async with await psycopg.AsyncConnection.connect(db_url) as conn:
            data = invoice_leaf_data(uuid4(), TENANT, digest.hex(), gen_time)
            [_, index] = await store.append(conn, [b"other", data])
            await store.checkpoint(conn, key)
            evidence = await store.inclusion_evidence(conn, index)
            assert evidence is not None
            return ProofBundle(
                document_sha256=digest.hex(),
                timestamp_tsr=tsr,
                tsa_pem=authority.chain_pem(),
                inclusion=InclusionProof.build(
                    index, evidence.checkpoint.size, evidence.leaf_data, evidence.path
                ),
                checkpoint=evidence.checkpoint,
                log_pub=public_key_pem(key.public_key()),
            )

    proof = tmp_path / "proof"
    write_bundle(proof, run(scenario))
    report = verify(document, proof, public_key_pem(key.public_key()), authority.ca_pem())
    assert report.ok, report.failure
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    (tmp_path / "document").write_bytes(document)
    checked = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(tmp_path / "document"),
            "-in",
            str(proof / "timestamp.tsr"),
            "-CAfile",
            str(proof / "tsa.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_a_damaged_log_key_file_is_a_permanent_error(tmp_path: Path) -> None:
    from shared.errors import PermanentError

    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "log.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnope\n")
    with pytest.raises(PermanentError, match=r"log\.key"):
        load_or_create_log_key(tmp_path)


def test_verify_reports_an_unreadable_bundle_directory(tmp_path: Path) -> None:
    report = verify(b"doc", tmp_path / "missing", None)
    assert not report.ok
    assert report.failure == "the bundle has no document.sha256"
