"""The TSA's key material on disk: ``EFACTURE_TSA_KEY_DIR``, by default ``<data_dir>/tsa/``
(adapter: file I/O only; :func:`tsa_key_dir`). Only the TSA process needs the private key;
the archive and the CLI read the certificates only (or ``EFACTURE_TSA_CA`` /
``EFACTURE_TSA_CHAIN_FILE`` instead, so they need no access to this directory).

Layout (PEM): ``tsa-key.pem`` (mode 0600, unencrypted PKCS#8), ``ca-cert.pem``,
``tsa-cert.pem``. The CA's private key is never written: it signs the TSA certificate once,
in memory, and is dropped, so no file here can issue another TSA certificate (a ``ca-key.pem``
left by an older version is deleted on load). ``tsa-cert.pem`` is written last and is the
commit marker: without it no token can have been issued, so a half-written directory is
regenerated; with it, the files are only ever read. Creation holds an exclusive ``flock`` on
``.lock`` so two processes starting at once agree on one authority.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.settings import Settings
from shared.vault.safe_files import fsync_dir

from .credentials import TsaCredentials, generate_authority

CA_KEY = "ca-key.pem"  # only ever deleted: older versions kept the CA key here
CA_CERT = "ca-cert.pem"
TSA_KEY = "tsa-key.pem"
TSA_CERT = "tsa-cert.pem"


def tsa_key_dir(settings: Settings) -> Path:
    """Where the built-in TSA keeps its keys: ``EFACTURE_TSA_KEY_DIR``, else ``data_dir/tsa``."""
    return settings.tsa_key_dir if settings.tsa_key_dir is not None else settings.data_dir / "tsa"


class KeystoreError(RuntimeError):
    """The key directory exists but is inconsistent; it is never overwritten automatically."""


def load_or_create_credentials(
    directory: Path, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> TsaCredentials:
    """Load the TSA credentials from ``directory``, generating and storing them on first use.

    Raises :class:`KeystoreError` when the stored key does not match the stored certificate or
    a file is missing next to an existing ``tsa-cert.pem``; ``OSError`` on file-system failures.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (directory / TSA_CERT).exists():
                _create(directory, clock())
            credentials = _load(directory)
            _forget_ca_key(directory)
            return credentials
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_public_chain(directory: Path) -> bytes | None:
    """TSA certificate then CA certificate (PEM) of the keystore, or None when it has none.

    Reads only certificates, never creates anything: for the archive and the CLI, which
    check and publish the built-in TSA's chain but must not make an authority of their own.
    """
    try:
        tsa = (directory / TSA_CERT).read_bytes()
        ca = (directory / CA_CERT).read_bytes()
    except FileNotFoundError:
        return None
    return tsa + ca


def _forget_ca_key(directory: Path) -> None:
    path = directory / CA_KEY
    if path.exists():
        path.unlink()
        fsync_dir(directory)


def _create(directory: Path, now: datetime) -> None:
    generated = generate_authority(now)  # the CA key lives in memory only, dropped on return
    creds = generated.credentials
    _write(directory / CA_CERT, creds.ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(directory / TSA_KEY, _key_pem(creds.tsa_key), private=True)
    _write(directory / TSA_CERT, creds.tsa_cert.public_bytes(serialization.Encoding.PEM))


def _load(directory: Path) -> TsaCredentials:
    try:
        ca_cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        tsa_cert = x509.load_pem_x509_certificate((directory / TSA_CERT).read_bytes())
        key = serialization.load_pem_private_key((directory / TSA_KEY).read_bytes(), None)
    except FileNotFoundError as exc:
        raise KeystoreError(f"TSA key directory {directory} is incomplete: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeystoreError(f"{directory / TSA_KEY} is not an RSA key")
    if key.public_key().public_numbers() != _rsa_public(tsa_cert).public_numbers():
        raise KeystoreError(f"{directory / TSA_KEY} does not match {directory / TSA_CERT}")
    return TsaCredentials(ca_cert=ca_cert, tsa_cert=tsa_cert, tsa_key=key)


def _rsa_public(cert: x509.Certificate) -> rsa.RSAPublicKey:
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise KeystoreError("the TSA certificate does not hold an RSA key")
    return public


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write atomically (temp file, fsync, rename); keys are created 0600 from the start."""
    tmp = path.with_name(path.name + ".tmp")
    mode = 0o600 if private else 0o644
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # a leftover temp file keeps its old mode through O_CREAT
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
