"""Blob store of encrypted documents: a small Protocol, a filesystem implementation, a fake.

Only ciphertext is ever stored here (the document sealer encrypts first). Keys are content
addresses (SHA-256 hex of the ciphertext) by convention, though any key of letters, digits,
``_`` and ``-`` (4 to 200 characters) is accepted. The methods are synchronous; async callers
use ``asyncio.to_thread``. An S3-compatible store can implement the same Protocol.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from shared.errors import PermanentError
from shared.vault.safe_files import fsync_dir, write_private

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{3,199}")
_TMP_SUFFIX = ".tmp"


class BlobNotFoundError(PermanentError):
    """No blob is stored under that key."""

    code = "blob-not-found"


class BlobStore(Protocol):
    """Where ciphertext lives. ``put`` is atomic and idempotent (same key twice is fine)."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """Raises :class:`BlobNotFoundError` if absent."""
        ...

    def delete(self, key: str) -> None:
        """Removes the blob; no error if it is already gone."""
        ...

    def exists(self, key: str) -> bool: ...

    def keys(self) -> Iterator[str]: ...


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid blob key, else raise ValueError (no path tricks)."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class FileBlobStore:
    """Blobs as files under ``root/ab/cd/abcd…`` (two fan-out levels from the key's start).

    ``put`` is crash-safe: it writes a temporary file in the final directory, fsyncs it,
    renames it over the final path and fsyncs the directory, so the final path holds either
    nothing or the whole blob, and survives power loss once ``put`` returns. A crash can leave
    a ``.…tmp`` file behind; :meth:`keys` ignores it and :meth:`remove_temp_files` cleans up.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, key: str, data: bytes) -> None:
        final = self.path(key)
        self._ensure_dir(final.parent)
        write_private(final, data)  # a fresh ".<key>.<pid>.<rand>.tmp", fsync'd, renamed
        fsync_dir(final.parent)

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(f"no blob {key}") from None

    def delete(self, key: str) -> None:
        final = self.path(key)
        try:
            final.unlink()
        except FileNotFoundError:
            return
        fsync_dir(final.parent)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> Iterator[str]:
        """Every stored key, in no particular order (temporary files excluded)."""
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for entry in sorted(second.iterdir()):
                    if _KEY.fullmatch(entry.name) and entry.is_file():
                        yield entry.name

    def remove_temp_files(self) -> int:
        """Delete leftovers of interrupted ``put`` calls; run when no put is in flight."""
        removed = 0
        for tmp in self.root.glob(f"*/*/.*{_TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    def _ensure_dir(self, directory: Path) -> None:
        # A new directory entry is only durable once its parent is fsynced.
        missing = []
        current = directory
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            path.mkdir(mode=0o700, exist_ok=True)
            fsync_dir(path.parent)


class InMemoryBlobStore:
    """A :class:`BlobStore` in a dict, for unit tests of code that uses a blob store."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self._blobs[check_key(key)] = bytes(data)

    def get(self, key: str) -> bytes:
        try:
            return self._blobs[check_key(key)]
        except KeyError:
            raise BlobNotFoundError(f"no blob {key}") from None

    def delete(self, key: str) -> None:
        self._blobs.pop(check_key(key), None)

    def exists(self, key: str) -> bool:
        return check_key(key) in self._blobs

    def keys(self) -> Iterator[str]:
        return iter(list(self._blobs))


