"""Metering throughput: events/s through the metering consumer, against the broker's single hop.

Usage: ``python benchmarks/metering.py [--json] [--events N]``

Runs on the real RabbitMQ and PostgreSQL (a vhost and a database of its own, removed after;
the same servers the tests use). Each workload pre-loads N messages into its queue, then starts
its consumer and times from the first delivery handled to the last one acked:

- ``broker single hop``: a plain quorum queue, an empty FastStream handler that acks;
- ``metering, batched``: the metering service's own handler, batcher and counters
  (``services/metering/app.py``'s sizes), N ``InvoiceArchived`` events over 20 tenants;
- ``metering, one commit per event``: the same with batches of one (the design before
  batching: every event its own transaction, up to the pool's 8 at once, prefetch 32).

The figure that matters is the ratio of the batched metering rate to the single-hop rate
(target: at least 0.8), both measured in the same run on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, QueueType, RabbitBroker, RabbitQueue
from faststream.rabbit.annotations import RabbitMessage

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from services.metering import app as metering_app  # noqa: E402
from services.metering.handlers import make_handler  # noqa: E402
from services.metering.service import MeteringEvent, MeteringService  # noqa: E402
from shared import db  # noqa: E402
from shared.batcher import Batcher  # noqa: E402
from shared.messages.internal import InvoiceArchived  # noqa: E402
from shared.runtime import Runtime  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.topology import INTERNAL, Q_METERING, RK_ARCHIVED_KEEP  # noqa: E402
from tests.support import infra as infra_mod  # noqa: E402

HOP_QUEUE = "bench.single_hop"


class Clock:
    """First handled and last finished instants, and how many finished."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.first_cpu = 0.0
        self.last = 0.0
        self.last_cpu = 0.0
        self.done = 0

    def started(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()
            self.first_cpu = time.process_time()

    def finished(self, n: int = 1) -> None:
        self.done += n
        self.last = time.perf_counter()
        self.last_cpu = time.process_time()

    def rates(self) -> dict[str, float]:
        """Events per second, and per CPU-second of this consumer process (which stays
        meaningful when other processes share the machine)."""
        assert self.first is not None
        return {"per_s": self.done / (self.last - self.first),
                "per_cpu_s": self.done / max(self.last_cpu - self.first_cpu, 1e-9)}


def _preload(amqp_url: str, exchange: str, routing_key: str, bodies: list[bytes]) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    for body in bodies:
        ch.basic_publish(exchange, routing_key, body, pika.BasicProperties(
            delivery_mode=2, content_type="application/json", message_id=str(uuid.uuid4())))
    conn.close()


def _wait_depth(amqp_url: str, queue: str, n: int) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    ch = conn.channel()
    while ch.queue_declare(queue, passive=True).method.message_count < n:
        time.sleep(0.05)
    conn.close()


async def _until(clock: Clock, n: int) -> None:
    while clock.done < n:  # noqa: ASYNC110 - polled: an event set per message would skew it
        await asyncio.sleep(0.005)


async def single_hop(settings: Settings, n: int, prefetch: int) -> dict[str, float]:
    queue = RabbitQueue(HOP_QUEUE, queue_type=QueueType.QUORUM, durable=True)
    broker = RabbitBroker(settings.amqp_url, logger=None)
    await broker.connect()
    await broker.declare_queue(queue)
    await asyncio.to_thread(_preload, settings.amqp_url, "", HOP_QUEUE, [b"{}"] * n)
    await asyncio.to_thread(_wait_depth, settings.amqp_url, HOP_QUEUE, n)
    clock = Clock()

    async def empty(msg: RabbitMessage) -> None:
        clock.started()
        await msg.ack()
        clock.finished()

    broker.subscriber(queue, ack_policy=AckPolicy.MANUAL,
                      channel=Channel(prefetch_count=prefetch))(empty)
    await broker.start()
    await _until(clock, n)
    await broker.stop()
    return clock.rates()


class TimedService(MeteringService):
    def __init__(self, rt: Runtime, clock: Clock) -> None:
        super().__init__(rt)
        self.clock = clock

    async def count(self, events: Any) -> int:
        self.clock.started()
        changed = await super().count(events)
        self.clock.finished(len(events))
        return changed


async def metering(settings: Settings, n: int, *, batch: int, workers: int, prefetch: int,
                   tenants: list[str]) -> dict[str, float]:
    rt = Runtime(settings, "metering")
    await rt.start()
    now = datetime.now(UTC)
    bodies = [InvoiceArchived(
        invoice_id=uuid.uuid4(), tenant=tenants[i % len(tenants)], submission_id=f"b-{i}",
        invoice_number=None, sha256="0" * 64, syntax=None, profile=None, transmit=False,
        archived_at=now).model_dump_json().encode() for i in range(n)]
    await asyncio.to_thread(_preload, settings.amqp_url, INTERNAL, RK_ARCHIVED_KEEP, bodies)
    await asyncio.to_thread(_wait_depth, settings.amqp_url, Q_METERING, n)
    clock = Clock()
    batcher: Batcher[MeteringEvent] = Batcher(
        TimedService(rt, clock).count, max_size=batch, max_delay=metering_app.BATCH_LINGER_S,
        workers=workers)
    subscriber = rt.consume(Q_METERING, make_handler(batcher), title="metering",
                            description="benchmark", prefetch=prefetch)
    await rt.broker.start()
    await _until(clock, n)
    await subscriber.stop()
    await batcher.close()
    await rt.stop()
    await rt.broker.stop()
    return clock.rates()


async def run(n: int) -> dict[str, Any]:
    made = infra_mod.create("efacture_bench")
    try:
        settings = Settings(amqp_url=made.amqp_url, database_url=made.database_url,
                            log_level="WARNING", metrics_port_base=infra_mod.free_port())
        await asyncio.to_thread(db.migrate, settings.database_url)
        tenants = [f"9999999980{i:04d}" for i in range(20)]
        prefetch = metering_app.PREFETCH
        hop = await single_hop(settings, n, prefetch)
        batched = await metering(settings, n, batch=metering_app.BATCH_SIZE, workers=2,
                                 prefetch=prefetch, tenants=tenants)
        single = await metering(settings, n, batch=1, workers=8, prefetch=32, tenants=tenants)
    finally:
        infra_mod.destroy(made)
    return {
        "events": n,
        "prefetch": prefetch,
        "batch_size": metering_app.BATCH_SIZE,
        "rates": {
            "broker single hop": hop,
            "metering, batched": batched,
            "metering, one commit per event": single,
        },
        "ratio_batched_to_hop": batched["per_s"] / hop["per_s"],
        "ratio_unbatched_to_hop": single["per_s"] / hop["per_s"],
        "cpu_ratio_batched_to_hop": batched["per_cpu_s"] / hop["per_cpu_s"],
        "target_ratio": 0.8,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    result = asyncio.run(run(args.events))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['events']} events, prefetch {result['prefetch']}, "
          f"batch {result['batch_size']}")
    print(f"{'workload':<32} {'events/s':>9} {'x hop':>6} {'events/cpu-s':>13} {'x hop':>6}")
    hop = result["rates"]["broker single hop"]
    for name, rate in result["rates"].items():
        print(f"{name:<32} {rate['per_s']:>9.0f} {rate['per_s'] / hop['per_s']:>6.2f} "
              f"{rate['per_cpu_s']:>13.0f} {rate['per_cpu_s'] / hop['per_cpu_s']:>6.2f}")
    verdict = "meets" if result["ratio_batched_to_hop"] >= 0.8 else "misses"
    print(f"batched metering {verdict} the 0.8 x single-hop target")


if __name__ == "__main__":
    main()
