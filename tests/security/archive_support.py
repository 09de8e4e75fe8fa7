"""Helpers of the archive security tests: ``efacture serve`` processes on one vhost, database
and data directory, and the internal ``invoice.accepted`` message published as ingest would."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pika

from shared.messages.internal import InvoiceAccepted
from shared.metrics import service_port
from shared.topology import INTERNAL, RK_ACCEPTED
from tests.support.infra import Infra, answers, free_port
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import EFACTURE


def _free_block(taken: set[int], size: int = 4) -> int:
    """A port whose ``size - 1`` successors are free too (the services' metrics ports), none
    of them in ``taken`` (ports handed out but not bound yet)."""
    for _ in range(50):
        base = free_port()
        if taken & set(range(base, base + size)):
            continue
        try:
            for offset in range(size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise AssertionError("no block of free ports")


class Node:
    """Services started one by one (``efacture serve NAME``), killed at :meth:`stop`."""

    def __init__(self, infra: Infra, data_dir: Path, **extra: str) -> None:
        self.infra = infra
        self.data_dir = data_dir
        env = infra.env(str(data_dir))
        taken = {int(env["EFACTURE_TSA_PORT"]), int(env["EFACTURE_PA_SIM_PORT"])}
        self.env = {**env, "EFACTURE_METRICS_PORT_BASE": str(_free_block(taken)), **extra}
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([EFACTURE, *args], env=self.env, capture_output=True, text=True,
                             timeout=180, cwd=self.data_dir)
        if check and res.returncode != 0:
            raise AssertionError(f"efacture {' '.join(args)} -> {res.returncode}: {res.stderr}")
        return res

    def serve(self, name: str, **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the node
        self._logs.append(log)
        proc = subprocess.Popen([EFACTURE, "serve", name], env={**self.env, **extra},
                                stdout=subprocess.PIPE, stderr=log, cwd=self.data_dir)
        self.procs.append(proc)
        if name in ("tsa", "pa-sim"):
            port = int(self.env["EFACTURE_TSA_PORT" if name == "tsa" else "EFACTURE_PA_SIM_PORT"])
            deadline = time.monotonic() + 60
            while not answers("127.0.0.1", port):
                assert proc.poll() is None, f"efacture serve {name} exited"
                assert time.monotonic() < deadline, f"efacture serve {name} did not start"
                time.sleep(0.1)
            return proc
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == f"READY {name}".encode():
                return proc
        raise AssertionError(f"efacture serve {name} did not start")

    def metric(self, service: str, name: str) -> float:
        """Sum of a counter over its labels of ``service`` (0 when never incremented)."""
        port = service_port(int(self.env["EFACTURE_METRICS_PORT_BASE"]), service)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        pattern = re.compile(rf'^{name}{{service="{service}"}} ([0-9.e+]+)$', re.M)
        return sum(float(m) for m in pattern.findall(text))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in self._logs:
            log.close()


def accepted(number: str, *, issue_date: date | None = date(2026, 1, 15), tenant: str = TENANT,
             **fields: Any) -> InvoiceAccepted:
    """An ``InvoiceAccepted`` as ingest publishes it, for a valid CII invoice."""
    document = cii_invoice(number)
    values: dict[str, Any] = {
        "invoice_id": uuid.uuid4(), "tenant": tenant, "submission_id": f"sub-{number}",
        "sha256": hashlib.sha256(document).hexdigest(), "content_type": "application/xml",
        "kind": "invoice", "syntax": "CII", "profile": "EN16931", "invoice_number": number,
        "type_code": "380", "issue_date": issue_date, "recipient_id": "39480491900016",
        "recipient_name": "Client", "recipient_email": None, "amount_payable": "100.00",
        "currency": "EUR", "transmit": False, "received_at": datetime(2026, 1, 15, tzinfo=UTC),
        "document": document,
    }
    values.update(fields)
    return InvoiceAccepted(**values)


def publish_accepted(amqp_url: str, messages: list[InvoiceAccepted]) -> None:
    """Publish on ``efacture.internal`` / ``invoice.accepted`` with confirms."""
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for m in messages:
            ch.basic_publish(INTERNAL, RK_ACCEPTED, m.model_dump_json().encode(),
                             pika.BasicProperties(message_id=str(m.invoice_id), delivery_mode=2,
                                                  content_type="application/json"),
                             mandatory=True)
    finally:
        conn.close()
