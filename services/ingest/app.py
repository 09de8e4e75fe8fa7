"""Ingest's FastStream wiring: consume ``efacture.ingest``, manual acks."""

from __future__ import annotations

from faststream import FastStream
from faststream.middlewares import AckPolicy

from services.ingest.adapters import amqp_strings
from services.ingest.handlers import make_handler
from services.ingest.service import IngestService
from shared.consumer import raw_body
from shared.runtime import Runtime
from shared.settings import Settings
from shared.topology import Q_INGEST


def create_app(settings: Settings) -> FastStream:
    amqp_strings.install()  # ERP properties that are not UTF-8 must not kill the connection
    rt = Runtime(settings, "ingest")
    handler = make_handler(IngestService(rt))
    rt.broker.subscriber(rt.topology.queue(Q_INGEST), ack_policy=AckPolicy.MANUAL, decoder=raw_body,
                         title="ingest", description="ERP submissions")(handler)
    return FastStream(rt.broker, on_startup=[rt.start], after_startup=[rt.announce_ready],
                      after_shutdown=[rt.stop], logger=None)
