"""Property 5 (helper ports): ``efacture up`` never trusts whoever answers on a helper's port, and
the metrics/health endpoints survive oversized and binary request lines.

Each impostor is a real HTTP server that answers ``/health`` with 200 — exactly what the old
supervisor waited for before it sent invoices to the "PA simulator" and proofs to the "TSA".
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from efacture import ports
from shared.metrics import service_port
from tests.support.infra import Infra
from tests.support.system import EFACTURE, System

pytestmark = pytest.mark.security


class _Impostor(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def impostor_on() -> Iterator[object]:
    servers: list[ThreadingHTTPServer] = []

    def start(port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), _Impostor)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _run_up(env: dict[str, str], cwd: Path, timeout: float = 120) -> tuple[int | None, str, bool]:
    """Run ``efacture up``; (exit code or None if still running, stderr, printed ready)."""
    err_path = cwd / "up.err"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([EFACTURE, "up"], env=env, stdout=subprocess.PIPE, stderr=err,
                                cwd=cwd)
        assert proc.stdout is not None
        ready = False
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            if line.strip() == b"ready":
                ready = True
                break
            if time.monotonic() > deadline:
                break
        if not ready:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        code = proc.poll()
        if code is None:  # it started anyway: stop it and report
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return code, err_path.read_text(errors="replace"), ready


@pytest.mark.parametrize("helper", ["pa-sim", "tsa", "ingest", "portal"])
def test_up_fails_loudly_when_someone_else_holds_a_helper_port(
    helper: str, infra: Infra, tmp_path: Path, impostor_on: object,
) -> None:
    env = infra.env(str(tmp_path))
    port = {
        "pa-sim": int(env["EFACTURE_PA_SIM_PORT"]),
        "tsa": int(env["EFACTURE_TSA_PORT"]),
        "ingest": service_port(int(env["EFACTURE_METRICS_PORT_BASE"]), "ingest"),
        "portal": urlsplit(env.get("EFACTURE_PORTAL_URL", "https://localhost:8443")).port or 443,
    }[helper]
    impostor_on(port)  # type: ignore[operator]

    code, stderr, ready = _run_up(env, tmp_path)

    assert not ready, f"efacture up started although port {port} belongs to someone else"
    assert code not in (None, 0), stderr
    lines = [line for line in stderr.splitlines() if line.startswith("efacture:")]
    assert len(lines) == 1, stderr
    assert str(port) in lines[0]


def _child_pid(parent: int, target: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            if ppid == parent and target.encode() in argv:
                return int(entry.name)
    raise AssertionError(f"no child {target} of {parent}")


def test_up_stops_when_someone_takes_a_dead_helpers_port(
    infra: Infra, tmp_path: Path, impostor_on: object,
) -> None:
    system = System(infra, tmp_path)
    system.start()
    try:
        assert system.proc is not None
        port = int(system.env["EFACTURE_PA_SIM_PORT"])
        os.kill(_child_pid(system.proc.pid, "pa-sim"), signal.SIGKILL)
        deadline = time.monotonic() + 5
        while True:  # the port is free the moment the child is gone; take it before up does
            try:
                impostor_on(port)  # type: ignore[operator]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        code = system.proc.wait(timeout=120)
    finally:
        system.stop()
    stderr = system.log.read_text(errors="replace")
    assert code == 1, stderr[-2000:]
    lines = [line for line in stderr.splitlines() if line.startswith("efacture:")]
    assert lines, stderr[-2000:]
    assert str(port) in lines[-1]


def test_port_ownership_is_told_apart_from_another_process(tmp_path: Path) -> None:
    with socket.socket() as mine:
        mine.bind(("127.0.0.1", 0))
        mine.listen()
        port = mine.getsockname()[1]
        assert ports.held_by(os.getpid(), port) is True
        assert ports.bind_problem("127.0.0.1", port) is not None
        other = subprocess.Popen(["sleep", "30"])
        try:
            assert ports.held_by(other.pid, port) is False
        finally:
            other.kill()
            other.wait()
    assert ports.bind_problem("127.0.0.1", port) is None


def _exchange(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Send ``data`` and read until the server closes (what a hostile client sees)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            return received
        except ConnectionResetError:
            return b""


def _status(response: bytes) -> int:
    head = response.split(b"\r\n", 1)[0].split(b" ")
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else 0


OVERSIZED = b"GET /" + b"A" * 100_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
GARBAGE = bytes(range(256)) * 64 + b"\r\n\r\n"
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def test_metrics_and_health_answer_hostile_request_lines_and_keep_serving(
    system: System,
) -> None:
    base = int(system.env["EFACTURE_METRICS_PORT_BASE"])
    for service in ("ingest", "archive", "transmit", "metering"):
        port = service_port(base, service)
        assert _status(_exchange(port, OVERSIZED)) == 414, service
        assert _status(_exchange(port, GARBAGE)) == 400, service
        assert _status(_exchange(port, b"\x00\xff" * 40_000)) in (0, 400, 414), service
        assert _status(_exchange(port, HEALTH)) == 200, service
        metrics = _exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n")
        assert _status(metrics) == 200
        assert b"efacture_messages_processed_total" in metrics
    # The simulator's and the TSA's health endpoints (uvicorn) refuse the same lines and go on.
    for port in (int(system.env["EFACTURE_PA_SIM_PORT"]), int(system.env["EFACTURE_TSA_PORT"])):
        for hostile in (OVERSIZED, GARBAGE):
            answered = _status(_exchange(port, hostile))
            assert answered == 0 or 400 <= answered < 500, (port, answered)
        assert _status(_exchange(port, HEALTH)) == 200, port
