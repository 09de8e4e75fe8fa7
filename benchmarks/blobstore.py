"""Blob-store throughput: local disk (FileBlobStore, fsync'd) against S3 (SeaweedFS on loopback).

For each store and each concurrency: N puts of fresh keys (random bytes of SIZE, as ciphertext
is), then N gets of those keys, then N deletes; prints blobs per second for each. The S3 side is
a SeaweedFS ``weed mini`` started here on free loopback ports and stopped after (a bucket of its
own), or, with ``--blob-url s3://bucket/prefix``, the store that EFACTURE_S3_ENDPOINT and the
AWS_* variables name (the prefix must be empty: this writes and deletes there).

Usage: ``python benchmarks/blobstore.py [--count 500] [--size 32768] [--threads 1,8]
[--blob-url s3://…] [--json]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.settings import Settings
from shared.vault.blob_factory import blob_store_from_settings
from shared.vault.blobstore import BlobStore, FileBlobStore
from shared.vault.s3_blobstore import S3BlobStore, S3Location
from tests.distributed.seaweed import SeaweedFS


def _rate(n: int, threads: int, work: Callable[[int], Any]) -> float:
    started = time.perf_counter()
    if threads == 1:
        for i in range(n):
            work(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, range(n)))
    return n / (time.perf_counter() - started)


def measure(store: BlobStore, count: int, size: int, threads: int) -> dict[str, float]:
    keys = [hashlib.sha256(uuid.uuid4().bytes).hexdigest() for _ in range(count)]
    blobs = [os.urandom(size) for _ in range(min(count, 64))]
    put = _rate(count, threads, lambda i: store.put(keys[i], blobs[i % len(blobs)]))
    get = _rate(count, threads, lambda i: store.get(keys[i]))
    delete = _rate(count, threads, lambda i: store.delete(keys[i]))
    return {"put_per_s": round(put, 1), "get_per_s": round(get, 1),
            "delete_per_s": round(delete, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", type=int, default=32 * 1024, help="bytes per blob")
    parser.add_argument("--threads", default="1,8", help="comma-separated concurrencies")
    parser.add_argument("--blob-url", help="an existing s3:// store instead of a local SeaweedFS")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    concurrencies = [int(t) for t in args.threads.split(",") if t.strip()]

    work = Path(tempfile.mkdtemp(prefix="efacture-blobbench-"))
    seaweed: SeaweedFS | None = None
    try:
        if args.blob_url:
            s3: BlobStore = blob_store_from_settings(Settings(blob_url=args.blob_url))
            where = args.blob_url
        else:
            seaweed = SeaweedFS(work / "seaweedfs")
            seaweed.start()
            bucket = f"efacture-bench-{uuid.uuid4().hex[:8]}"
            seaweed.create_bucket(bucket)
            s3 = S3BlobStore(S3Location(bucket, "bench"), endpoint=seaweed.endpoint,
                             access_key_id=seaweed.access_key,
                             secret_access_key=seaweed.secret_key)
            where = f"SeaweedFS {seaweed.endpoint} (weed mini, loopback)"
        stores: dict[str, BlobStore] = {"local disk": FileBlobStore(work / "blobs"), "s3": s3}
        results = []
        for name, store in stores.items():
            for threads in concurrencies:
                row = {"store": name, "threads": threads, "count": args.count,
                       "size": args.size, **measure(store, args.count, args.size, threads)}
                results.append(row)
                if not args.json:
                    print(f"{name:<10} threads={threads:<3} put {row['put_per_s']:>8.1f}/s  "
                          f"get {row['get_per_s']:>8.1f}/s  delete {row['delete_per_s']:>8.1f}/s",
                          flush=True)
        if args.json:
            print(json.dumps({"s3": where, "cpus": os.cpu_count(), "results": results},
                             indent=2))
        else:
            print(f"({args.count} blobs of {args.size} bytes; S3: {where}; "
                  f"{os.cpu_count()} CPUs)")
    finally:
        if seaweed is not None:
            seaweed.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
