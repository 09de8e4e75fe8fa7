"""Tenants' PA client secrets, stored encrypted (AES-GCM) under the master key."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import Settings, get_settings
from shared.vault.master_key import load_master_key

SANDBOX_SECRET = "sandbox"  # noqa: S105 - the built-in simulator accepts any secret but "bad"
_V1 = b"\x01"


def _context(siret: str) -> bytes:
    return b"efacture-pa-secret-v1|" + siret.encode()


def seal_secret(siret: str, secret: str, settings: Settings | None = None) -> bytes:
    """Encrypt ``secret``, bound to the tenant (a secret moved to another tenant fails)."""
    master = load_master_key(settings or get_settings())
    nonce = os.urandom(12)
    return _V1 + nonce + AESGCM(master.key).encrypt(nonce, secret.encode(), _context(siret))


def open_secret(siret: str, sealed: bytes, settings: Settings | None = None) -> str:
    """Decrypt a secret sealed by :func:`seal_secret`; raises ``InvalidTag`` if altered."""
    master = load_master_key(settings or get_settings(), generate=False)
    return AESGCM(master.key).decrypt(sealed[1:13], sealed[13:], _context(siret)).decode()
