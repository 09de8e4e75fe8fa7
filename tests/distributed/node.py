"""``efacture serve`` processes started one by one on one vhost, database and data directory
(with extra environment: a blob URL, S3 credentials…), killed by :meth:`Node.stop`."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.support.infra import Infra, answers
from tests.support.system import EFACTURE

# Servers that announce nothing on stdout: ready when their port answers.
_PORT_OF = {"tsa": "EFACTURE_TSA_PORT", "pa-sim": "EFACTURE_PA_SIM_PORT"}


class Node:
    def __init__(self, infra: Infra, data_dir: Path, **extra: str) -> None:
        self.env = {**infra.env(str(data_dir)), **extra}
        self.data_dir = data_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> None:
        subprocess.run([EFACTURE, *args], env=self.env, check=True, capture_output=True,
                       timeout=120)

    def serve(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        with open(self.data_dir / f"{name}.log", "ab") as log:  # the child keeps its copy
            proc = subprocess.Popen([EFACTURE, "serve", name], env={**self.env, **extra},
                                    stdout=subprocess.PIPE, stderr=log)
        self.procs.append(proc)
        if name in _PORT_OF:
            deadline = time.monotonic() + 30
            while not answers("127.0.0.1", int(self.env[_PORT_OF[name]])):
                assert time.monotonic() < deadline, f"{name} did not start"
                assert proc.poll() is None, f"{name} exited {proc.returncode}"
                time.sleep(0.1)
            return proc
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == f"READY {name}".encode():
                return proc
        raise AssertionError(f"efacture serve {name} did not start")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
