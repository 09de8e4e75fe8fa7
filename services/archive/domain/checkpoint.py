"""Signed checkpoints (signed tree heads) of the log, and the log's Ed25519 key in PEM.

A checkpoint states ``size``, ``root_hash`` and ``timestamp`` and signs
``b"efacture-log-v1\\n%d\\n%s\\n%s\\n" % (size, root_hex, timestamp)`` with the log's Ed25519
key; ``key_id`` is the hex SHA-256 of the raw 32-byte public key. Pure crypto, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import datetime

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.archive.domain.leaf import iso_utc, parse_iso_utc

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def signed_message(size: int, root_hex: str, timestamp: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return b"efacture-log-v1\n%d\n%s\n%s\n" % (size, root_hex.encode(), timestamp.encode())


def key_id(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``)."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key_pem(pem: bytes) -> Ed25519PublicKey:
    """Parse an Ed25519 public key PEM; raises ValueError if it is not exactly one."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


class Checkpoint(BaseModel):
    """A signed tree head, as stored and as written to ``checkpoint.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    size: int = Field(ge=0)
    root_hash: str
    timestamp: str
    signature: str
    key_id: str

    @field_validator("root_hash", "key_id")
    @classmethod
    def _hex64(cls, value: str) -> str:
        if not _HEX64.match(value):
            raise ValueError("must be 64 lowercase hex digits")
        return value

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: str) -> str:
        parse_iso_utc(value)
        return value

    @field_validator("signature")
    @classmethod
    def _base64(cls, value: str) -> str:
        # Canonical base64 only, so no two signature strings decode to the same bytes.
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise ValueError("signature is not base64") from exc
        if len(raw) != 64 or base64.b64encode(raw).decode() != value:
            raise ValueError("signature is not a canonical base64 Ed25519 signature")
        return value

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.root_hash)

    @property
    def time(self) -> datetime:
        return parse_iso_utc(self.timestamp)

    def message(self) -> bytes:
        return signed_message(self.size, self.root_hash, self.timestamp)

    def signature_valid(self, public_key: Ed25519PublicKey) -> bool:
        """True iff the signature verifies under ``public_key`` and ``key_id`` names it."""
        if self.key_id != key_id(public_key):
            return False
        try:
            public_key.verify(base64.b64decode(self.signature, validate=True), self.message())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def to_json_bytes(self) -> bytes:
        """The ``checkpoint.json`` file: sorted keys, 2-space indent, final newline."""
        return (json.dumps(self.model_dump(), sort_keys=True, indent=2) + "\n").encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> Checkpoint:
        """Parse ``checkpoint.json``; raises ValueError unless it is exactly as written."""
        try:
            cp = cls.model_validate_json(data)
        except ValidationError as exc:
            raise ValueError(f"malformed checkpoint: {exc.errors()[0]['msg']}") from exc
        if cp.to_json_bytes() != data:
            raise ValueError("checkpoint is not in its canonical form")
        return cp


def sign_checkpoint(
    private_key: Ed25519PrivateKey, size: int, root: bytes, timestamp: datetime
) -> Checkpoint:
    """Sign a tree head of ``size`` leaves with root ``root`` at ``timestamp`` (aware)."""
    root_hex, when = root.hex(), iso_utc(timestamp)
    signature = private_key.sign(signed_message(size, root_hex, when))
    return Checkpoint(
        size=size,
        root_hash=root_hex,
        timestamp=when,
        signature=base64.b64encode(signature).decode(),
        key_id=key_id(private_key.public_key()),
    )
