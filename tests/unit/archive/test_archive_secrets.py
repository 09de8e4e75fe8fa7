"""Sealed PA secrets name their master key; a running process follows a master-key rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import Settings
from shared.vault import master_key as mk
from shared.vault.master_key import MasterKey
from shared.vault.master_source import MasterKeySource
from shared.vault.secrets import SecretUnreadableError, open_secret, seal_secret, secret_key_id

pytestmark = pytest.mark.unit
SIRET = "55208131700018"


def test_a_secret_names_the_key_it_is_sealed_under_and_opens_with_it() -> None:
    key = MasterKey(os.urandom(32))
    sealed = seal_secret(key, SIRET, "s3cret")
    assert secret_key_id(sealed) == key.key_id
    assert open_secret(key, SIRET, sealed) == "s3cret"
    assert open_secret(MasterKey(os.urandom(32), previous=key), SIRET, sealed) == "s3cret"


@pytest.mark.parametrize("damage", ["flip", "other-tenant", "other-key", "truncate"])
def test_a_secret_that_cannot_be_opened_is_a_permanent_error(damage: str) -> None:
    key = MasterKey(os.urandom(32))
    sealed = bytearray(seal_secret(key, SIRET, "s3cret"))
    siret, holder = SIRET, key
    if damage == "flip":
        sealed[-3] ^= 1
    elif damage == "other-tenant":
        siret = "55208131700026"
    elif damage == "other-key":
        holder = MasterKey(os.urandom(32))
    else:
        del sealed[5:]
    with pytest.raises(SecretUnreadableError) as caught:
        open_secret(holder, siret, bytes(sealed))
    assert caught.value.code == "secret-unreadable"


def test_a_v1_secret_written_before_key_ids_still_opens() -> None:
    key = MasterKey(os.urandom(32))
    nonce = os.urandom(12)
    v1 = b"\x01" + nonce + AESGCM(key.key).encrypt(
        nonce, b"legacy", b"efacture-pa-secret-v1|" + SIRET.encode())
    assert secret_key_id(v1) is None
    assert open_secret(MasterKey(os.urandom(32), previous=key), SIRET, v1) == "legacy"


def test_a_source_follows_a_rotation_of_the_key_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    source = MasterKeySource(settings)
    first = source.current()
    old, new = mk.rotate_master_key(tmp_path)
    assert old.key_id == first.key_id
    assert source.current().key_id == new.key_id
    assert source.holding(old.key_id) is not None
    mk.finish_master_rotation(tmp_path)
    assert source.current().key_id == new.key_id
    assert source.holding(old.key_id) is None
