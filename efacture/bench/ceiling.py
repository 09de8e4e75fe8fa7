"""What the broker alone allows: the pipeline's hops with empty FastStream handlers.

``chain``: as many quorum queues as the pipeline has hops (inbound → ingest → archive →
transmit: three work queues, declared like ours by ``shared.topology.work_queue``); each
handler republishes the body to the next queue with publisher confirms, then acks (manual
ack, like ours); the last one only acks. ``single``: one quorum queue, an empty handler.
The first publish is the benchmark's own confirming publisher, as for the pipeline, and the
rate is messages / (last consumed at the last hop − first submitted). All handlers run in
this one process and event loop (the pipeline spreads its hops over processes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.annotations import RabbitMessage

from efacture.bench.publisher import ItemSource, Publisher
from shared.consumer import raw_body
from shared.topology import work_queue

CHAIN = ("bench.ceiling.ingest", "bench.ceiling.archive", "bench.ceiling.transmit")
SINGLE = ("bench.ceiling.single",)


async def _measure(amqp_url: str, queues: tuple[str, ...], count: int, source: ItemSource,
                   *, threads: int, prefetch: int, wait_s: float) -> tuple[float, int]:
    # No per-message log lines: they would cost the ceiling what our services do not pay.
    broker = RabbitBroker(amqp_url, logger=None,
                          default_channel=Channel(prefetch_count=prefetch, on_return_raises=True))
    done = asyncio.Event()
    seen: set[str] = set()
    state = {"duplicates": 0, "last": 0.0}

    def relay(target: str) -> Callable[[bytes, RabbitMessage], Awaitable[None]]:
        async def handler(body: bytes, msg: RabbitMessage) -> None:
            await broker.publish(body, queue=target, persist=True, mandatory=True,
                                 message_id=msg.message_id)
            await msg.ack()
        return handler

    async def sink(body: bytes, msg: RabbitMessage) -> None:
        await msg.ack()
        mid = msg.message_id or ""
        if mid in seen:
            state["duplicates"] += 1
            return
        seen.add(mid)
        if len(seen) >= count:
            state["last"] = time.perf_counter()
            done.set()

    for i, name in enumerate(queues):
        handler = relay(queues[i + 1]) if i + 1 < len(queues) else sink
        broker.subscriber(work_queue(name, name), ack_policy=AckPolicy.MANUAL,
                          decoder=raw_body)(handler)
    await broker.start()
    try:
        pub = Publisher(amqp_url, exchange="", routing_key=queues[0], threads=threads)
        t0 = time.perf_counter()
        await asyncio.to_thread(pub.burst, count, source)
        await asyncio.wait_for(done.wait(), wait_s)
        if pub.errors:
            raise RuntimeError(f"ceiling publish failed: {pub.errors[:3]}")
        return count / (state["last"] - t0), int(state["duplicates"])
    finally:
        await broker.stop()


def measure(amqp_url: str, count: int, source: ItemSource, *, chain: bool, threads: int = 8,
            prefetch: int = 32, timeout: float = 600) -> tuple[float, int]:
    """(messages per second through the chain (``chain``) or the single hop, messages that
    reached the end twice). The rate counts distinct messages only.
    Raises ``TimeoutError`` when they do not all arrive within ``timeout``."""
    queues = CHAIN if chain else SINGLE
    return asyncio.run(_measure(amqp_url, queues, count, source, threads=threads,
                                prefetch=prefetch, wait_s=timeout))
