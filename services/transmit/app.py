"""Transmit's FastStream wiring: archived invoices to upload, due acknowledgements to read."""

from __future__ import annotations

from faststream import FastStream

from services.transmit.breaker_report import BreakerReport
from services.transmit.follower import LifecycleFollower
from services.transmit.handlers import make_handlers
from services.transmit.lifecycle import LifecycleService
from services.transmit.polling import AckPoller
from services.transmit.service import TransmitService
from services.transmit.webhooks import WebhookManager
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_TRANSMIT, Q_TRANSMIT_POLL

POLL_PERIOD_S = 0.5  # a due flow waits at most this long past its poll_at


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
    # Every process: the claim's SKIP LOCKED shares the due flows out (polling.py).
    rt.every(POLL_PERIOD_S, AckPoller(service).drain)
    rt.consume(Q_TRANSMIT, on_archived, title="transmit",
               description="archived invoices to upload")
    rt.consume(Q_TRANSMIT_POLL, on_poll, title="transmit-poll",
               description="poll messages of earlier versions (made due in the database)")
    return rt.app(on_startup=[service.open, hooks.start],
                  after_shutdown=[hooks.stop, service.close])
