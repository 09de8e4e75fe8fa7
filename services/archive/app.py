"""Archive's FastStream wiring: consume ``efacture.archive``, sign checkpoints periodically."""

from __future__ import annotations

from faststream import FastStream

from services.archive.handlers import make_handler
from services.archive.service import ArchiveService
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_ARCHIVE


def create_app(settings: Settings) -> FastStream:
    """Wiring only: keys, clients and the blob store are opened by ``service.open`` at start."""
    rt = Runtime(settings, "archive")
    service = ArchiveService(rt)
    # One archive process at a time signs checkpoints and sweeps orphans (shared/leadership.py).
    rt.every(settings.checkpoint_interval_seconds, service.checkpoint, leader=True)
    rt.every(settings.checkpoint_interval_seconds, service.sweep_orphans, leader=True)
    rt.consume(Q_ARCHIVE, make_handler(service), title="archive",
               description="accepted invoices")
    return rt.app(on_startup=[service.open], after_shutdown=[service.close])
