"""``up``, ``serve NAME`` and ``topology apply``."""

from __future__ import annotations

import asyncio

import click

from efacture.cli.output import emit, json_option
from shared.settings import Settings, get_settings

SERVABLE = ("ingest", "archive", "transmit", "metering", "portal", "pa-sim", "tsa")


def apply_topology(settings: Settings) -> list[str]:
    """Declare every exchange, queue and binding (idempotent); returns the queue names."""
    from shared.amqp_nodes import rabbit_broker
    from shared.topology import Topology, declare

    topology = Topology.build(settings.transmit_retry_delays, settings.delivery_limit,
                              settings.quorum_size)

    async def run() -> None:
        broker = rabbit_broker(settings.amqp_url, logger=None)
        await broker.connect()
        try:
            await declare(broker, topology)
        finally:
            await broker.stop()

    asyncio.run(run())
    return [b.queue.name for b in topology.bindings]


def serve_service(name: str, settings: Settings) -> None:
    if name == "pa-sim":
        from services.transmit.pa_sim.app import run as run_sim

        run_sim(settings)
        return
    if name == "tsa":
        from services.archive.tsa.app import run as run_tsa

        run_tsa(settings)
        return
    import importlib

    app = importlib.import_module(f"services.{name}.app").create_app(settings)
    asyncio.run(app.run())


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--replicas", metavar="SERVICE=N,…", default=None,
                  help="Processes per service, e.g. ingest=2,archive=2,transmit=2,metering=2"
                       " (default EFACTURE_REPLICAS, else one each).")
    @json_option
    def up(replicas: str | None, as_json: bool) -> None:
        """Run every service, the PA simulator and the TSA; print `ready` once all consume."""
        from efacture.replicas import ReplicasError, parse_replicas
        from efacture.supervisor import Supervisor

        settings = get_settings()
        try:
            counts = parse_replicas(settings.replicas if replicas is None else replicas)
        except ReplicasError as exc:
            raise click.BadParameter(str(exc), param_hint="--replicas") from exc
        raise SystemExit(asyncio.run(Supervisor(settings, counts).run()))

    @cli.command()
    @click.argument("name", type=click.Choice(SERVABLE))
    @json_option
    def serve(name: str, as_json: bool) -> None:
        """Run one service in the foreground."""
        serve_service(name, get_settings())

    @cli.group()
    def topology() -> None:
        """RabbitMQ exchanges and queues."""

    @topology.command("apply")
    @json_option
    def topology_apply(as_json: bool) -> None:
        """Declare exchanges, queues and bindings (idempotent)."""
        queues = apply_topology(get_settings())
        emit({"declared": queues}, as_json,
             lambda: click.echo(f"declared {len(queues)} queues and their exchanges"))
