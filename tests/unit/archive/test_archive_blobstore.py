"""Blob store (issue 4, item 5): atomic, idempotent, content-addressed with fan-out."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from shared.vault.blobstore import (
    BlobNotFoundError,
    BlobStore,
    FileBlobStore,
    InMemoryBlobStore,
)

pytestmark = pytest.mark.unit


def _address(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return FileBlobStore(tmp_path / "blobs")
    return InMemoryBlobStore()


def test_put_then_get_returns_the_same_bytes(store: BlobStore) -> None:
    data = os.urandom(100_000)
    key = _address(data)
    assert not store.exists(key)
    store.put(key, data)
    assert store.exists(key)
    assert store.get(key) == data


def test_putting_the_same_key_twice_is_harmless(store: BlobStore) -> None:
    data = b"ciphertext"
    store.put(_address(data), data)
    store.put(_address(data), data)
    assert list(store.keys()) == [_address(data)]
    assert store.get(_address(data)) == data


def test_delete_removes_and_is_idempotent(store: BlobStore) -> None:
    data = b"to be purged"
    store.put(_address(data), data)
    store.delete(_address(data))
    store.delete(_address(data))
    assert not store.exists(_address(data))
    with pytest.raises(BlobNotFoundError):
        store.get(_address(data))


def test_keys_lists_every_blob(store: BlobStore) -> None:
    blobs = [os.urandom(64) for _ in range(20)]
    for blob in blobs:
        store.put(_address(blob), blob)
    assert sorted(store.keys()) == sorted(_address(b) for b in blobs)


@pytest.mark.parametrize("key", ["../../etc/passwd", "ab", "ab/cd", ".hidden", "", "a b c d"])
def test_keys_that_could_escape_the_root_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        store.put(key, b"x")


def test_file_store_fans_out_by_key_prefix(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    data = b"fan-out"
    key = _address(data)
    store.put(key, data)
    assert (tmp_path / key[:2] / key[2:4] / key).read_bytes() == data


def test_crash_between_write_and_rename_leaves_no_file_at_the_final_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileBlobStore(tmp_path)
    data = os.urandom(4096)
    key = _address(data)

    def crash(src: object, dst: object) -> None:
        raise OSError("power lost before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power lost"):
        store.put(key, data)
    monkeypatch.undo()

    assert not store.exists(key)
    assert list(store.keys()) == []
    with pytest.raises(BlobNotFoundError):
        store.get(key)
    store.put(key, data)  # the retry after the crash succeeds
    assert store.get(key) == data


def test_crash_after_fsync_leaves_a_temp_file_that_is_ignored_and_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hard kill (no cleanup handler runs) between fsync and rename leaves a temp file.
    store = FileBlobStore(tmp_path)
    data = b"half-way"
    key = _address(data)
    real_unlink = Path.unlink

    def killed(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    monkeypatch.setattr(Path, "unlink", lambda self, missing_ok=False: None)
    with pytest.raises(KeyboardInterrupt):
        store.put(key, data)
    monkeypatch.undo()
    assert Path.unlink is real_unlink

    leftovers = list(tmp_path.glob("*/*/.*.tmp"))
    assert len(leftovers) == 1
    assert leftovers[0].read_bytes() == data
    assert list(store.keys()) == []
    assert not store.exists(key)
    assert store.remove_temp_files() == 1
    assert list(tmp_path.glob("*/*/.*")) == []


def test_file_store_replaces_a_torn_file_left_by_a_foreign_writer(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    data = b"complete ciphertext"
    key = _address(data)
    final = store.path(key)
    final.parent.mkdir(parents=True)
    final.write_bytes(data[:5])
    store.put(key, data)
    assert store.get(key) == data
