"""The master key of a running process, following rotations without a restart.

``efacture keys rotate`` replaces ``<data_dir>/keys/master.key`` (keeping the previous key
in ``master.key.old`` until every row is re-wrapped). A :class:`MasterKeySource` notices: it
re-reads the key files when their identity (inode, size, mtime) changes — one ``stat`` per
use, far cheaper than the database round trip beside it — and whenever a row names a key id
it does not hold. So new material is wrapped under the new key as soon as it exists, and rows
already re-wrapped open at once. With ``EFACTURE_MASTER_KEY`` (or ``_FILE``) the key is fixed
for the life of the process (its operator rotates by restarting with both keys).
"""

from __future__ import annotations

import os
import threading

from shared.settings import Settings
from shared.vault.master_key import (
    KEY_FILE,
    OLD_KEY_FILE,
    MasterKey,
    MasterKeyError,
    keys_dir,
    load_master_key,
)

Stamp = tuple[tuple[int, int, int] | None, ...]


class MasterKeySource:
    """:class:`~shared.vault.master_key.MasterKeys` read from the settings' key files."""

    def __init__(self, settings: Settings, *, generate: bool = True) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._key = load_master_key(settings, generate=generate)
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> Stamp:
        if self._settings.master_key or self._settings.master_key_file:
            return ()
        directory = keys_dir(self._settings.data_dir)
        stamps: list[tuple[int, int, int] | None] = []
        for name in (KEY_FILE, OLD_KEY_FILE):
            try:
                st = os.stat(directory / name)
            except FileNotFoundError:
                stamps.append(None)
            else:
                stamps.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(stamps)

    def _reload(self) -> None:
        with self._lock:
            stamp = self._file_stamp()
            try:
                key = load_master_key(self._settings, generate=False)
            except (MasterKeyError, OSError):
                return  # a rotation between two renames: keep the key we have, look again later
            self._key, self._stamp = key, stamp

    def current(self) -> MasterKey:
        if self._file_stamp() != self._stamp:
            self._reload()
        return self._key

    def holding(self, key_id: str) -> MasterKey | None:
        found = self.current().by_id(key_id)
        if found is None:
            self._reload()
            found = self._key.by_id(key_id)
        return found
