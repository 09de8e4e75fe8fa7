"""``status`` without an id: queue depths, consumers, dead letters at a glance."""

from __future__ import annotations

import click
import pika
import pika.exceptions

from efacture.cli.output import emit, fail, table
from shared.amqp_nodes import pika_parameters
from shared.settings import get_settings
from shared.topology import Topology


def queue_stats() -> list[dict[str, object]]:
    s = get_settings()
    topo = Topology.build(s.transmit_retry_delays, s.delivery_limit, s.quorum_size)
    try:
        # Every node of EFACTURE_AMQP_URL in turn: the first that answers shows the queues.
        conn = pika.BlockingConnection(pika_parameters(s.amqp_url))
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


def breakers() -> list[dict[str, object]]:
    """The PA circuit breakers as the transmit service last reported them."""
    from efacture.cli.dbconn import connection

    with connection() as conn:
        rows = conn.execute(
            "SELECT endpoint, state, updated_at FROM transmit.breaker ORDER BY endpoint").fetchall()
    return [{"endpoint": r[0], "state": r[1], "updated_at": r[2].isoformat()} for r in rows]


def overview(as_json: bool) -> None:
    queues = queue_stats()
    dlq = sum(int(str(q["messages"] or 0)) for q in queues if str(q["queue"]).endswith(".dlq"))
    brk = breakers()
    data = {"queues": queues, "dead_letters": dlq, "breakers": brk}

    def human() -> None:
        table("queues", ["queue", "messages", "consumers"],
              [[q["queue"], q["messages"], q["consumers"]] for q in queues])
        table("PA circuit breakers", ["endpoint", "state", "updated_at"],
              [[b["endpoint"], b["state"], b["updated_at"]] for b in brk])
        click.echo(f"dead letters: {dlq}")

    emit(data, as_json, human)
