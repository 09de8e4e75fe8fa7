"""Archive-step throughput, set against the broker's single-hop rate measured in the same run.

Usage: ``python benchmarks/archive.py [--count N] [--hops N] [--size BYTES] [--processes P]
[--json]``

Self-contained: makes a fresh RabbitMQ vhost and PostgreSQL database (the servers of the test
suite: ``EFACTURE_AMQP_URL`` / ``EFACTURE_DATABASE_URL`` or the local ones), starts
``efacture serve tsa`` and ``--processes`` × ``efacture serve archive`` (competing consumers,
default 1) on them, and removes everything after.
With ``--running`` it uses the ``EFACTURE_*`` environment of an ``efacture up`` (or
``serve archive`` + ``serve tsa``) already running instead.

1. Broker hop: N messages published with confirms to a plain quorum queue and consumed by an
   empty FastStream handler; rate = N / (first publish → last handled).
2. Archive: N ``InvoiceAccepted`` messages carrying distinct documents of ``--size`` bytes,
   published with confirms straight to ``efacture.internal`` / ``invoice.accepted``; rate =
   N / (first publish → last ``archived`` status event). Everything is on: envelope
   encryption, TSA round trip, Merkle append, fsync'd blob, commit, outbox publish.
A warm-up batch (tenant key creation, connections) runs first and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from faststream.rabbit import (  # noqa: E402
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.annotations import RabbitMessage  # noqa: E402

from shared.messages.internal import InvoiceAccepted  # noqa: E402
from shared.topology import INTERNAL, RK_ACCEPTED, STATUS  # noqa: E402

EFACTURE = str(Path(sys.executable).parent / "efacture")
TENANT = "99999999800010"
WINDOW = 256  # publishes in flight at once (each awaits its confirm)


def accepted(size: int) -> bytes:
    """One ``InvoiceAccepted`` body with a distinct document of ``size`` bytes."""
    document = (uuid.uuid4().bytes * (size // 16 + 1))[:size]
    return InvoiceAccepted(
        invoice_id=uuid.uuid4(), tenant=TENANT, submission_id=f"bench-{uuid.uuid4()}",
        sha256=hashlib.sha256(document).hexdigest(), content_type="application/xml",
        kind="cii", syntax="CII", profile="EN16931", invoice_number="BENCH",
        type_code="380", issue_date=date(2024, 1, 31), recipient_id=None, recipient_name=None,
        recipient_email=None, amount_payable="100.00", currency="EUR", transmit=False,
        received_at=datetime.now(UTC), document=document,
    ).model_dump_json(by_alias=True).encode()


async def _publish_all(broker: RabbitBroker, bodies: list[bytes], exchange: str,
                       routing_key: str) -> None:
    for start in range(0, len(bodies), WINDOW):
        await asyncio.gather(*(
            broker.publish(body, exchange=exchange, routing_key=routing_key, persist=True,
                           mandatory=True, message_id=str(uuid.uuid4()))
            for body in bodies[start:start + WINDOW]))


async def broker_hop(amqp_url: str, count: int, size: int) -> dict[str, float]:
    broker = RabbitBroker(amqp_url, logger=None)
    queue = RabbitQueue(f"bench.hop.{uuid.uuid4().hex[:8]}", durable=True,
                        queue_type=QueueType.QUORUM)
    done = asyncio.Event()
    seen = 0

    @broker.subscriber(queue)
    async def handle(msg: RabbitMessage) -> None:
        nonlocal seen
        seen += 1
        if seen >= count:
            done.set()

    await broker.start()
    try:
        body = b"x" * size
        t0 = time.perf_counter()
        await _publish_all(broker, [body] * count, "", queue.name)
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - t0
    finally:
        await broker.stop()
    return {"messages": count, "seconds": elapsed, "per_s": count / elapsed}


async def archive_run(amqp_url: str, count: int, size: int, warmup: int) -> dict[str, float]:
    broker = RabbitBroker(amqp_url, logger=None)
    queue = RabbitQueue(f"bench.archived.{uuid.uuid4().hex[:8]}", exclusive=True,
                        auto_delete=True, routing_key="status.*.archived")
    exchange = RabbitExchange(STATUS, type=ExchangeType.TOPIC, durable=True)
    archived: set[str] = set()
    target: set[str] = set()
    done = asyncio.Event()

    # The raw message: FastStream would decode an application/json body before a ``bytes``.
    @broker.subscriber(queue, exchange)
    async def on_archived(msg: RabbitMessage) -> None:
        archived.add(json.loads(msg.body)["invoice_id"])
        if target and target <= archived:
            done.set()

    await broker.start()
    result: dict[str, float] = {}
    try:
        for n, timed in ((warmup, False), (count, True)):
            bodies = [accepted(size) for _ in range(n)]
            target.clear()
            target.update(json.loads(b)["invoice_id"] for b in bodies)
            done.clear()
            t0 = time.perf_counter()
            await _publish_all(broker, bodies, INTERNAL, RK_ACCEPTED)
            await asyncio.wait_for(done.wait(), timeout=1800)
            elapsed = time.perf_counter() - t0
            if timed:
                result = {"documents": count, "seconds": elapsed, "per_s": count / elapsed,
                          "document_bytes": size}
    finally:
        await broker.stop()
    return result


def _start(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([EFACTURE, "serve", name], env=env, stdout=subprocess.PIPE,
                            stderr=open(log, "ab"))


def _wait_ready(proc: subprocess.Popen[bytes], word: bytes, timeout: float = 90) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the service exited before it was ready")
        if word in line:
            return
    raise RuntimeError("the service was not ready in time")


def _wait_tsa(port: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the TSA did not answer")


async def measure(args: argparse.Namespace, amqp_url: str) -> dict[str, Any]:
    hop = await broker_hop(amqp_url, args.hops, args.size)
    run = await archive_run(amqp_url, args.count, args.size, args.warmup)
    return {"broker_hop": hop, "archive": run, "archive_vs_hop": run["per_s"] / hop["per_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="documents archived (timed)")
    parser.add_argument("--hops", type=int, default=5000, help="messages for the broker hop")
    parser.add_argument("--size", type=int, default=30_000, help="document size in bytes")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--processes", type=int, default=1,
                        help="archive processes consuming the same queue (self-contained only)")
    parser.add_argument("--running", action="store_true",
                        help="use the EFACTURE_* environment of services already running")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    if args.running:
        result = asyncio.run(measure(args, os.environ["EFACTURE_AMQP_URL"]))
    else:
        result = self_contained(args)
    report(result, args.json)


def self_contained(args: argparse.Namespace) -> dict[str, Any]:
    from tests.support import infra as infra_mod

    made = infra_mod.create("efacture_bench")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="efacture-bench-") as data_dir:
            env = made.env(data_dir)
            env["EFACTURE_LOG_LEVEL"] = "WARNING"
            log = Path(data_dir) / "services.log"
            procs.append(_start("tsa", env, log))
            _wait_tsa(env["EFACTURE_TSA_PORT"])
            for replica in range(args.processes):  # each its own metrics port (+10 per replica)
                procs.append(_start("archive", {**env, "EFACTURE_REPLICA": str(replica)}, log))
                _wait_ready(procs[-1], b"READY archive")
            try:
                return {**asyncio.run(measure(args, made.amqp_url)),
                        "archive_processes": args.processes}
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(timeout=60)
    finally:
        infra_mod.destroy(made)


def report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
        return
    hop, run = result["broker_hop"], result["archive"]
    print(f"{'step':<44} {'count':>7} {'seconds':>8} {'per s':>9}")
    print(f"{'broker hop (quorum queue, empty handler)':<44} {hop['messages']:>7} "
          f"{hop['seconds']:>8.2f} {hop['per_s']:>9.1f}")
    print(f"{'archive (' + str(run['document_bytes'] // 1000) + ' KB, everything on)':<44} "
          f"{run['documents']:>7} {run['seconds']:>8.2f} {run['per_s']:>9.1f}")
    print(f"archive / broker hop: {result['archive_vs_hop']:.1%}")


if __name__ == "__main__":
    main()
