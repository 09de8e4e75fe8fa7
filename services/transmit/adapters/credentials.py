"""Tenants' PA client secrets, sealed under the master key (:mod:`shared.vault.secrets`).

The master key is read through one :class:`~shared.vault.master_source.MasterKeySource` per
settings, so a running transmit opens secrets re-wrapped by ``keys rotate`` without a restart.
A secret that cannot be opened raises ``SecretUnreadableError`` (permanent,
``secret-unreadable``): transmit dead-letters the invoice with that reason at once.
"""

from __future__ import annotations

from shared.settings import Settings, get_settings
from shared.vault import secrets
from shared.vault.master_key import MasterKeyError
from shared.vault.master_source import MasterKeySource
from shared.vault.secrets import SecretUnreadableError

SANDBOX_SECRET = "sandbox"  # noqa: S105 - the built-in simulator accepts any secret but "bad"

__all__ = ["SANDBOX_SECRET", "SecretUnreadableError", "open_secret", "seal_secret"]

# Keyed by every setting that picks the master key: two settings that differ only in the
# key file must not share a source (the second would open secrets with the first's key).
_SOURCES: dict[tuple[str, str | None, str | None], MasterKeySource] = {}


def _source(settings: Settings, *, generate: bool) -> MasterKeySource:
    key_file = settings.master_key_file
    slot = (str(settings.data_dir), settings.master_key,
            str(key_file) if key_file is not None else None)
    found = _SOURCES.get(slot)
    if found is None:
        found = _SOURCES[slot] = MasterKeySource(settings, generate=generate)
    return found


def seal_secret(siret: str, secret: str, settings: Settings | None = None) -> bytes:
    """Encrypt ``secret``, bound to the tenant (a secret moved to another tenant fails)."""
    return secrets.seal_secret(_source(settings or get_settings(), generate=True), siret, secret)


def open_secret(siret: str, sealed: bytes, settings: Settings | None = None) -> str:
    """Decrypt a secret sealed by :func:`seal_secret`; raises ``SecretUnreadableError``."""
    try:
        source = _source(settings or get_settings(), generate=False)
    except (MasterKeyError, OSError) as exc:  # no master key at all: no secret can ever open
        raise SecretUnreadableError(f"the PA secret of tenant {siret} cannot be opened: "
                                    f"{exc}") from exc
    return secrets.open_secret(source, siret, sealed)
