"""Drill: PostgreSQL restarted (``pg_ctlcluster … restart``, as ``test_drill_postgres.py``)
in the middle of a run, with two processes of every service: every pool, every leadership
session and every in-flight batch loses its connection at once. Afterwards each invoice is
archived and transmitted exactly once, or rejected with a reason.

The restart hits EVERY database on this server (other suites too): one restart, a few
seconds, and the drill waits until the server answers again.
"""

from __future__ import annotations

import pytest

from tests.drill.restart_drill import restart_drill
from tests.support.drill import Sim, restart_postgres
from tests.support.system import System

pytestmark = pytest.mark.drill

SERVICES = ("ingest", "archive", "transmit", "metering")


@pytest.fixture(scope="module")
def drill_env() -> dict[str, str]:
    # Small pools: eight service processes share the machine's PostgreSQL with other suites.
    return {"EFACTURE_REPLICAS": ",".join(f"{s}=2" for s in SERVICES),
            "EFACTURE_DB_POOL_SIZE": "4"}


def test_postgresql_restart_with_two_processes_of_each_service_exactly_once(
        system: System, sim: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    for service in SERVICES:
        assert len(system.child_pids(service)) == 2, f"{service} does not run twice"
    restart_drill("postgresql-restart-replicas", system, sim,
                  lambda: restart_postgres(system.infra.admin_pg), capsys)
