"""A running ``efacture up`` for end-to-end tests, driven only through its CLI and the broker."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika

from tests.support.infra import Infra

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
EFACTURE = str(Path(sys.executable).parent / "efacture")


class StatusListener:
    """A queue bound to ``efacture.status`` (``status.#``) collecting every event in a thread."""

    def __init__(self, amqp_url: str, binding: str = "status.#") -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        ch = self._conn.channel()
        ch.exchange_declare("efacture.status", "topic", durable=True)
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, "efacture.status", binding)
        ch.basic_consume(q, self._on, auto_ack=True)
        self._ch = ch
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on(self, _ch: Any, _m: Any, _p: Any, body: bytes) -> None:
        with self._lock:
            self.events.append(json.loads(body))

    def _run(self) -> None:
        while not self._stop:
            self._conn.process_data_events(time_limit=0.2)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 120
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.snapshot()
            if predicate(events):
                return events
            time.sleep(0.1)
        raise AssertionError(
            f"timed out; {len(self.snapshot())} events seen: "
            f"{[(e['event'], e['submission_id']) for e in self.snapshot()][-20:]}"
        )

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):  # closing a dead connection is not an error here
            self._conn.close()


class System:
    """``efacture up`` in a subprocess with its own vhost, database and data directory."""

    def __init__(self, infra: Infra, data_dir: Path, **extra_env: str) -> None:
        self.infra = infra
        self.env = infra.env(str(data_dir))
        self.env.update(extra_env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "up.log"

    def start(self, timeout: float = 90) -> None:
        self._log_file = open(self.log, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [EFACTURE, "up"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            cwd=self.log.parent,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.strip() == b"ready":
                return
        raise AssertionError(
            f"efacture up did not print ready; log:\n{self.log.read_text()[-4000:]}"
        )

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [EFACTURE, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=self.log.parent,
        )
        if check and res.returncode != 0:
            raise AssertionError(f"efacture {' '.join(args)} -> {res.returncode}: {res.stderr}")
        return res

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def child_pids(self, name: str) -> list[int]:
        """PIDs of the ``efacture serve NAME`` processes."""
        out = subprocess.run(
            ["pgrep", "-f", f"efacture serve {name}$"], capture_output=True, text=True
        ).stdout.split()
        mine = []
        for pid in out:
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if self.infra.vhost.encode() in env:
                mine.append(int(pid))
        return mine

    def kill(self, name: str) -> list[int]:
        pids = self.child_pids(name)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids
