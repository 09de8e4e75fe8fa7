"""The TSA's key directory: created once, reused, never silently replaced."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from services.archive.tsa.authority import TimeStampAuthority
from services.archive.tsa.keystore import (
    CA_KEY,
    TSA_CERT,
    TSA_KEY,
    KeystoreError,
    load_or_create_credentials,
)

pytestmark = pytest.mark.integration


def test_first_start_creates_keys_readable_by_owner_only(tmp_path: Path) -> None:
    TimeStampAuthority.load_or_create(tmp_path / "tsa")
    assert (tmp_path / "tsa" / TSA_KEY).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tsa").stat().st_mode & 0o077 == 0
    assert not (tmp_path / "tsa" / CA_KEY).exists()


def test_second_start_loads_the_same_authority(tmp_path: Path) -> None:
    first = TimeStampAuthority.load_or_create(tmp_path / "tsa")
    second = TimeStampAuthority.load_or_create(tmp_path / "tsa")
    assert second.chain_pem() == first.chain_pem()


def test_half_written_directory_without_tsa_certificate_is_regenerated(tmp_path: Path) -> None:
    first = load_or_create_credentials(tmp_path)
    (tmp_path / TSA_CERT).unlink()
    second = load_or_create_credentials(tmp_path)
    assert second.tsa_cert != first.tsa_cert
    assert load_or_create_credentials(tmp_path).tsa_cert == second.tsa_cert


def test_key_that_does_not_match_the_certificate_is_refused(tmp_path: Path) -> None:
    load_or_create_credentials(tmp_path / "a")
    load_or_create_credentials(tmp_path / "b")
    (tmp_path / "a" / TSA_KEY).write_bytes((tmp_path / "b" / TSA_KEY).read_bytes())
    with pytest.raises(KeystoreError, match="does not match"):
        load_or_create_credentials(tmp_path / "a")


def test_missing_key_next_to_a_certificate_is_refused_not_replaced(tmp_path: Path) -> None:
    creds = load_or_create_credentials(tmp_path)
    (tmp_path / TSA_KEY).unlink()
    with pytest.raises(KeystoreError, match="incomplete"):
        load_or_create_credentials(tmp_path)
    assert (tmp_path / TSA_CERT).read_bytes() == creds.tsa_cert.public_bytes(Encoding.PEM)


def test_certificates_are_valid_from_before_the_creation_clock(tmp_path: Path) -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    creds = load_or_create_credentials(tmp_path, clock=lambda: moment)
    assert creds.tsa_cert.not_valid_before_utc < moment
    assert creds.ca_cert.not_valid_after_utc > creds.tsa_cert.not_valid_after_utc
