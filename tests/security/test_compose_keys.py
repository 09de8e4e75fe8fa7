"""The keys scripts/compose-secrets writes are the ones the services load, as compose gives them.

Issue 14, item 2: each key lives only where it is used, from configuration, never from a
shared data directory. No Docker engine runs here, so the test does what compose would: it
runs the script into a temporary directory, maps each service's ``secrets:``, ``configs:`` and
bind mounts of docker-compose.yml onto the files written there, builds that service's
:class:`Settings` from the key settings of its ``environment:`` and calls the project's own
loaders. Each service's data directory is an empty directory that must stay empty.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.archive.adapters.log_key import existing_log_key, load_log_key
from services.archive.adapters.tsa_client import parse_response
from services.archive.adapters.tsa_trust import TrustedTokens, chain_pem, root_pem
from services.archive.tsa.authority import TimeStampAuthority
from services.archive.tsa.keystore import tsa_key_dir
from services.archive.tsa.protocol import build_request
from shared.settings import Settings
from shared.vault.master_key import MasterKey, load_master_key
from shared.vault.master_source import MasterKeySource
from tests.security.compose_support import key_env, load_compose, run_script

pytestmark = pytest.mark.security

CONTAINER_UID = 10001  # the Dockerfile's user
# Derived from .env and written again on every run (same content); the lock file is the TSA's.
REWRITTEN = {"rabbitmq-definitions.json", "seaweedfs-s3.json", ".lock"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("compose-root")
    done = run_script(made)
    assert done.returncode == 0, done.stderr
    assert "made master.key, log.key, tsa/" in done.stdout
    return made


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what compose gives counts: no EFACTURE_* of the test process leaks in."""
    for key in list(os.environ):
        if key.startswith("EFACTURE_"):
            monkeypatch.delenv(key)


def _settings(compose: dict[str, Any], name: str, root: Path, data_dir: Path) -> Settings:
    """The service's key settings as compose gives them (host paths), its own data dir."""
    values: dict[str, Any] = {key.removeprefix("EFACTURE_").lower(): value
                              for key, value in key_env(compose, name, root).items()}
    return Settings(_env_file=None, data_dir=data_dir, **values)  # type: ignore[call-arg]


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty data directory: loading a configured key must write nothing there."""
    directory = tmp_path / "data"
    directory.mkdir()
    yield directory
    assert not list(directory.iterdir()), f"a service wrote {list(directory.iterdir())}"


def test_the_files_have_private_modes_and_the_certificates_are_public(root: Path) -> None:
    keys = root / "var/compose"
    modes = {path.name: stat.S_IMODE(path.stat().st_mode)
             for path in (*keys.iterdir(), *(keys / "tsa").iterdir())}
    assert modes["master.key"] == modes["log.key"] == modes["tsa-key.pem"] == 0o600
    assert modes["tsa"] == 0o700
    assert modes["tsa-ca.pem"] == modes["tsa-chain.pem"] == 0o644  # public, mounted as configs
    assert "ca-key.pem" not in modes, "the TSA's CA key must never be written"
    if os.geteuid() == 0:  # run as root, the script hands them to the containers' user
        for path in (keys / "master.key", keys / "log.key", keys / "tsa", keys / "tsa/tsa-key.pem"):
            assert path.stat().st_uid == CONTAINER_UID, path


def test_archive_transmit_and_the_operator_open_one_master_key(
        compose: dict[str, Any], root: Path, data_dir: Path) -> None:
    ids = set()
    for name in ("archive", "transmit", "migrate"):
        settings = _settings(compose, name, root, data_dir)
        assert settings.master_key_file is not None
        assert settings.master_key is None
        key = load_master_key(settings, generate=False)
        assert MasterKeySource(settings).current().key_id == key.key_id  # what services use
        ids.add(key.key_id)
    text = (root / "var/compose/master.key").read_text(encoding="ascii")
    assert ids == {MasterKey.from_base64(text).key_id}


def test_archive_and_the_operator_load_the_log_signing_key(
        compose: dict[str, Any], root: Path, data_dir: Path) -> None:
    archive = _settings(compose, "archive", root, data_dir)
    signer = load_log_key(archive)
    operator = existing_log_key(_settings(compose, "migrate", root, data_dir))
    assert operator is not None
    assert operator.public_key().public_bytes_raw() == signer.public_key().public_bytes_raw()
    signature = signer.sign(b"checkpoint")
    operator.public_key().verify(signature, b"checkpoint")  # raises if it is another key


def test_archive_trusts_the_tsa_without_reading_its_key_directory(
        compose: dict[str, Any], root: Path, data_dir: Path) -> None:
    tsa_settings = _settings(compose, "tsa", root, data_dir)
    archive = _settings(compose, "archive", root, data_dir)
    assert tsa_key_dir(tsa_settings) == root / "var/compose/tsa"
    # archive is given no key directory: its default (under its data dir) stays absent.
    assert archive.tsa_key_dir is None
    assert not tsa_key_dir(archive).exists()
    authority = TimeStampAuthority.load_or_create(tsa_key_dir(tsa_settings))
    assert chain_pem(archive) == authority.chain_pem()
    assert root_pem(archive) == authority.ca_pem()
    document = b"<Invoice>compose</Invoice>"
    digest = hashlib.sha256(document).digest()
    answer = authority.respond(build_request(digest, nonce=7))
    token = parse_response(answer, sha256=digest, nonce=7)
    TrustedTokens(archive).check(token.response_der, document)  # raises when not trusted


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    return {str(path.relative_to(directory)): (path.read_bytes(), path.stat().st_ino,
                                               path.stat().st_mtime_ns)
            for path in sorted(directory.rglob("*")) if path.is_file()
            and path.name not in REWRITTEN}


def test_a_second_run_overwrites_no_key(tmp_path: Path) -> None:
    assert run_script(tmp_path).returncode == 0
    keys = tmp_path / "var/compose"
    before = _snapshot(keys)
    assert {"master.key", "log.key", "tsa/tsa-key.pem", "tsa-ca.pem"} <= before.keys()
    again = run_script(tmp_path)
    assert again.returncode == 0, again.stderr
    assert "made none" in again.stdout
    assert _snapshot(keys) == before


def test_a_public_copy_that_no_longer_matches_is_refused_not_replaced(tmp_path: Path) -> None:
    assert run_script(tmp_path).returncode == 0
    copy = tmp_path / "var/compose/tsa-ca.pem"
    copy.write_bytes(b"not the authority's certificate\n")
    again = run_script(tmp_path)
    assert again.returncode != 0
    assert "does not match" in again.stderr
    assert copy.read_bytes() == b"not the authority's certificate\n"
