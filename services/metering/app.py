"""Metering's FastStream wiring: consume ``efacture.metering`` in batches; close periods."""

from __future__ import annotations

from faststream import FastStream

from services.metering.closing import PeriodCloser
from services.metering.handlers import make_handler
from services.metering.service import MeteringEvent, MeteringService
from shared.batcher import Batcher
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


def create_app(settings: Settings) -> FastStream:
    rt = Runtime(settings, "metering")
    service = MeteringService(rt)
    batcher: Batcher[MeteringEvent] = Batcher(
        service.count, max_size=BATCH_SIZE, max_delay=BATCH_LINGER_S, workers=2)
    closer = PeriodCloser(rt)
    rt.every(CLOSE_EVERY_S, closer.run, leader=True)
    rt.consume(Q_METERING, make_handler(batcher), title="metering",
               description="archived and purged invoices",
               prefetch=max(settings.prefetch, PREFETCH))
    return rt.app(after_shutdown=[batcher.close])
