"""Drill fixtures: ``efacture up`` logging at INFO (the drills count the services' own
"repeated" and "requeued" lines) with the sandbox tenant of ``tests.support.invoices``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.drill import Sim
from tests.support.invoices import TENANT
from tests.support.system import System

DRILL_ENV: dict[str, str] = {"EFACTURE_LOG_LEVEL": "INFO"}


@pytest.fixture(scope="module")
def drill_env() -> dict[str, str]:
    """Override in a module for extra environment (retry delays…)."""
    return {}


@pytest.fixture(scope="module")
def system(infra: Any, tmp_path_factory: pytest.TempPathFactory,
           drill_env: dict[str, str]) -> Iterator[System]:
    sys_ = System(infra, tmp_path_factory.mktemp("efacture-drill"), **DRILL_ENV, **drill_env)
    sys_.start()
    try:
        sys_.cli("tenant", "add", TENANT, "--name", "Drill", "--subscribed-on", "2026-01-01",
                 "--sandbox")
        yield sys_
    finally:
        sys_.stop()


@pytest.fixture(scope="module")
def sim(system: System) -> Sim:
    return Sim(system.env["EFACTURE_PA_SIM_PORT"], system.env["EFACTURE_DATA_DIR"])
