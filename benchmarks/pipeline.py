"""End-to-end pipeline benchmark (issue 7): the same as ``efacture bench``.

Usage: ``python benchmarks/pipeline.py [--n N] [--mix corpus|synthetic|both]
[--latency-ms 20] [--latency-seconds 30] [--replicas SERVICE=N,…] [--blob-url file|s3|URL]
[--archive-entries N] [--json]``

``--blob-url s3`` keeps the documents in a SeaweedFS S3 store started for the run (its own
bucket, removed after); ``--archive-entries N`` first fills the archive with N entries directly
in PostgreSQL (``efacture.bench.big_archive``; ``benchmarks/big_archive.py`` runs the pair).

Creates its own RabbitMQ vhost and PostgreSQL database, runs ``efacture up`` against them,
measures the broker ceiling (empty FastStream handlers over as many quorum queues as the
pipeline has hops, and the raw single hop), then drives N invoices through the four services:
throughput submitted → transmitted, open-loop latency at half load, peak RSS per service.
Everything it made is dropped at the end. The logic lives in ``efacture.bench``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from efacture.cli.main import cli

if __name__ == "__main__":
    cli.main(args=["bench", *sys.argv[1:]], prog_name="benchmarks/pipeline.py")
