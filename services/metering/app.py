"""Metering's FastStream wiring: consume ``efacture.metering`` in batches; close periods."""

from __future__ import annotations

from faststream import FastStream
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitQueue

from services.metering.closing import PeriodCloser
from services.metering.handlers import make_handler
from services.metering.service import MeteringEvent, MeteringService
from shared.batcher import Batcher
from shared.consumer import raw_body
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_METERING

BATCH_SIZE = 100
"""Events per database transaction at most."""

BATCH_LINGER_S = 0.0
"""A flusher commits what is pending as soon as it is free (group commit), never waiting."""

PREFETCH = 2 * BATCH_SIZE
"""Unacked deliveries on the metering channel: enough to fill a batch while one commits."""

CLOSE_EVERY_S = 60.0


def consumed_queue() -> RabbitQueue:
    """``efacture.metering`` as the subscriber sees it: declared passively (``Runtime.start``
    declared it with its arguments). Why not the topology's object: FastStream caches a
    declared queue by its name and arguments together with the channel that declared it, so
    the subscriber would consume on the default channel and ignore its own prefetch."""
    return RabbitQueue(Q_METERING, durable=True, declare=False)


def create_app(settings: Settings) -> FastStream:
    rt = Runtime(settings, "metering")
    service = MeteringService(rt)
    batcher: Batcher[MeteringEvent] = Batcher(
        service.count, max_size=BATCH_SIZE, max_delay=BATCH_LINGER_S, workers=2)
    closer = PeriodCloser(rt)
    rt.every(CLOSE_EVERY_S, closer.run)
    channel = Channel(prefetch_count=max(settings.prefetch, PREFETCH), on_return_raises=True)
    rt.broker.subscriber(consumed_queue(), ack_policy=AckPolicy.MANUAL,
                         decoder=raw_body, channel=channel, title="metering",
                         description="archived and purged invoices")(make_handler(batcher))
    return FastStream(rt.broker, on_startup=[rt.start], after_startup=[rt.announce_ready],
                      after_shutdown=[batcher.close, rt.stop], logger=None)
