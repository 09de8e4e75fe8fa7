"""Tenants' PA client secrets, sealed (AES-256-GCM) under the master key, naming that key.

Format v2: ``0x02 || key_id (16 ASCII hex) || nonce (12) || ciphertext || tag``; the
associated data binds it to the tenant and the key id, so a secret moved to another tenant, or
a key id edited, fails to open. ``keys rotate`` finds the secrets still under the old key by
that id and re-wraps them (:func:`rewrap_secrets`). Format v1 (no key id, written before) is
still opened, with any key held, and re-wrapped to v2 by the next rotation.

A secret that cannot be opened raises :class:`SecretUnreadableError`, a
:class:`~shared.errors.PermanentError` (``secret-unreadable``): retrying the same bytes cannot
help, the operator sets the credentials again.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import PermanentError
from shared.vault.master_key import MasterKey, MasterKeys

_V1, _V2 = b"\x01", b"\x02"
_ID_BYTES, _NONCE = 16, 12


class SecretUnreadableError(PermanentError):
    """The tenant's sealed PA secret does not open with any master key this process holds."""

    code = "secret-unreadable"


def _context_v1(siret: str) -> bytes:
    return b"efacture-pa-secret-v1|" + siret.encode()


def _context_v2(siret: str, key_id: bytes) -> bytes:
    return b"efacture-pa-secret-v2|" + key_id + b"|" + siret.encode()


def seal_secret(keys: MasterKeys, siret: str, secret: str) -> bytes:
    """Encrypt ``secret`` for ``siret`` under the current master key (format v2)."""
    master = keys.current()
    kid = master.key_id.encode("ascii")
    nonce = os.urandom(_NONCE)
    return _V2 + kid + nonce + AESGCM(master.key).encrypt(
        nonce, secret.encode(), _context_v2(siret, kid))


def secret_key_id(sealed: bytes) -> str | None:
    """The master key id a v2 secret names; None for a v1 secret (it names none)."""
    if sealed[:1] == _V2 and len(sealed) > 1 + _ID_BYTES:
        return sealed[1 : 1 + _ID_BYTES].decode("ascii", errors="replace")
    return None


def open_secret(keys: MasterKeys, siret: str, sealed: bytes) -> str:
    """Decrypt a secret of :func:`seal_secret` (or v1); raises :class:`SecretUnreadableError`."""
    try:
        if sealed[:1] == _V2:
            kid = sealed[1 : 1 + _ID_BYTES]
            holder = keys.holding(kid.decode("ascii", errors="replace"))
            if holder is None:
                raise SecretUnreadableError(
                    f"the PA secret of tenant {siret} is sealed under master key "
                    f"{kid.decode('ascii', errors='replace')}, which this process does not hold")
            body = sealed[1 + _ID_BYTES :]
            return AESGCM(holder.key).decrypt(
                body[:_NONCE], body[_NONCE:], _context_v2(siret, kid)).decode()
        if sealed[:1] == _V1:
            master: MasterKey | None = keys.current()
            while master is not None:
                try:
                    return AESGCM(master.key).decrypt(
                        sealed[1:13], sealed[13:], _context_v1(siret)).decode()
                except InvalidTag:
                    master = master.previous
    except (InvalidTag, ValueError, UnicodeDecodeError):
        pass
    raise SecretUnreadableError(
        f"the PA secret of tenant {siret} cannot be opened (altered, or sealed under another "
        "master key): set it again with efacture tenant set-credentials")


async def rewrap_secrets(
    conn: psycopg.AsyncConnection[Any], old: MasterKey, new: MasterKey
) -> tuple[int, list[str]]:
    """Re-seal under ``new`` every secret not already under it, in the caller's transaction.

    Returns ``(rewrapped, unreadable)``: the sirets whose secret opens with neither key are
    left as they are (they are lost already: ``set-credentials`` again).
    """
    both = MasterKey(new.key, previous=MasterKey(old.key))
    cur = await conn.execute(
        "SELECT siret, pa_secret_wrapped FROM core.tenant WHERE pa_secret_wrapped IS NOT NULL"
        " ORDER BY siret FOR UPDATE")
    done, unreadable = 0, []
    for siret, sealed in await cur.fetchall():
        sealed = bytes(sealed)
        if secret_key_id(sealed) == new.key_id:
            continue
        try:
            secret = open_secret(both, siret, sealed)
        except SecretUnreadableError:
            unreadable.append(siret)
            continue
        await conn.execute("UPDATE core.tenant SET pa_secret_wrapped = %s WHERE siret = %s",
                           (seal_secret(new, siret, secret), siret))
        done += 1
    return done, unreadable


async def count_naming(conn: psycopg.AsyncConnection[Any], old: MasterKey) -> int:
    """Secrets that name master key ``old`` (or no key, v1) and open with it: what dropping
    ``old`` would lose. One that opens with no key is lost already and not counted."""
    cur = await conn.execute(
        "SELECT siret, pa_secret_wrapped FROM core.tenant WHERE pa_secret_wrapped IS NOT NULL")
    count = 0
    for siret, sealed in await cur.fetchall():
        if secret_key_id(bytes(sealed)) not in (None, old.key_id):
            continue
        try:
            open_secret(MasterKey(old.key), siret, bytes(sealed))
        except SecretUnreadableError:
            continue
        count += 1
    return count
