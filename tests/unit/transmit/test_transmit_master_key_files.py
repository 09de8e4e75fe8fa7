"""Transmit opens PA secrets with the master key its settings name, file included: two
settings that differ only in ``EFACTURE_MASTER_KEY_FILE`` never share a cached key."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from services.transmit.adapters.credentials import SecretUnreadableError, open_secret, seal_secret
from shared.settings import Settings

pytestmark = pytest.mark.unit


def _settings(tmp_path: Path, name: str) -> Settings:
    key = tmp_path / f"{name}.key"
    key.write_text(base64.b64encode(os.urandom(32)).decode())
    return Settings(data_dir=tmp_path / "data", master_key_file=key)


def test_a_secret_opens_only_with_the_key_file_that_sealed_it(tmp_path: Path) -> None:
    first, second = _settings(tmp_path, "first"), _settings(tmp_path, "second")
    sealed = seal_secret("55208131700010", "s3cret", first)
    assert open_secret("55208131700010", sealed, first) == "s3cret"
    with pytest.raises(SecretUnreadableError):
        open_secret("55208131700010", sealed, second)
    assert not (tmp_path / "data").exists(), "a configured key wrote to the data directory"
