"""Issue 14 item 2: ``efacture keys export-trust`` publishes the keys the configuration names.

The real CLI runs as a subprocess with the log signing key in a file outside the data
directory (``EFACTURE_LOG_SIGNING_KEY_FILE``) and the TSA's keys in their own directory
(``EFACTURE_TSA_KEY_DIR``): the exported ``log.pub`` and ``tsa-ca.pem`` are those keys', and
the data directory stays empty. A configured key file that is missing is one clear sentence.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.archive.domain.checkpoint import public_key_pem
from services.archive.tsa.keystore import CA_CERT, load_or_create_credentials

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EFACTURE_")}
    return subprocess.run([sys.executable, "-m", "efacture", *args], cwd=REPO,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_export_trust_uses_configured_keys_and_leaves_data_dir_empty(tmp_path):
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "secrets" / "log_signing_key"
    key_file.parent.mkdir()
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    tsa_dir = tmp_path / "tsa-keys"
    load_or_create_credentials(tsa_dir, clock=lambda: NOW)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {"EFACTURE_DATA_DIR": str(data_dir), "EFACTURE_LOG_SIGNING_KEY_FILE": str(key_file),
           "EFACTURE_TSA_KEY_DIR": str(tsa_dir)}

    done = _cli(env, "keys", "export-trust", "-o", str(tmp_path / "trust"))

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "trust" / "log.pub").read_bytes() == public_key_pem(key.public_key())
    assert (tmp_path / "trust" / "tsa-ca.pem").read_bytes() == (tsa_dir / CA_CERT).read_bytes()
    assert list(data_dir.iterdir()) == []


def test_missing_configured_log_key_file_is_one_sentence(tmp_path):
    tsa_dir = tmp_path / "tsa-keys"
    load_or_create_credentials(tsa_dir, clock=lambda: NOW)
    env = {"EFACTURE_DATA_DIR": str(tmp_path / "data"),
           "EFACTURE_LOG_SIGNING_KEY_FILE": str(tmp_path / "nope.key"),
           "EFACTURE_TSA_KEY_DIR": str(tsa_dir)}

    done = _cli(env, "keys", "export-trust", "-o", str(tmp_path / "trust"))

    assert done.returncode != 0
    assert "EFACTURE_LOG_SIGNING_KEY_FILE" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "trust").exists()
