"""Archive's FastStream wiring: consume ``efacture.archive``, sign checkpoints periodically."""

from __future__ import annotations

from faststream import FastStream
from faststream.middlewares import AckPolicy

from services.archive.adapters.blobstore import FileBlobStore
from services.archive.adapters.document_sealer import DocumentSealer
from services.archive.adapters.log_key import load_log_key
from services.archive.adapters.master_key import load_master_key
from services.archive.adapters.tsa_client import TsaClient
from services.archive.handlers import make_handler
from services.archive.service import ArchiveService
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_ARCHIVE


def create_app(settings: Settings) -> FastStream:
    rt = Runtime(settings, "archive")
    tsa = TsaClient.from_settings(settings)
    service = ArchiveService(
        rt, DocumentSealer(load_master_key(settings)), FileBlobStore(settings.data_dir / "blobs"), tsa
    )
    signer = load_log_key(settings.data_dir)
    rt.every(settings.checkpoint_interval_seconds, lambda: service.checkpoint(signer))
    rt.broker.subscriber(rt.topology.queue(Q_ARCHIVE), ack_policy=AckPolicy.MANUAL,
                         title="archive", description="accepted invoices")(make_handler(service))
    return FastStream(rt.broker, on_startup=[rt.start], after_startup=[rt.announce_ready],
                      after_shutdown=[rt.stop, tsa.aclose], logger=None)
