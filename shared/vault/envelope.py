"""Envelope encryption of archived documents (pure: no I/O, no clock).

Three layers, each AES-256-GCM:

* a fresh **data key** per document encrypts the document (:func:`seal`/:func:`open_`);
  the associated data binds the ciphertext to its tenant and invoice id, so a blob moved to
  another invoice, or another tenant, fails to decrypt;
* the tenant's **tenant key** wraps the data key (:func:`wrap` with :func:`data_key_context`);
* the **master key**, kept outside the database, wraps each tenant key
  (:func:`wrap` with :func:`tenant_key_context`).

Rotating a key re-wraps the layer below it; no document is re-encrypted. Destroying a
document's wrapped data key (crypto-shredding) makes its ciphertext unrecoverable.

Every failure to authenticate (wrong key, wrong tenant or invoice, one flipped bit, a
truncated blob) raises :class:`DecryptFailedError`, a :class:`PermanentError` with code
``decrypt-failed``: retrying the same bytes can never succeed.
"""

from __future__ import annotations

import hashlib
import os
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import PermanentError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_DOC_AAD_PREFIX = b"efacture-doc-v1|"
# A wrapped key starts with its format version, so a later format can be told apart.
_WRAP_V1 = b"\x01"
_WRAP_AAD_PREFIX = b"efacture-wrap-v1|"


class DecryptFailedError(PermanentError):
    """A ciphertext or wrapped key did not authenticate under the given key and context."""

    code = "decrypt-failed"


def new_data_key() -> bytes:
    """A fresh random 256-bit key (used for data keys, tenant keys and master keys)."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def fingerprint(document: bytes) -> str:
    """SHA-256 of the original bytes exactly as submitted, lowercase hex (issue item 2)."""
    return hashlib.sha256(document).hexdigest()


def _part(value: str | UUID | int, what: str) -> bytes:
    text = str(value)
    if not text or "|" in text:
        raise ValueError(f"{what} must be non-empty and free of '|': {text!r}")
    return text.encode("utf-8")


def document_aad(tenant: str, invoice_id: str | UUID) -> bytes:
    """``efacture-doc-v1|<tenant>|<invoice_id>``: what a document ciphertext is bound to.

    Pass ``invoice_id`` in the same form every time (a :class:`UUID` is safest): the text is
    compared byte for byte.
    """
    return _DOC_AAD_PREFIX + _part(tenant, "tenant") + b"|" + _part(invoice_id, "invoice_id")


def data_key_context(tenant: str, invoice_id: str | UUID) -> bytes:
    """``dek|<tenant>|<invoice_id>``: the context a data key is wrapped under."""
    return b"dek|" + _part(tenant, "tenant") + b"|" + _part(invoice_id, "invoice_id")


def tenant_key_context(tenant: str, version: int) -> bytes:
    """``tk|<tenant>|<version>``: the context a tenant key is wrapped under."""
    return b"tk|" + _part(tenant, "tenant") + b"|" + _part(int(version), "version")


def _check_key(key: bytes, what: str) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"{what} must be {KEY_BYTES} bytes, got {len(key)}")


def seal(plaintext: bytes, data_key: bytes, *, tenant: str, invoice_id: str | UUID) -> bytes:
    """Encrypt a document: ``nonce(12) || ciphertext || tag(16)``.

    A random nonce is safe here because each data key encrypts exactly one document.
    """
    _check_key(data_key, "data key")
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, document_aad(tenant, invoice_id))


def open_(sealed: bytes, data_key: bytes, *, tenant: str, invoice_id: str | UUID) -> bytes:
    """Decrypt what :func:`seal` produced for the same tenant and invoice id.

    Raises :class:`DecryptFailedError` on a wrong key, another tenant or invoice id, any
    tampering or truncation.
    """
    _check_key(data_key, "data key")
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise DecryptFailedError("sealed document is truncated")
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        return AESGCM(data_key).decrypt(nonce, body, document_aad(tenant, invoice_id))
    except InvalidTag:
        raise DecryptFailedError(
            f"document of invoice {invoice_id} (tenant {tenant}) does not authenticate"
        ) from None


def wrap(key: bytes, kek: bytes, *, context: bytes) -> bytes:
    """Wrap ``key`` under the key-encryption key ``kek``: ``0x01 || nonce || ct || tag``.

    ``context`` (e.g. :func:`data_key_context`) is authenticated, so a wrapped key only
    unwraps for the owner it was wrapped for.
    """
    _check_key(key, "key")
    _check_key(kek, "key-encryption key")
    nonce = os.urandom(NONCE_BYTES)
    aad = _WRAP_AAD_PREFIX + _WRAP_V1 + context
    return _WRAP_V1 + nonce + AESGCM(kek).encrypt(nonce, key, aad)


def unwrap(wrapped: bytes, kek: bytes, *, context: bytes) -> bytes:
    """Inverse of :func:`wrap`; raises :class:`DecryptFailedError` if it does not authenticate."""
    _check_key(kek, "key-encryption key")
    if len(wrapped) != 1 + NONCE_BYTES + KEY_BYTES + TAG_BYTES:
        raise DecryptFailedError("wrapped key has the wrong length")
    version, nonce, body = wrapped[:1], wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
    if version != _WRAP_V1:
        raise DecryptFailedError(f"unknown wrapped-key format {version.hex()}")
    try:
        return AESGCM(kek).decrypt(nonce, body, _WRAP_AAD_PREFIX + version + context)
    except InvalidTag:
        raise DecryptFailedError("wrapped key does not authenticate") from None
