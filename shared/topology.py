"""Every exchange, queue, binding and queue argument, declared from this one module.

Work queues are quorum queues with a delivery limit and at-least-once
dead-lettering (``x-overflow: reject-publish`` is required for it), so a
poison message is never requeued forever and a dead letter is never lost.
Transmit retries go through fixed-delay queues whose expired messages are
dead-lettered back onto the transmit queue: no consumer ever sleeps.
Declaring is idempotent: the same names and arguments every time.

Every quorum queue is declared with ``x-quorum-initial-group-size`` = ``quorum_size`` (3 by
default): three replicas on a cluster of three or more nodes, one member per node on a smaller
one (RabbitMQ 3.10 caps the size at the cluster's node count; measured in
``tests/distributed/test_rabbit_cluster.py``). The value must be the same in every process and
must not change for an existing queue: RabbitMQ refuses a redeclaration with another value (or
with none, for a queue declared before it was set) with ``PRECONDITION_FAILED``. ``0`` leaves
the argument out (RabbitMQ's default: a member on every node of the cluster).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below are imported by light CLI commands: faststream only on use
    from faststream.rabbit import RabbitExchange, RabbitQueue
    from faststream.rabbit.schemas.queue import QuorumQueueArgs

INBOUND = "efacture.inbound"       # contract: ERP → broker
STATUS = "efacture.status"         # contract: broker → partners
INTERNAL = "efacture.internal"     # between services
DEAD = "efacture.dead"             # dead letters of every work queue
RETRY = "efacture.retry"           # into the delay queues

RK_SUBMIT = "invoice.submit"
# Per-tenant submission keys ``invoice.submit.<SIRET>``: an ERP user's topic permission allows
# its own key only, so the routing key ingest receives names the authenticated tenant.
RK_SUBMIT_TENANT = "invoice.submit.*"
RK_ACCEPTED = "invoice.accepted"
RK_ARCHIVED_TRANSMIT = "invoice.archived.transmit"
RK_ARCHIVED_KEEP = "invoice.archived.keep"
RK_PURGED = "invoice.purged"
RK_TRANSMIT_RETRY = "transmit.retry"
RK_FLOW_POLL = "flow.poll"

Q_INGEST = "efacture.ingest"
Q_ARCHIVE = "efacture.archive"
Q_TRANSMIT = "efacture.transmit"
Q_TRANSMIT_POLL = "efacture.transmit.poll"
Q_METERING = "efacture.metering"
# Recipients told once per archived invoice; purged invoices' renderings forgotten.
Q_PORTAL_NOTIFY = "efacture.portal.notify"

POLL_DELAY_SECONDS = 1
# Replicas of every quorum queue: survives the loss of one node of three (a majority stays).
QUORUM_SIZE = 3


def exchange(name: str) -> RabbitExchange:
    from faststream.rabbit import ExchangeType, RabbitExchange

    kind = ExchangeType.DIRECT if name == RETRY else ExchangeType.TOPIC
    return RabbitExchange(name, type=kind, durable=True)


def submit_key(siret: str) -> str:
    """The routing key on which tenant ``siret``'s ERP submits (see ``RK_SUBMIT_TENANT``)."""
    return f"{RK_SUBMIT}.{siret}"


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


def replicated(arguments: QuorumQueueArgs, quorum_size: int) -> QuorumQueueArgs:
    """``arguments`` with the group size of a quorum queue (left out when ``quorum_size`` is 0)."""
    if quorum_size < 0:
        raise ValueError(f"a quorum queue needs 0 (RabbitMQ's default) or more members, "
                         f"not {quorum_size}")
    if quorum_size:
        arguments["x-quorum-initial-group-size"] = quorum_size
    return arguments


def work_queue(name: str, routing_key: str, *, delivery_limit: int = 20,
               quorum_size: int = QUORUM_SIZE) -> RabbitQueue:
    """A quorum work queue bound to ``routing_key`` whose rejects go to its DLQ."""
    from faststream.rabbit import QueueType, RabbitQueue

    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=routing_key,
        arguments=replicated({
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": DEAD,
            "x-dead-letter-routing-key": dlq_name(name),
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }, quorum_size),
    )


def delay_queue_name(seconds: int, target: str) -> str:
    return f"efacture.delay.{target}.{seconds}s"


def delay_queue(seconds: int, target_rk: str, quorum_size: int = QUORUM_SIZE) -> RabbitQueue:
    """Messages wait ``seconds`` here, then are dead-lettered to ``INTERNAL`` with ``target_rk``."""
    from faststream.rabbit import QueueType, RabbitQueue

    return RabbitQueue(
        delay_queue_name(seconds, target_rk),
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=delay_queue_name(seconds, target_rk),
        arguments=replicated({
            "x-message-ttl": seconds * 1000,
            "x-dead-letter-exchange": INTERNAL,
            "x-dead-letter-routing-key": target_rk,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }, quorum_size),
    )


def dead_queue(work: str, quorum_size: int = QUORUM_SIZE) -> RabbitQueue:
    from faststream.rabbit import QueueType, RabbitQueue

    return RabbitQueue(
        dlq_name(work), queue_type=QueueType.QUORUM, durable=True, routing_key=dlq_name(work),
        arguments=replicated({}, quorum_size),
    )


@dataclass(frozen=True)
class Binding:
    queue: RabbitQueue
    exchange: str
    routing_keys: tuple[str, ...]


@dataclass(frozen=True)
class Topology:
    """The whole declared shape; built from settings so delays and limits are configurable."""

    retry_delays: tuple[int, ...]
    delivery_limit: int = 20
    quorum_size: int = QUORUM_SIZE
    bindings: list[Binding] = field(default_factory=list)

    @classmethod
    def build(cls, retry_delays: tuple[int, ...], delivery_limit: int = 20,
              quorum_size: int = QUORUM_SIZE) -> Topology:
        t = cls(retry_delays=tuple(sorted(set(retry_delays))), delivery_limit=delivery_limit,
                quorum_size=quorum_size)
        lim, size = delivery_limit, quorum_size

        def work(name: str, routing_key: str) -> RabbitQueue:
            return work_queue(name, routing_key, delivery_limit=lim, quorum_size=size)

        t.bindings.extend([
            Binding(work(Q_INGEST, RK_SUBMIT), INBOUND, (RK_SUBMIT, RK_SUBMIT_TENANT)),
            Binding(work(Q_ARCHIVE, RK_ACCEPTED), INTERNAL, (RK_ACCEPTED,)),
            Binding(work(Q_TRANSMIT, RK_ARCHIVED_TRANSMIT), INTERNAL,
                    (RK_ARCHIVED_TRANSMIT, RK_TRANSMIT_RETRY)),
            Binding(work(Q_TRANSMIT_POLL, RK_FLOW_POLL), INTERNAL, (RK_FLOW_POLL,)),
            Binding(work(Q_METERING, RK_ARCHIVED_TRANSMIT), INTERNAL,
                    (RK_ARCHIVED_TRANSMIT, RK_ARCHIVED_KEEP, RK_PURGED)),
            Binding(work(Q_PORTAL_NOTIFY, RK_ARCHIVED_TRANSMIT), INTERNAL,
                    (RK_ARCHIVED_TRANSMIT, RK_ARCHIVED_KEEP, RK_PURGED)),
        ])
        for q in (Q_INGEST, Q_ARCHIVE, Q_TRANSMIT, Q_TRANSMIT_POLL, Q_METERING, Q_PORTAL_NOTIFY):
            t.bindings.append(Binding(dead_queue(q, size), DEAD, (dlq_name(q),)))
        for seconds in t.retry_delays:
            dq = delay_queue(seconds, RK_TRANSMIT_RETRY, size)
            t.bindings.append(Binding(dq, RETRY, (dq.name,)))
        poll = delay_queue(POLL_DELAY_SECONDS, RK_FLOW_POLL, size)
        t.bindings.append(Binding(poll, RETRY, (poll.name,)))
        return t

    def queue(self, name: str) -> RabbitQueue:
        for b in self.bindings:
            if b.queue.name == name:
                return b.queue
        raise KeyError(name)

    def retry_queue_for(self, attempt: int, retry_after: float | None = None) -> str | None:
        """The delay queue for retry number ``attempt`` (1-based), or None when retries are spent.

        A PA's ``Retry-After`` longer than the scheduled delay picks the next longer queue.
        """
        if attempt > len(self.retry_delays):
            return None
        delay = self.retry_delays[attempt - 1]
        if retry_after is not None and retry_after > delay:
            longer = [d for d in self.retry_delays if d >= retry_after]
            delay = longer[0] if longer else self.retry_delays[-1]
        return delay_queue_name(delay, RK_TRANSMIT_RETRY)

    @property
    def poll_queue(self) -> str:
        return delay_queue_name(POLL_DELAY_SECONDS, RK_FLOW_POLL)

    def exchanges(self) -> list[RabbitExchange]:
        return [exchange(n) for n in (INBOUND, STATUS, INTERNAL, DEAD, RETRY)]


async def declare(broker: Any, topology: Topology) -> None:
    """Declare every exchange, queue and binding on a connected FastStream ``RabbitBroker``."""
    exchanges = {e.name: await broker.declare_exchange(e) for e in topology.exchanges()}
    for b in topology.bindings:
        q = await broker.declare_queue(b.queue)
        for rk in b.routing_keys:
            await q.bind(exchanges[b.exchange], routing_key=rk)
