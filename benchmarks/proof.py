"""Benchmark of the Merkle log: proof generation and offline verification at 10k and 1M entries.

Builds the log in a throwaway PostgreSQL database (batches of ``--batch`` leaves per append,
one transaction each), signs a checkpoint at each target size, then measures for random
entries: proof generation (``inclusion_evidence``: the covering checkpoint, the leaf and its
inclusion path, as ``efacture proof`` needs them) and ``verify`` of the written bundle
(document hash, RFC 3161 token, leaf, checkpoint signature, inclusion). Prints a table, or
JSON with ``--json``.

    .venv/bin/python benchmarks/proof.py [--sizes 10000 1000000] [--samples 500] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding  # noqa: E402

from services.archive.adapters import merkle_store as store  # noqa: E402
from services.archive.domain.bundle import InclusionProof, ProofBundle, write_bundle  # noqa: E402
from services.archive.domain.checkpoint import public_key_pem  # noqa: E402
from services.archive.domain.leaf import invoice_leaf_data  # noqa: E402
from services.archive.domain.verify import verify  # noqa: E402
from tests.unit.archive.tsa_fixture import make_fake_tsa  # noqa: E402

TENANT = "73282932000074"
GEN_TIME = datetime(2026, 5, 1, 9, 30, 0, 250000, tzinfo=UTC)


def _document(i: int) -> bytes:
    return b"<Invoice>benchmark entry %d</Invoice>" % i


def _leaf(i: int) -> bytes:
    digest = hashlib.sha256(_document(i)).hexdigest()
    return invoice_leaf_data(UUID(int=i + 1), TENANT, digest, GEN_TIME)


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def _build(url: str, start: int, end: int, batch: int) -> float:
    began = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(url) as conn:
        for lo in range(start, end, batch):
            await store.append(conn, [_leaf(i) for i in range(lo, min(end, lo + batch))])
            await conn.commit()
    return time.perf_counter() - began


async def _measure(url: str, size: int, samples: int, key: Ed25519PrivateKey) -> dict[str, Any]:
    tsa = make_fake_tsa()
    tsa_root = tsa.ca_cert.public_bytes(Encoding.PEM)  # the auditor's anchor, as --tsa-ca
    rng = random.Random(size)
    proof_times: list[float] = []
    verify_times: list[float] = []
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await store.checkpoint(conn, key)
            await conn.commit()
            for _ in range(samples):
                index = rng.randrange(size)
                began = time.perf_counter()
                evidence = await store.inclusion_evidence(conn, index)
                proof_times.append(time.perf_counter() - began)
                await conn.rollback()  # end the read transaction, as a CLI call would
                assert evidence is not None
                cp, data, path = evidence
                digest = hashlib.sha256(_document(index)).digest()
                bundle = ProofBundle(
                    document_sha256=digest.hex(),
                    timestamp_tsr=tsa.respond(digest, GEN_TIME),
                    tsa_pem=tsa.chain_pem(),
                    inclusion=InclusionProof.build(index, cp.size, data, path),
                    checkpoint=cp,
                    log_pub=public_key_pem(key.public_key()),
                )
                write_bundle(Path(tmp), bundle)
                began = time.perf_counter()
                report = verify(_document(index), Path(tmp), bundle.log_pub, tsa_root)
                verify_times.append(time.perf_counter() - began)
                failures += not report.ok
    return {
        "size": size,
        "samples": samples,
        "proof_ms_p50": _ms(proof_times, 0.50),
        "proof_ms_p99": _ms(proof_times, 0.99),
        "verify_ms_p50": _ms(verify_times, 0.50),
        "verify_ms_p99": _ms(verify_times, 0.99),
        "verify_failures": failures,
        "max_rss_mb": _rss_mb(),
    }


async def _run(server: str, sizes: list[int], batch: int, samples: int) -> list[dict[str, Any]]:
    name = f"efacture_bench_proof_{uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    results: list[dict[str, Any]] = []
    try:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE SCHEMA archive")
            sql = (REPO / "services/archive/migrations/020_log.sql").read_text(encoding="utf-8")
            conn.execute(sql)  # type: ignore[call-overload]
        key = Ed25519PrivateKey.generate()
        built = 0
        for size in sorted(sizes):
            seconds = await _build(url, built, size, batch)
            built = size
            row = await _measure(url, size, samples, key)
            row["build_s"] = round(seconds, 1)
            results.append(row)
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    results = asyncio.run(_run(args.server, args.sizes, args.batch, args.samples))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    cols = [
        "size",
        "build_s",
        "proof_ms_p50",
        "proof_ms_p99",
        "verify_ms_p50",
        "verify_ms_p99",
        "verify_failures",
        "max_rss_mb",
    ]
    print(" | ".join(f"{c:>14}" for c in cols))
    for row in results:
        print(" | ".join(f"{row[c]!s:>14}" for c in cols))


if __name__ == "__main__":
    main()
