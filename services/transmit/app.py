"""Transmit's FastStream wiring: archived invoices to upload, flow polls to follow."""

from __future__ import annotations

from faststream import FastStream
from faststream.middlewares import AckPolicy

from services.transmit.breaker_report import BreakerReport
from services.transmit.follower import LifecycleFollower
from services.transmit.handlers import make_handlers
from services.transmit.lifecycle import LifecycleService
from services.transmit.service import TransmitService
from shared.consumer import raw_body
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_TRANSMIT, Q_TRANSMIT_POLL


def create_app(settings: Settings) -> FastStream:
    """Wiring only: the PA client and the archive reader are opened by ``service.open``."""
    rt = Runtime(settings, "transmit")
    service = TransmitService(rt)
    on_archived, on_poll = make_handlers(service, LifecycleService(service))
    rt.every(2.0, LifecycleFollower(service).follow)
    rt.every(2.0, BreakerReport(service).report)
    rt.broker.subscriber(
        rt.topology.queue(Q_TRANSMIT),
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        title="transmit",
        description="archived invoices to upload",
    )(on_archived)
    rt.broker.subscriber(
        rt.topology.queue(Q_TRANSMIT_POLL),
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        title="transmit-poll",
        description="flow acknowledgements",
    )(on_poll)
    return FastStream(
        rt.broker,
        on_startup=[service.open, rt.start],
        after_startup=[rt.announce_ready],
        after_shutdown=[rt.stop, service.close],
        logger=None,
    )
