"""Issue 10, property 8 (archive side): the TSA's CA private key is not kept after it issued
the TSA certificate — no file of the keystore holds a private key other than the TSA's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.archive.tsa.authority import TimeStampAuthority
from services.archive.tsa.credentials import generate_authority
from services.archive.tsa.keystore import CA_KEY, TSA_KEY, load_or_create_credentials

pytestmark = [pytest.mark.security, pytest.mark.unit]


def _private_keys(directory: Path) -> dict[str, rsa.RSAPrivateKey]:
    found = {}
    for path in directory.iterdir():
        if path.is_file() and b"PRIVATE KEY" in path.read_bytes():
            key = serialization.load_pem_private_key(path.read_bytes(), None)
            assert isinstance(key, rsa.RSAPrivateKey)
            found[path.name] = key
    return found


def test_the_keystore_holds_no_ca_private_key(tmp_path: Path) -> None:
    authority = TimeStampAuthority.load_or_create(tmp_path / "tsa")
    keys = _private_keys(tmp_path / "tsa")
    assert list(keys) == [TSA_KEY]
    ca_public = authority.credentials.ca_cert.public_key()
    assert isinstance(ca_public, rsa.RSAPublicKey)
    assert all(k.public_key().public_numbers() != ca_public.public_numbers()
               for k in keys.values()), "a file can still issue TSA certificates"


def test_a_ca_key_left_by_an_older_version_is_deleted_on_load(tmp_path: Path) -> None:
    load_or_create_credentials(tmp_path)
    leftover = generate_authority(load_or_create_credentials(tmp_path).tsa_cert
                                  .not_valid_before_utc).ca_key
    (tmp_path / CA_KEY).write_bytes(leftover.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    load_or_create_credentials(tmp_path)
    assert not (tmp_path / CA_KEY).exists()
