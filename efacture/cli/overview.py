"""``status`` without an id: queue depths, consumers, dead letters at a glance."""

from __future__ import annotations

import click
import pika
import pika.exceptions

from efacture.cli.output import emit, fail, table
from shared.settings import get_settings
from shared.topology import Topology


def queue_stats() -> list[dict[str, object]]:
    s = get_settings()
    topo = Topology.build(s.transmit_retry_delays, s.delivery_limit)
    try:
        conn = pika.BlockingConnection(pika.URLParameters(s.amqp_url))
    except pika.exceptions.AMQPError:
        fail("cannot reach RabbitMQ at the configured EFACTURE_AMQP_URL.")
    out: list[dict[str, object]] = []
    try:
        for b in topo.bindings:
            ch = conn.channel()
            try:
                ok = ch.queue_declare(b.queue.name, passive=True)
                out.append({"queue": b.queue.name, "messages": ok.method.message_count,
                            "consumers": ok.method.consumer_count})
            except pika.exceptions.ChannelClosedByBroker:
                out.append({"queue": b.queue.name, "messages": None, "consumers": None})
    finally:
        conn.close()
    return out


def overview(as_json: bool) -> None:
    queues = queue_stats()
    dlq = sum(int(q["messages"] or 0) for q in queues if str(q["queue"]).endswith(".dlq"))
    data = {"queues": queues, "dead_letters": dlq}
    emit(data, as_json, lambda: (
        table("queues", ["queue", "messages", "consumers"],
              [[q["queue"], q["messages"], q["consumers"]] for q in queues]),
        click.echo(f"dead letters: {dlq}")))
