"""Where a key's material comes from: a small KMS-style interface (no I/O at import).

A :class:`KeySource` yields a key's bytes or None when it holds none. Two sources are built in:
:class:`EnvKeySource` (the material itself, from a setting filled by an environment variable)
and :class:`FileKeySource` (a path the operator provisions, e.g. a docker secret). The local
file under ``data_dir`` stays each loader's embedded default; a KMS client would be one more
class with the same :meth:`KeySource.read`.

Failure semantics: a configured source that cannot be read raises :class:`KeySourceError`
(permanent: a wrong path or bad base64 does not fix itself on retry); it never falls through
to the default, so a typo cannot silently make a process generate a fresh key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from shared.errors import PermanentError

PEM_MARK = b"-----BEGIN"


class KeySourceError(PermanentError):
    """A configured key source is unreadable or malformed."""

    code = "key-source-invalid"


class KeySource(Protocol):
    """One place a key may be held."""

    def read(self) -> bytes | None:
        """The key material, or None when this source is not configured."""
        ...

    def describe(self) -> str:
        """Where the key comes from, for logs and errors (never the material)."""
        ...


@dataclass(frozen=True)
class EnvKeySource:
    """Material given inline (``setting`` names the variable): PEM text as is, else base64."""

    value: str | None = field(repr=False)
    setting: str

    def read(self) -> bytes | None:
        if not self.value:
            return None
        raw = self.value.strip().encode("ascii", errors="replace")
        if raw.startswith(PEM_MARK):
            return raw + b"\n"
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise KeySourceError(f"{self.setting} is neither PEM nor base64") from None

    def describe(self) -> str:
        return self.setting


@dataclass(frozen=True)
class FileKeySource:
    """A key file the operator provides (read only, never created or rewritten)."""

    path: Path | None
    setting: str

    def read(self) -> bytes | None:
        if self.path is None:
            return None
        try:
            return Path(self.path).read_bytes()
        except OSError as exc:
            raise KeySourceError(
                f"cannot read {self.setting} {self.path} ({exc.strerror})") from exc

    def describe(self) -> str:
        return f"{self.setting} ({self.path})"


def first_key(sources: Iterable[KeySource]) -> tuple[bytes, KeySource] | None:
    """The material of the first configured source and that source; None if none is set."""
    for source in sources:
        material = source.read()
        if material is not None:
            return material, source
    return None
