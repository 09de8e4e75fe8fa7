"""``asyncapi``: the AsyncAPI document partners read, generated from the FastStream apps."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from efacture.cli.output import emit, json_option
from shared.messages.status import StatusEvent
from shared.settings import get_settings
from shared.topology import STATUS, exchange


def build_document() -> str:
    """One AsyncAPI 3 document: every service's subscriptions and the public status events."""
    from faststream.specification import AsyncAPI

    settings = get_settings()
    spec = AsyncAPI(title="efacture", version="1.0.0", schema_version="3.0.0",
                    description="E-invoicing broker: ERP submissions in, status events out "
                                "(contract: ../shared/spec/contract.md).")
    for name in ("ingest", "archive", "transmit", "metering"):
        app = importlib.import_module(f"services.{name}.app").create_app(settings)
        broker = app.brokers[0] if hasattr(app, "brokers") else app.broker
        if name == "ingest":
            broker.publisher(
                "", exchange(STATUS), routing_key="status.{tenant}.{event}",
                title="efacture.status", schema=StatusEvent,
                description="Status events (contract section 3): bind status.<SIRET>.* "
                            "or status.*.<event>; deduplicate on event_id.",
            )
        spec.add_broker(broker)
    return spec.to_specification().to_json()


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("-o", "output", default="docs/asyncapi.json", type=click.Path(dir_okay=False))
    @json_option
    def asyncapi(output: str, as_json: bool) -> None:
        """Write the AsyncAPI document generated from the FastStream apps."""
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(build_document() + "\n", encoding="utf-8")
        emit({"written": str(path)}, as_json, lambda: click.echo(f"wrote {path}"))
