"""A migrated database of the module's own, the portal app on it (TestClient over https)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from services.portal.web.app import build
from shared import db
from shared.settings import Settings
from tests.integration.portal.web.portal_support import Clock, RecordingMailer
from tests.support import infra as infra_mod


@pytest.fixture(scope="module")
def pdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, infra_mod.Infra]]:
    made = infra_mod.create("efacture_portal")
    data = Path(tmp_path_factory.mktemp("portal-data"))
    settings = Settings(database_url=made.database_url, amqp_url=made.amqp_url, data_dir=data,
                        portal_url="https://portal.test", smtp_url=None)
    db.migrate(settings.database_url)
    try:
        yield settings, made
    finally:
        infra_mod.destroy(made)


@pytest.fixture(scope="module")
def settings(pdb: tuple[Settings, infra_mod.Infra]) -> Settings:
    return pdb[0]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def make_client(settings: Settings, clock: Clock, mailer: RecordingMailer
                ) -> Iterator[Callable[[], TestClient]]:
    """A new browser (own cookies); each on its own app instance, because TestClient runs
    each in its own event loop and a pool belongs to one loop."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        app = build(settings, clock=clock, mailer=mailer)
        c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)
