"""The log's Ed25519 signing key: ``<data_dir>/keys/log.key`` (PKCS#8 PEM, mode 0600).

Created on first use; two processes starting together agree on one key (the file is
published with a hard link, which fails if another process published first).
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


def log_key_path(data_dir: Path) -> Path:
    return data_dir / "keys" / "log.key"


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise PermanentError(f"{path} is not a PEM private key", code="log-key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise PermanentError(f"{path} is not an Ed25519 key", code="log-key")
    return key


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
