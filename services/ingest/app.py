"""Ingest's FastStream wiring: consume ``efacture.ingest``, manual acks."""

from __future__ import annotations

from faststream import FastStream

from services.ingest.adapters import amqp_strings
from services.ingest.handlers import make_handler
from services.ingest.service import IngestService
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_INGEST


def create_app(settings: Settings) -> FastStream:
    amqp_strings.install()  # ERP properties that are not UTF-8 must not kill the connection
    rt = Runtime(settings, "ingest")
    service = IngestService(rt)
    rt.consume(Q_INGEST, make_handler(service), title="ingest", description="ERP submissions")
    return rt.app(on_startup=[service.start], after_shutdown=[service.stop])
