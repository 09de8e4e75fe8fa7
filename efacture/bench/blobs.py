"""The blob store of a bench run (``efacture bench --blob-url``), made for the run and removed.

``--blob-url`` values:

- ``""`` / ``file``: the embedded default, ``EFACTURE_DATA_DIR/blobs`` on local disk;
- ``file:///path``: a directory of the caller's (the run's blobs are deleted at the end);
- ``s3``: a SeaweedFS ``weed mini`` started for the run by ``scripts/seaweedfs`` on free loopback
  ports, with random credentials and a bucket named after the run; stopped, and its data
  directory (bucket included) removed, at the end;
- ``s3://bucket/prefix``: the store ``EFACTURE_S3_ENDPOINT`` and ``AWS_*`` name (unset endpoint:
  AWS). The run writes under ``prefix/<run name>`` and deletes what it wrote at the end. When
  the endpoint is ``http://127.0.0.1:PORT`` and nothing answers, ``scripts/seaweedfs`` starts
  one there (as ``scripts/run`` does), stopped at the end.

Endpoint and credentials reach ``efacture up`` through its environment (:attr:`RunStore.env`).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "seaweedfs"
_LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|localhost)(:(\d+))?/?$")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _bindable(ports: list[int]) -> bool:
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def _seaweed_port() -> int:
    """An S3 port whose neighbours ``scripts/seaweedfs`` takes (+1…+4, +10000…+10004) are free."""
    from efacture.bench.infra import listen_ports

    for _ in range(50):
        port = listen_ports(5)
        if port + 10004 < 65536 and _bindable([port + 10000 + k for k in range(5)]):
            return port
    raise RuntimeError("no free ports for SeaweedFS found")


@dataclass
class RunStore:
    """Where one run keeps its documents, and how to undo it."""

    url: str  # EFACTURE_BLOB_URL given to `efacture up` ("" = its local-disk default)
    kind: str  # "file" or "s3"
    label: str  # for the table: what it is and who started it
    env: dict[str, str] = field(default_factory=dict)
    seaweed_home: Path | None = None  # the EFACTURE_DATA_DIR of a SeaweedFS we started

    def describe(self) -> dict[str, str | None]:
        return {"kind": self.kind, "url": self.url or None, "label": self.label,
                "endpoint": self.env.get("EFACTURE_S3_ENDPOINT")}

    def server_cpu_seconds(self) -> float | None:
        """CPU (user + system) the SeaweedFS this run started has used; None without one."""
        if self.seaweed_home is None:
            return None
        try:
            pid = int((self.seaweed_home / "seaweedfs" / "weed.pid").read_text())
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def count_and_clear(self, run_env: dict[str, str]) -> int | None:
        """Delete the run's blobs (``run_env``: the env of ``efacture up``); returns how many
        there were, or None when the store could not be listed. Never raises."""
        from shared.vault.blob_factory import blob_store_for_env

        if not self.url and "EFACTURE_DATA_DIR" not in run_env:
            return None  # never the ./var of whoever runs the bench
        try:
            store = blob_store_for_env({**run_env, **self.env,
                                        **({"EFACTURE_BLOB_URL": self.url} if self.url else {})})
            keys = list(store.keys())
            for key in keys:
                store.delete(key)
        except Exception:  # cleanup after a failure too: whatever the store raises
            return None
        return len(keys)

    def stop(self) -> None:
        """Stop the SeaweedFS this run started, if any, and remove its data; never raises."""
        if self.seaweed_home is None:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([str(SCRIPT), "stop"], env=self._script_env(), capture_output=True,
                           timeout=30, cwd=SCRIPT.parents[1])
        shutil.rmtree(self.seaweed_home, ignore_errors=True)

    def _script_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EFACTURE_", "AWS_"))}
        env.update(self.env)
        env["EFACTURE_BLOB_URL"] = self.url
        env["EFACTURE_DATA_DIR"] = str(self.seaweed_home)
        return env

    def _start_seaweed(self) -> None:
        if not SCRIPT.exists():
            raise RuntimeError(f"{SCRIPT} is missing: --blob-url s3 needs a source checkout")
        assert self.seaweed_home is not None
        self.seaweed_home.mkdir(parents=True, exist_ok=True)
        res = subprocess.run([str(SCRIPT), "start"], env=self._script_env(),
                             capture_output=True, text=True, timeout=120, cwd=SCRIPT.parents[1])
        if res.returncode != 0:
            self.stop()
            raise RuntimeError("SeaweedFS did not start: "
                               + (res.stderr.strip() or res.stdout.strip())[-500:])
        self._wait_writable()

    def _wait_writable(self, timeout: float = 60) -> None:
        """SeaweedFS answers before its bucket takes writes: probe with a put and a delete."""
        import time

        from shared.vault.blob_factory import blob_store_for_env

        store = blob_store_for_env(self._script_env())
        probe = "0" * 64
        deadline = time.monotonic() + timeout
        while True:
            try:
                store.put(probe, b"probe")
                store.delete(probe)
                return
            except Exception as exc:  # any failure means "not yet"
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"SeaweedFS's bucket took no write: {exc}") from exc
                time.sleep(0.5)


def prepare(blob_url: str, run_name: str, root: Path) -> RunStore:
    """The store of a run named ``run_name`` (``root``: a scratch directory of the run's).
    Raises ``ValueError`` for a URL it cannot use, ``RuntimeError`` when SeaweedFS fails."""
    bucket = re.sub(r"[^a-z0-9-]", "-", run_name.lower())[:63].strip("-")
    if blob_url in ("", "file"):
        return RunStore("", "file", "local disk (EFACTURE_DATA_DIR/blobs)")
    if blob_url == "s3":
        port = _seaweed_port()
        store = RunStore(f"s3://{bucket}/docs", "s3",
                         f"S3: SeaweedFS on loopback, started for the run (bucket {bucket})",
                         {"EFACTURE_S3_ENDPOINT": f"http://127.0.0.1:{port}",
                          "AWS_ACCESS_KEY_ID": f"efacture-{secrets.token_hex(4)}",
                          "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
                          "AWS_REGION": "us-east-1"},
                         seaweed_home=root / "seaweedfs-run")
        store._start_seaweed()
        return store
    parts = urlsplit(blob_url)
    if parts.scheme == "file":
        return RunStore(blob_url.rstrip("/") + "/" + bucket, "file", f"directory {parts.path}",
                        {})
    if parts.scheme != "s3":
        raise ValueError(f"--blob-url {blob_url!r}: use file, s3, file:///path or "
                         "s3://bucket/prefix")
    from shared.vault.s3_blobstore import S3Location

    location = S3Location.parse(blob_url)
    prefix = "/".join(p for p in (location.prefix, bucket) if p)
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    endpoint = os.environ.get("EFACTURE_S3_ENDPOINT", "")
    if endpoint:
        env["EFACTURE_S3_ENDPOINT"] = endpoint
    env.setdefault("AWS_REGION", "us-east-1")
    store = RunStore(f"s3://{location.bucket}/{prefix}", "s3",
                     f"S3: {endpoint or 'AWS'}, bucket {location.bucket}, prefix {prefix}", env)
    loop = _LOOPBACK.match(endpoint)
    if loop and not _answers(int(loop.group(3) or 80)):
        env.setdefault("AWS_ACCESS_KEY_ID", f"efacture-{secrets.token_hex(4)}")
        env.setdefault("AWS_SECRET_ACCESS_KEY", secrets.token_hex(16))
        store.label = (f"S3: SeaweedFS on {endpoint}, started for the run "
                       f"(bucket {location.bucket}, prefix {prefix})")
        store.seaweed_home = root / "seaweedfs-run"
        store._start_seaweed()
    return store
