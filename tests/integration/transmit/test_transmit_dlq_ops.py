"""``efacture dlq`` against a real broker and database, with no service consuming.

Dead letters are published as transmit publishes them (exchange ``efacture.dead``,
the service's headers); what a replay sends is read back from ``efacture.transmit``.
"""

from __future__ import annotations

import getpass
import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import psycopg
import pytest

from tests.support import infra as infra_mod
from tests.support.system import EFACTURE

pytestmark = pytest.mark.integration

DLQ = "efacture.transmit.dlq"
TRANSMIT = "efacture.transmit"


class Dlq:
    """The CLI and a pika channel on one throwaway vhost and database."""

    def __init__(self, made: infra_mod.Infra, data_dir: Path) -> None:
        self.infra = made
        self.env = made.env(str(data_dir))
        self.cwd = data_dir
        conn = pika.BlockingConnection(pika.URLParameters(made.amqp_url))
        self.conn, self.ch = conn, conn.channel()
        self.ch.confirm_delivery()

    def cli(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([EFACTURE, *args], env=self.env, capture_output=True, text=True,
                             timeout=120, cwd=self.cwd)
        assert res.returncode == code, f"{args} -> {res.returncode}: {res.stderr}"
        return res

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def dead_letter(self, *, tenant: str = "99999999800010", permanent: bool = False,
                    error: str = "pa-unavailable: 503", replays: int = 0) -> str:
        invoice_id = uuid.uuid4()
        body = {"schema_version": "efacture.invoice-archived.v1", "invoice_id": str(invoice_id),
                "tenant": tenant, "submission_id": f"sub-{invoice_id}", "invoice_number":
                f"F-{str(invoice_id)[:6]}", "sha256": "0" * 64, "syntax": "CII",
                "profile": "BASIC", "transmit": True, "archived_at": datetime.now(UTC).isoformat()}
        headers = {"x-efacture-error": error, "x-efacture-attempts": 3,
                   "x-efacture-permanent": permanent, "x-efacture-tenant": tenant,
                   "x-efacture-invoice-number": body["invoice_number"],
                   "x-efacture-replay-count": replays,
                   "x-efacture-first-failed-at": datetime.now(UTC).isoformat()}
        self.ch.basic_publish("efacture.dead", DLQ, json.dumps(body).encode(), pika.BasicProperties(
            message_id=str(uuid.uuid4()), delivery_mode=2, headers=headers,
            content_type="application/json"), mandatory=True)
        return str(invoice_id)

    def depth(self, queue: str) -> int:
        return int(self.ch.queue_declare(queue, passive=True).method.message_count)

    def drain(self, queue: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Take every message off ``queue``: (body, headers) pairs."""
        out: list[tuple[dict[str, Any], dict[str, Any]]] = []
        while True:
            method, props, body = self.ch.basic_get(queue, auto_ack=True)
            if method is None:
                return out
            out.append((json.loads(body), dict(props.headers or {})))

    def audit(self) -> list[tuple[str, str, str]]:
        with psycopg.connect(self.infra.database_url) as conn:
            rows = conn.execute("SELECT action, invoice_id::text, actor FROM transmit.dlq_audit"
                                " ORDER BY id").fetchall()
        return [(a, i, actor) for a, i, actor in rows]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def dlq(tmp_path: Path) -> Iterator[Dlq]:
    made = infra_mod.create("efacture_dlq")
    d = Dlq(made, tmp_path)
    try:
        d.cli("topology", "apply")
        yield d
    finally:
        d.close()
        infra_mod.destroy(made)


def test_list_shows_every_letter_and_removes_none(dlq: Dlq) -> None:
    first = dlq.dead_letter(permanent=True, error="InvalidFlowInfo: bad profile")
    second = dlq.dead_letter(tenant="12345678200010")
    rows = dlq.json("dlq", "list")
    assert {r["invoice_id"] for r in rows} == {first, second}
    assert set(rows[0]) == {"id", "tenant", "invoice_id", "invoice_number", "attempts",
                            "last_error", "permanent", "first_failed_at"}
    by_invoice = {r["invoice_id"]: r for r in rows}
    assert by_invoice[first]["permanent"] is True
    assert by_invoice[first]["attempts"] == 3
    assert by_invoice[second]["tenant"] == "12345678200010"
    assert dlq.depth(DLQ) == 2
    other = dlq.json("dlq", "list", "--tenant", "12345678200010")
    assert [r["invoice_id"] for r in other] == [second]
    assert [r["invoice_id"] for r in dlq.json("dlq", "list", "--reason", "flowinfo")] == [first]
    assert dlq.json("dlq", "list", "--since", "2999-01-01") == []


def test_show_gives_headers_and_body_summary(dlq: Dlq) -> None:
    invoice = dlq.dead_letter()
    [row] = dlq.json("dlq", "list")
    shown = dlq.json("dlq", "show", row["id"])
    assert shown["headers"]["x-efacture-error"] == "pa-unavailable: 503"
    assert shown["body"]["invoice_id"] == invoice
    assert "x_death" in shown
    assert dlq.depth(DLQ) == 1


def test_unknown_id_fails_and_missing_ids_is_bad_usage(dlq: Dlq) -> None:
    res = dlq.cli("dlq", "show", "no-such-letter", code=1)
    assert res.stderr.startswith("efacture: ")
    dlq.cli("dlq", "replay", code=2)


def test_replay_moves_letter_to_transmit_with_a_higher_replay_count(dlq: Dlq) -> None:
    invoice = dlq.dead_letter(replays=2)
    [row] = dlq.json("dlq", "list")
    dry = dlq.json("dlq", "replay", row["id"], "--dry-run")
    assert dry["dry_run"] is True
    assert dry["count"] == 1
    assert dlq.depth(DLQ) == 1
    assert dlq.depth(TRANSMIT) == 0
    done = dlq.json("dlq", "replay", row["id"])
    assert done["count"] == 1
    assert dlq.depth(DLQ) == 0
    [(body, headers)] = dlq.drain(TRANSMIT)
    assert body["invoice_id"] == invoice
    assert headers["x-efacture-replay-count"] == 3
    assert dlq.audit() == [("replay", invoice, dlq.env.get("USER") or getpass.getuser())]


def test_drop_removes_only_the_named_letter_and_records_it(dlq: Dlq) -> None:
    kept, dropped = dlq.dead_letter(), dlq.dead_letter()
    ids = {r["invoice_id"]: r["id"] for r in dlq.json("dlq", "list")}
    dlq.json("dlq", "drop", ids[dropped])
    assert [r["invoice_id"] for r in dlq.json("dlq", "list")] == [kept]
    assert [(a, i) for a, i, _ in dlq.audit()] == [("drop", dropped)]
    assert dlq.depth(TRANSMIT) == 0


def test_replay_killed_midway_loses_nothing(dlq: Dlq) -> None:
    invoices = {dlq.dead_letter() for _ in range(12)}
    proc = subprocess.Popen([EFACTURE, "dlq", "replay", "--all", "--rate", "4", "--json"],
                            env=dlq.env, cwd=dlq.cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while dlq.depth(TRANSMIT) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    moved = {b["invoice_id"] for b, _ in dlq.drain(TRANSMIT)}
    assert 3 <= len(moved) < len(invoices)
    remaining = {r["invoice_id"] for r in dlq.json("dlq", "list")}
    assert moved | remaining == invoices
    assert len(dlq.json("dlq", "list")) == len(remaining)
    dlq.json("dlq", "replay", "--all")
    assert dlq.depth(DLQ) == 0
    assert {b["invoice_id"] for b, _ in dlq.drain(TRANSMIT)} == remaining
