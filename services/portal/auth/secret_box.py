"""TOTP secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the master key,
bound to the account id, stored as ``v1:<master key id>:<base64 nonce+ciphertext>``.

A database dump alone therefore yields no second factor. A secret sealed under a master key
the process no longer holds (rotated away and retired) cannot be opened: :meth:`open` raises
``LookupError`` and that person re-enrols with an e-mailed link.
"""

from __future__ import annotations

import base64
import os
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.vault.master_key import MasterKey, MasterKeys

_INFO = b"efacture-portal-totp-secret-v1"


def _key(master: MasterKey) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master.key)


class SecretBox:
    def __init__(self, keys: MasterKeys) -> None:
        self._keys = keys

    def seal(self, secret: str, account_id: uuid.UUID) -> str:
        master = self._keys.current()
        nonce = os.urandom(12)
        sealed = AESGCM(_key(master)).encrypt(nonce, secret.encode(), account_id.bytes)
        return f"v1:{master.key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, account_id: uuid.UUID) -> str:
        """The secret; raises LookupError when its master key is gone or it was altered."""
        version, _, rest = stored.partition(":")
        key_id, _, blob = rest.partition(":")
        if version != "v1" or not blob:
            raise LookupError("unknown TOTP secret format")
        master = self._keys.holding(key_id)
        if master is None:
            raise LookupError("the master key of this TOTP secret is no longer held")
        raw = base64.b64decode(blob)
        try:
            return AESGCM(_key(master)).decrypt(raw[:12], raw[12:], account_id.bytes).decode()
        except Exception as exc:  # InvalidTag: altered, or bound to another account
            raise LookupError("the TOTP secret does not open") from exc
