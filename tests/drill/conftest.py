"""Drill fixtures: ``efacture up`` logging at INFO (the drills count the services' own
"repeated" and "requeued" lines) with the sandbox tenant of ``tests.support.invoices``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.drill import Sim, started
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
    with started(System(infra, tmp_path_factory.mktemp("efacture-drill"), **DRILL_ENV,
                        **drill_env), TENANT) as sys_:
        yield sys_


@pytest.fixture(scope="module")
def sim(system: System) -> Sim:
    return Sim(system.env["EFACTURE_PA_SIM_PORT"], system.env["EFACTURE_DATA_DIR"])
