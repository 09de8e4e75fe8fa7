"""Transmit's FastStream wiring: archived invoices to upload, flow polls to follow."""

from __future__ import annotations

from faststream import FastStream

from services.transmit.breaker_report import BreakerReport
from services.transmit.follower import LifecycleFollower
from services.transmit.handlers import make_handlers
from services.transmit.lifecycle import LifecycleService
from services.transmit.service import TransmitService
from services.transmit.webhooks import WebhookManager
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_TRANSMIT, Q_TRANSMIT_POLL


def create_app(settings: Settings) -> FastStream:
    """Wiring only: the PA client and the archive reader are opened by ``service.open``."""
    rt = Runtime(settings, "transmit")
    service = TransmitService(rt)
    on_archived, on_poll = make_handlers(service, LifecycleService(service))
    follower = LifecycleFollower(service)
    hooks = WebhookManager(service, follower)
    rt.every(2.0, follower.follow, leader=True)  # one follower per deployment reads the PA
    rt.every(5.0, hooks.reconcile, leader=True)
    rt.every(2.0, BreakerReport(service).report)
    rt.consume(Q_TRANSMIT, on_archived, title="transmit",
               description="archived invoices to upload")
    rt.consume(Q_TRANSMIT_POLL, on_poll, title="transmit-poll",
               description="flow acknowledgements")
    return rt.app(on_startup=[service.open, hooks.start],
                  after_shutdown=[hooks.stop, service.close])
