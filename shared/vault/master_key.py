"""The master key: kept outside the database, it wraps every tenant key.

Where it comes from, first match wins (:func:`load_master_key`):

1. ``EFACTURE_MASTER_KEY`` (``Settings.master_key``): base64 of 32 bytes. Production.
2. ``EFACTURE_MASTER_KEY_FILE``: a file holding that base64 text (e.g. a docker secret), only
   ever read; like the variable, it is fixed for the life of the process.
3. ``<data_dir>/keys/master.key``: the same base64 text in a file readable by its owner only.
4. None of these: **dev mode**. A key is generated into that file on first start, with a loud
   warning in the log and on stderr. Losing that file loses every archived document, so a
   production deployment sets ``EFACTURE_MASTER_KEY`` or provisions the file itself.

Rotation of a file-held key (:func:`rotate_master_key`) keeps the previous key in
``master.key.old`` until the caller has re-wrapped every tenant key and calls
:func:`finish_master_rotation`; while ``master.key.old`` exists it is loaded as
:attr:`MasterKey.previous`, so tenant keys not yet re-wrapped still open after a crash.
With ``EFACTURE_MASTER_KEY`` the operator supplies both keys (:meth:`MasterKey.from_base64`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import structlog

from shared.errors import PermanentError
from shared.settings import Settings
from shared.vault.envelope import KEY_BYTES, new_data_key
from shared.vault.key_source import FileKeySource, KeySourceError
from shared.vault.safe_files import fsync_dir

log = structlog.get_logger(__name__)

KEY_FILE = "master.key"
OLD_KEY_FILE = "master.key.old"


class MasterKeyError(PermanentError):
    """The master key is malformed, missing where required, or in an unsafe state."""

    code = "master-key-invalid"


class MasterKeys(Protocol):
    """What wraps and unwraps under the master key: a fixed :class:`MasterKey`, or a source
    that follows rotations (:class:`shared.vault.master_source.MasterKeySource`)."""

    def current(self) -> MasterKey:
        """The key new material is wrapped under."""
        ...

    def holding(self, key_id: str) -> MasterKey | None:
        """The key named ``key_id`` (current or previous), or None if it is not held."""
        ...


@dataclass(frozen=True, repr=False)
class MasterKey:
    """A 32-byte key and, during a rotation, the key it replaces."""

    key: bytes
    previous: MasterKey | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise MasterKeyError(f"master key must be {KEY_BYTES} bytes, got {len(self.key)}")

    @property
    def key_id(self) -> str:
        """First 8 bytes of SHA-256 of the key, hex: names the key without revealing it."""
        return hashlib.sha256(self.key).hexdigest()[:16]

    def by_id(self, key_id: str) -> MasterKey | None:
        """This key or its predecessor, whichever has ``key_id``; None if neither."""
        if key_id == self.key_id:
            return self
        return self.previous.by_id(key_id) if self.previous is not None else None

    def current(self) -> MasterKey:
        return self

    def holding(self, key_id: str) -> MasterKey | None:
        return self.by_id(key_id)

    def known_ids(self) -> list[str]:
        """This key's id, then its predecessors'."""
        return [self.key_id, *(self.previous.known_ids() if self.previous else [])]

    @classmethod
    def from_base64(cls, text: str) -> MasterKey:
        """Parse base64 text of 32 bytes; raises :class:`MasterKeyError` otherwise."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyError("master key is not valid base64") from None
        return cls(raw)

    def to_base64(self) -> str:
        return base64.b64encode(self.key).decode("ascii")

    def __repr__(self) -> str:  # never print key material
        return f"MasterKey(key_id={self.key_id!r})"


def keys_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "keys"


def load_master_key(settings: Settings, *, generate: bool = True) -> MasterKey:
    """The process's master key (see the module docstring for the order of sources).

    ``generate=False`` refuses dev-mode generation (raises :class:`MasterKeyError`): use it in
    commands that only read the archive, where a fresh key could never open anything.
    Safe when several processes start at once: exactly one generated key wins.
    """
    if settings.master_key:
        return MasterKey.from_base64(settings.master_key)
    if settings.master_key_file is not None:
        try:
            text = FileKeySource(settings.master_key_file, "EFACTURE_MASTER_KEY_FILE").read()
        except KeySourceError as exc:
            raise MasterKeyError(str(exc)) from None
        return MasterKey.from_base64((text or b"").decode("ascii", errors="replace"))
    directory = keys_dir(settings.data_dir)
    path = directory / KEY_FILE
    if not path.exists():
        if not generate:
            raise MasterKeyError(f"no master key: set EFACTURE_MASTER_KEY or provide {path}")
        if _create_exclusive(path, MasterKey(new_data_key())):
            _warn_generated(path)
    current = _read_key_file(path)
    old_path = directory / OLD_KEY_FILE
    if old_path.exists():
        return MasterKey(current.key, previous=_read_key_file(old_path))
    return current


def rotate_master_key(data_dir: Path) -> tuple[MasterKey, MasterKey]:
    """Replace the file-held master key by a new one; returns ``(old, new)``.

    The previous key is kept as ``master.key.old``. Re-wrap the tenant keys
    (``keyring.rewrap_all(conn, old, new)``), commit, then call
    :func:`finish_master_rotation`. Calling this again before that resumes the unfinished
    rotation (same ``old`` and ``new``) instead of starting another.
    """
    directory = keys_dir(data_dir)
    path, old_path = directory / KEY_FILE, directory / OLD_KEY_FILE
    if not path.exists():
        raise MasterKeyError(f"no master key file to rotate at {path}")
    old = _read_key_file(old_path) if old_path.exists() else _read_key_file(path)
    _create_exclusive(old_path, old)
    current = _read_key_file(path)
    if current.key_id != old.key_id:  # an earlier call got this far: resume it
        return old, current
    new = MasterKey(new_data_key())
    _write_atomic(path, new)
    log.info("master-key-rotated", old_key_id=old.key_id, new_key_id=new.key_id)
    return old, new


def finish_master_rotation(data_dir: Path) -> None:
    """Forget the previous master key; call only after the re-wrap has committed."""
    old_path = keys_dir(data_dir) / OLD_KEY_FILE
    old_path.unlink(missing_ok=True)
    fsync_dir(old_path.parent)


def _read_key_file(path: Path) -> MasterKey:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("master-key-file-too-open", path=str(path), mode=oct(mode))
    return MasterKey.from_base64(path.read_text(encoding="ascii"))


def _temp_file(path: Path, key: MasterKey) -> Path:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (key.to_base64() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _create_exclusive(path: Path, key: MasterKey) -> bool:
    """Create ``path`` holding ``key`` unless it exists; True if this call created it."""
    tmp = _temp_file(path, key)
    try:
        os.link(tmp, path)  # atomic create-if-absent: concurrent starters agree on one key
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def _write_atomic(path: Path, key: MasterKey) -> None:
    tmp = _temp_file(path, key)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _warn_generated(path: Path) -> None:
    log.warning(
        "dev-master-key-generated",
        path=str(path),
        advice="dev mode only: set EFACTURE_MASTER_KEY in production; losing this file "
        "loses every archived document",
    )
    print(
        f"WARNING: efacture generated a DEV master key at {path}. Back it up or set "
        "EFACTURE_MASTER_KEY; without it no archived document can be decrypted.",
        file=sys.stderr,
    )
