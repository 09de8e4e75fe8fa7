"""Shared fixtures: real RabbitMQ vhosts and PostgreSQL databases, created and dropped per use."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support import infra as infra_mod  # noqa: E402
from tests.support.system import StatusListener, System  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS


@pytest.fixture(scope="module")
def infra() -> Iterator[infra_mod.Infra]:
    """A vhost and a database of this test module's own."""
    made = infra_mod.create()
    try:
        yield made
    finally:
        infra_mod.destroy(made)


@pytest.fixture(scope="module")
def system(infra: infra_mod.Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """``efacture up`` running against ``infra`` until the module's tests are done."""
    sys_ = System(infra, tmp_path_factory.mktemp("efacture-data"))
    sys_.start()
    try:
        yield sys_
    finally:
        sys_.stop()


@pytest.fixture(scope="module")
def listener(system: System) -> Iterator[StatusListener]:
    """Every status event of the module's system, collected on a queue bound to ``status.#``."""
    lst = StatusListener(system.infra.amqp_url)
    try:
        yield lst
    finally:
        lst.close()
