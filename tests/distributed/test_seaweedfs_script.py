"""``scripts/seaweedfs``: starts SeaweedFS when EFACTURE_BLOB_URL points at a loopback S3
endpoint that does not answer, leaves a running one alone, stops only what it started."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import subprocess
from pathlib import Path

import pytest

from shared.vault.blob_factory import blob_store_for_env
from tests.support.infra import answers, free_port

pytestmark = pytest.mark.distributed

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "seaweedfs"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=120)


def _free_run_of_ports() -> int:
    """An S3 port whose followers (+1…+4 and +10000…+10004) can all be bound.

    Below the ephemeral range (32768+), so that no outgoing connection takes one of them
    between this check and SeaweedFS's bind; a bind, not a connect, is the check.
    """
    for _ in range(200):
        port = random.randrange(12000, 22000)
        try:
            for d in (*range(5), *range(10000, 10005)):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port + d))
        except OSError:
            continue
        return port
    raise RuntimeError("no free run of ports")


def test_starts_when_needed_then_leaves_it_and_stops_it(tmp_path: Path) -> None:
    port = _free_run_of_ports()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("EFACTURE_", "AWS_"))},
           "EFACTURE_BLOB_URL": "s3://dev-blobs/docs",
           "EFACTURE_S3_ENDPOINT": f"http://127.0.0.1:{port}",
           "EFACTURE_DATA_DIR": str(tmp_path / "var"),
           "AWS_ACCESS_KEY_ID": "dev", "AWS_SECRET_ACCESS_KEY": "dev-secret-for-test"}
    try:
        first = _run(env, "start")
        assert first.returncode == 0, first.stderr
        assert "pid" in first.stdout
        store = blob_store_for_env(env)
        key = hashlib.sha256(b"script").hexdigest()
        store.put(key, b"through the script's server")
        assert store.get(key) == b"through the script's server"
        again = _run(env, "start")
        assert again.returncode == 0
        assert "answers" in again.stdout
    finally:
        stopped = _run(env, "stop")
    assert stopped.returncode == 0
    assert not answers("127.0.0.1", port)


def test_does_nothing_for_a_local_disk_or_a_remote_endpoint(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EFACTURE_", "AWS_"))}
    for extra in ({}, {"EFACTURE_BLOB_URL": f"file://{tmp_path}"},
                  {"EFACTURE_BLOB_URL": "s3://b-remote/x",
                   "EFACTURE_S3_ENDPOINT": "https://s3.example.invalid"}):
        res = _run({**base, **extra, "EFACTURE_DATA_DIR": str(tmp_path)}, "start")
        assert res.returncode == 0, res.stderr
        assert res.stdout == ""
        assert not (tmp_path / "seaweedfs").exists()


def test_without_credentials_it_says_what_to_set(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EFACTURE_", "AWS_"))}
    res = _run({**base, "EFACTURE_BLOB_URL": "s3://dev-blobs/x",
                "EFACTURE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
                "EFACTURE_DATA_DIR": str(tmp_path)}, "start")
    assert res.returncode == 1
    assert "AWS_ACCESS_KEY_ID" in res.stderr
