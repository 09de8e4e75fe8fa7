"""``efacture up`` as a subprocess, and the memory of its ``efacture serve NAME`` children."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVICES = ("ingest", "archive", "transmit", "metering")


def efacture_exe() -> list[str]:
    """How to run the CLI installed beside this interpreter."""
    exe = Path(sys.executable).parent / "efacture"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("efacture")
    return [found] if found else [sys.executable, "-m", "efacture"]


def _status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


class Up:
    """One ``efacture up``; :meth:`start` returns once it printed ``ready``.

    ``replicas`` (``"ingest=2,archive=2"``) runs several processes of those services: their
    health/metrics ports then need ``REPLICA_PORT_STEP`` × count consecutive ports from
    ``EFACTURE_METRICS_PORT_BASE``, so a free run of that many is taken for the base."""

    def __init__(self, env: dict[str, str], data_dir: Path, replicas: str = "") -> None:
        self.env = dict(env)
        if replicas:
            from efacture.bench.infra import listen_ports
            from efacture.replicas import parse_replicas
            from shared.metrics import REPLICA_PORT_STEP

            most = max(parse_replicas(replicas).values(), default=1)
            self.env["EFACTURE_REPLICAS"] = replicas
            self.env["EFACTURE_METRICS_PORT_BASE"] = str(listen_ports(REPLICA_PORT_STEP * most))
        self.data_dir = data_dir
        self.log = data_dir / "up.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        """Raises ``RuntimeError`` (with the log's tail) when not ready within ``timeout``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([*efacture_exe(), "up"], env=self.env,
                                         stdout=subprocess.PIPE, stderr=log, cwd=self.data_dir)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.strip() == b"ready":
                return
        self.stop()
        raise RuntimeError("efacture up did not become ready: "
                           + self.log.read_text(errors="replace")[-2000:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def cli(self, *args: str) -> str:
        """Run ``efacture ARGS`` against the same infrastructure; raises on a non-zero exit."""
        res = subprocess.run([*efacture_exe(), *args], env=self.env, capture_output=True,
                             text=True, timeout=300, cwd=self.data_dir)
        if res.returncode != 0:
            raise RuntimeError(f"efacture {' '.join(args)} failed: {res.stderr.strip()}")
        return res.stdout

    def service_pids(self) -> dict[str, int]:
        """PID of each running ``efacture serve NAME`` child of this supervisor; a second
        process of a service is keyed ``NAME#1`` (and so on), in no particular order."""
        if self.proc is None:
            return {}
        found: dict[str, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid != self.proc.pid:
                    continue
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            words = [a.decode(errors="replace") for a in argv if a]
            if len(words) >= 2 and words[-2] == "serve":
                name, k = words[-1], 0
                while (name if k == 0 else f"{name}#{k}") in found:
                    k += 1
                found[name if k == 0 else f"{name}#{k}"] = int(entry.name)
        return found

    def peak_rss_kb(self) -> dict[str, int | None]:
        """VmHWM (peak resident set, KiB) of each service child; None when not running."""
        pids = self.service_pids()
        names = [*SERVICES, *sorted(k for k in pids if k.split("#")[0] in SERVICES and "#" in k)]
        return {name: (_status_kb(pids[name], "VmHWM") if name in pids else None)
                for name in names}


def self_peak_rss_kb() -> int | None:
    return _status_kb(os.getpid(), "VmHWM")
