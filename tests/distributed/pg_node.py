"""A second, throw-away PostgreSQL server on loopback that refuses writes (a stand-in for a
standby: ``default_transaction_read_only=on`` is what libpq's ``target_session_attrs`` reads).

Made with ``initdb`` in a directory of its own, run as the ``postgres`` system user when this
process is root (PostgreSQL refuses to run as root), stopped and removed by :meth:`stop`. The
machine's own PostgreSQL is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.infra import answers, free_port


def _bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: install postgresql")
    return path


class ReadOnlyPostgres:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="efacture-pg-ro-"))
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self, timeout: float = 60) -> None:
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c default_transaction_read_only=on")
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                  "-o", options, "-w", "-t", str(int(timeout)), "start")
        deadline = time.monotonic() + timeout
        while not answers("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("the read-only PostgreSQL did not answer")
            time.sleep(0.1)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop",
                      check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *args: str, check: bool = True) -> None:
        res = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120,
                             cwd=self.root)
        if check and res.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {res.stderr[-1000:]}")
