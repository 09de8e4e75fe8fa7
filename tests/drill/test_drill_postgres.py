"""Drill: PostgreSQL restarted (``pg_ctlcluster … restart``) in the middle
of a run. Afterwards each invoice is archived and transmitted exactly once, or rejected with a
reason.

The restart hits EVERY database on this server (other suites too): the drill restarts once,
briefly, and waits until the server answers again before going on.
"""

from __future__ import annotations

import pytest

from tests.drill.restart_drill import restart_drill
from tests.support.drill import Sim, restart_postgres
from tests.support.system import System

pytestmark = pytest.mark.drill


def test_postgresql_restart_mid_run_archives_and_transmits_exactly_once(
        system: System, sim: Sim, capsys: pytest.CaptureFixture[str]) -> None:
    restart_drill("postgresql-restart", system, sim,
                  lambda: restart_postgres(system.infra.admin_pg), capsys)
