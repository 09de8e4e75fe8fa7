"""The log's Ed25519 signing key (PKCS#8 PEM), held by the archive only.

Where it comes from, first match wins (:func:`load_log_key`): ``EFACTURE_LOG_SIGNING_KEY``
(the PEM, or base64 of it), ``EFACTURE_LOG_SIGNING_KEY_FILE`` (a path, e.g. a docker secret;
only read), else the embedded default ``<data_dir>/keys/log.key`` (mode 0600), created on
first use; two processes starting together agree on one key (the file is published with a
hard link, which fails if another process published first). A configured source that is
unreadable or not an Ed25519 key raises PermanentError and never falls back to the default.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.archive.domain.checkpoint import public_key_pem
from shared.errors import PermanentError
from shared.settings import Settings
from shared.vault.key_source import EnvKeySource, FileKeySource, KeySource, first_key


def log_key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "log.key"


def configured_sources(settings: Settings) -> list[KeySource]:
    """The operator's sources of the log key, in order (the data_dir default is not one)."""
    inline = settings.log_signing_key
    return [
        EnvKeySource(inline.get_secret_value() if inline else None, "EFACTURE_LOG_SIGNING_KEY"),
        FileKeySource(settings.log_signing_key_file, "EFACTURE_LOG_SIGNING_KEY_FILE"),
    ]


def load_log_key(settings: Settings) -> Ed25519PrivateKey:
    """The archive's log key from configuration, else the data_dir default (created)."""
    found = existing_log_key(settings)
    return found if found is not None else load_or_create_log_key(settings.data_dir)


def existing_log_key(settings: Settings) -> Ed25519PrivateKey | None:
    """Like :func:`load_log_key` but None instead of creating the default file: for commands
    that must not invent a key that never signed anything."""
    found = first_key(configured_sources(settings))
    if found is not None:
        material, source = found
        return _parse(material, source.describe())
    path = log_key_path(settings.data_dir)
    return _load(path) if path.is_file() else None


def _parse(pem: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise PermanentError(f"{where} is not a PEM private key", code="log-key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise PermanentError(f"{where} is not an Ed25519 key", code="log-key")
    return key


def _load(path: Path) -> Ed25519PrivateKey:
    return _parse(path.read_bytes(), str(path))


def load_or_create_log_key(data_dir: Path) -> Ed25519PrivateKey:
    """The log key, created (0600) if missing. Raises PermanentError if the file is not one."""
    path = log_key_path(data_dir)
    if path.exists():
        return _load(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".log.key.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        # If another process created the key first, we use theirs.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _load(path)


def log_public_key_pem(data_dir: Path) -> bytes:
    """``log.pub``: the public half of the log key, PEM (creates the key if missing)."""
    return public_key_pem(load_or_create_log_key(data_dir).public_key())
