"""Archive's FastStream wiring: consume ``efacture.archive``, sign checkpoints periodically."""

from __future__ import annotations

from faststream import FastStream
from faststream.middlewares import AckPolicy

from services.archive.handlers import make_handler
from services.archive.service import ArchiveService
from shared.consumer import raw_body
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_ARCHIVE


def create_app(settings: Settings) -> FastStream:
    """Wiring only: keys, clients and the blob store are opened by ``service.open`` at start."""
    rt = Runtime(settings, "archive")
    service = ArchiveService(rt)
    rt.every(settings.checkpoint_interval_seconds, service.checkpoint)
    rt.broker.subscriber(
        rt.topology.queue(Q_ARCHIVE),
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        title="archive",
        description="accepted invoices",
    )(make_handler(service))
    return FastStream(
        rt.broker,
        on_startup=[service.open, rt.start],
        after_startup=[rt.announce_ready],
        after_shutdown=[rt.stop, service.close],
        logger=None,
    )
