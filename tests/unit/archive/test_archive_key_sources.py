"""Issue 14 item 2: keys come from configuration, each only where it is used.

The archive's log signing key given inline (``EFACTURE_LOG_SIGNING_KEY``) or as a file outside
the data directory (``EFACTURE_LOG_SIGNING_KEY_FILE``, e.g. a docker secret) is the one used,
and nothing is written to the data directory; a broken configured key is refused instead of
silently replaced by a fresh one; with nothing configured the ``data_dir`` default is created
once and read back as before. The TSA's keys live in ``EFACTURE_TSA_KEY_DIR``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.archive.adapters.log_key import existing_log_key, load_log_key, log_key_path
from services.archive.adapters.tsa_trust import root_pem
from services.archive.tsa.keystore import CA_CERT, load_or_create_credentials, tsa_key_dir
from shared.errors import PermanentError
from shared.settings import Settings
from shared.vault.key_source import EnvKeySource, FileKeySource, KeySourceError, first_key

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _settings(data_dir: Path, **kwargs: object) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **kwargs)  # type: ignore[call-arg, arg-type]


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.mark.parametrize("encode", [lambda pem: pem.decode(),
                                    lambda pem: base64.b64encode(pem).decode()],
                         ids=["pem", "base64"])
def test_log_key_from_environment_is_used_and_nothing_is_written(tmp_path, monkeypatch, encode):
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("EFACTURE_LOG_SIGNING_KEY", encode(_pem(key)))
    data_dir = tmp_path / "data"
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]

    assert _public(load_log_key(settings)) == _public(key)
    assert not data_dir.exists(), "a configured key must not create anything in data_dir"


def test_log_key_file_outside_data_dir_is_used_read_only(tmp_path):
    key = Ed25519PrivateKey.generate()
    secret = tmp_path / "secrets" / "log_signing_key"
    secret.parent.mkdir()
    secret.write_bytes(_pem(key))
    secret.chmod(0o400)
    data_dir = tmp_path / "data"
    settings = _settings(data_dir, log_signing_key_file=secret)

    assert _public(load_log_key(settings)) == _public(key)
    assert _public(existing_log_key(settings) or Ed25519PrivateKey.generate()) == _public(key)
    assert not data_dir.exists()


@pytest.mark.parametrize("broken", [{"log_signing_key": "not a key!"},
                                    {"log_signing_key_file": Path("/nonexistent/log.key")}],
                         ids=["bad-inline", "missing-file"])
def test_broken_configured_log_key_is_refused_not_replaced(tmp_path, broken):
    data_dir = tmp_path / "data"
    settings = _settings(data_dir, **broken)

    with pytest.raises(PermanentError):
        load_log_key(settings)
    assert not log_key_path(data_dir).exists(), "a typo must not mint a fresh log key"


def test_non_ed25519_log_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    settings = _settings(tmp_path, log_signing_key=other.decode())

    with pytest.raises(PermanentError, match="EFACTURE_LOG_SIGNING_KEY is not an Ed25519 key"):
        load_log_key(settings)


def test_default_log_key_is_created_once_in_data_dir_and_read_back(tmp_path):
    settings = _settings(tmp_path)
    assert existing_log_key(settings) is None, "reading must not create the default key"

    first = load_log_key(settings)
    path = log_key_path(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert _public(load_log_key(settings)) == _public(first)
    assert _public(existing_log_key(settings) or first) == _public(first)


def test_environment_source_wins_over_file_source(tmp_path):
    file_key = tmp_path / "k"
    file_key.write_bytes(b"from-file")
    sources = [EnvKeySource(base64.b64encode(b"from-env").decode(), "A"),
               FileKeySource(file_key, "B")]

    found = first_key(sources)
    assert found is not None
    assert found[0] == b"from-env"
    assert found[1].describe() == "A"
    found = first_key([EnvKeySource(None, "A"), FileKeySource(file_key, "B")])
    assert found is not None
    assert found[0] == b"from-file"
    assert first_key([EnvKeySource("", "A"), FileKeySource(None, "B")]) is None
    with pytest.raises(KeySourceError):
        FileKeySource(tmp_path / "missing", "B").read()


def test_tsa_keys_live_in_the_configured_directory(tmp_path):
    data_dir, key_dir = tmp_path / "data", tmp_path / "tsa-keys"
    settings = _settings(data_dir, tsa_key_dir=key_dir)
    assert tsa_key_dir(settings) == key_dir
    assert tsa_key_dir(_settings(data_dir)) == data_dir / "tsa"

    load_or_create_credentials(tsa_key_dir(settings), clock=lambda: NOW)

    assert (key_dir / "tsa-key.pem").stat().st_mode & 0o777 == 0o600
    assert not data_dir.exists()
    assert root_pem(settings) == (key_dir / CA_CERT).read_bytes()


def test_master_key_file_outside_data_dir_is_used_and_nothing_is_written(tmp_path):
    import os

    from shared.vault.master_key import MasterKeyError, load_master_key
    from shared.vault.master_source import MasterKeySource

    raw = os.urandom(32)
    secret = tmp_path / "secrets" / "master_key"
    secret.parent.mkdir()
    secret.write_text(base64.b64encode(raw).decode() + "\n")
    data_dir = tmp_path / "data"
    settings = _settings(data_dir, master_key_file=secret)

    assert load_master_key(settings).key == raw
    assert MasterKeySource(settings).current().key == raw
    assert not data_dir.exists(), "a configured master key must not create a dev key"
    with pytest.raises(MasterKeyError, match="EFACTURE_MASTER_KEY_FILE"):
        load_master_key(_settings(data_dir, master_key_file=tmp_path / "missing"))
    assert not data_dir.exists()
