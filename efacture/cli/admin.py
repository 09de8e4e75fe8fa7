"""``health NAME`` (container health checks) and ``keys`` are registered here."""

from __future__ import annotations

import click
import httpx

from efacture.cli.output import emit, fail, json_option
from shared.metrics import service_port
from shared.settings import get_settings

TARGETS = ("ingest", "archive", "transmit", "metering", "pa-sim", "tsa")


def health_url(name: str) -> str:
    s = get_settings()
    if name == "pa-sim":
        return f"http://127.0.0.1:{s.pa_sim_port}/health"
    if name == "tsa":
        return f"http://127.0.0.1:{s.tsa_port}/health"
    # The port of this environment's replica (EFACTURE_REPLICA / EFACTURE_METRICS_PORT).
    port = s.metrics_port or service_port(s.metrics_port_base, name, s.replica)
    return f"http://127.0.0.1:{port}/health"


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("name", type=click.Choice(TARGETS))
    @json_option
    def health(name: str, as_json: bool) -> None:
        """Exit 0 when the named service answers its health check."""
        url = health_url(name)
        try:
            ok = httpx.get(url, timeout=3).status_code == 200
        except httpx.HTTPError:
            ok = False
        if not ok:
            fail(f"{name} is not healthy ({url} did not answer 200).")
        emit({"service": name, "healthy": True}, as_json, lambda: click.echo(f"{name}: healthy"))
