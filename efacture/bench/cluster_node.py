"""One node of :class:`efacture.bench.cluster.RabbitCluster`: its names, ports, directory and
process, and how to tell whether it still runs (also from another process, by its pid file).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ClusterNode:
    """One node: its names, ports and directory; ``proc`` once started."""

    short: str
    amqp_port: int
    dist_port: int
    home: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{self.short}@localhost"

    @property
    def pid_file(self) -> Path:
        return self.home / "beam.pid"

    def os_pid(self) -> int | None:
        """The Erlang VM's pid (the node writes it once booted)."""
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        """Whether the node's VM runs: its process when started here, else its pid file
        (``scripts/rabbitmq-cluster stop`` runs in another process than ``start``)."""
        if self.proc is not None:
            return self.proc.poll() is None
        pid = self.os_pid()
        return pid is not None and runs(pid, str(self.home))

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for path in (self.home / "stdout.log", self.home / "log" / f"{self.name}.log"):
            if path.exists():
                parts.append(f"--- {path}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts) or "(no log written)"


def runs(pid: int, marker: str) -> bool:
    """Whether ``pid`` is alive and its command line or environment holds ``marker`` (so a
    reused pid is not taken for ours)."""
    for part in ("cmdline", "environ"):
        try:
            if marker.encode() in Path(f"/proc/{pid}/{part}").read_bytes():
                return True
        except OSError:
            continue
    return False


def kill_group(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL the process group ``proc`` leads (started with ``start_new_session``)."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
