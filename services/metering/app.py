"""Metering's FastStream wiring: consume ``efacture.metering``."""

from __future__ import annotations

from faststream import FastStream
from faststream.middlewares import AckPolicy

from services.metering.handlers import make_handler
from services.metering.service import MeteringService
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_METERING


def create_app(settings: Settings) -> FastStream:
    rt = Runtime(settings, "metering")
    rt.broker.subscriber(rt.topology.queue(Q_METERING), ack_policy=AckPolicy.MANUAL,
                         title="metering", description="archived and purged invoices")(
        make_handler(MeteringService(rt)))
    return FastStream(rt.broker, on_startup=[rt.start], after_startup=[rt.announce_ready],
                      after_shutdown=[rt.stop], logger=None)
