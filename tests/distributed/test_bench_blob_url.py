"""``efacture bench --blob-url s3``: the run's documents go to a SeaweedFS started for it (through
``scripts/seaweedfs``), every invoice is transmitted once, the report names the store, and the
server, its data and its bucket are gone afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.infra import base_urls
from tests.support.system import CORPUS

pytestmark = pytest.mark.distributed

EFACTURE = str(Path(sys.executable).parent / "efacture")
N = 30


def _weeds() -> set[int]:
    """PIDs of the ``weed`` processes on this machine (other runs' too: compared before/after)."""
    out = subprocess.run(["pgrep", "-x", "weed"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_bench_on_s3_stores_every_document_there_and_leaves_nothing(tmp_path):
    base_urls()
    before = _weeds()
    res = subprocess.run(
        [EFACTURE, "bench", "--n", str(N), "--latency-seconds", "2", "--no-ceiling",
         "--mix", "synthetic", "--blob-url", "s3", "--corpus", str(CORPUS), "--json"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads(res.stdout)
    store = result["blob_store"]
    assert store["kind"] == "s3"
    assert store["endpoint"].startswith("http://127.0.0.1:")
    assert "SeaweedFS" in store["label"]
    assert store["server_cpu_ms_per_invoice"] > 0  # the server's own cost is measured too
    # One encrypted document per archived invoice at least, all in the run's bucket.
    assert store["blobs_at_end"] >= result["checks"]["expected"]
    checks = result["checks"]
    assert checks["transmitted_once"] == checks["expected"]
    assert (checks["duplicates"], checks["rejected"], checks["missing"]) == (0, 0, 0)
    # The SeaweedFS of the run is stopped and its data directory removed.
    assert not (_weeds() - before)
    assert not list(tmp_path.glob("efacture-bench-*/seaweedfs-run"))
