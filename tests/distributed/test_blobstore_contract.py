"""The blob-store contract, the same tests on the local disk and on a real S3 server (SeaweedFS).

What holds for both: put/get round trip, same bytes twice is harmless, deletes are real and
idempotent, a missing blob is the permanent ``BlobNotFoundError``, ``keys`` lists exactly what
was stored, no key can escape its root. What holds for S3 only (the file store replaces, see
``test_other_bytes_under_a_stored_key_are_refused``): a conditional create that never
overwrites different bytes, even under concurrent writers.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared.errors import PermanentError, RetryableError
from shared.settings import Settings
from shared.vault.blob_factory import blob_store_from_settings
from shared.vault.blobstore import BlobNotFoundError, BlobStore, FileBlobStore
from shared.vault.s3_blobstore import (
    BlobConflictError,
    BlobStoreUnavailableError,
    S3BlobStore,
    S3Location,
)
from tests.distributed.conftest import s3_store
from tests.distributed.seaweed import SeaweedFS
from tests.support.infra import free_port

pytestmark = pytest.mark.distributed


def _key() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "file":
        return FileBlobStore(tmp_path / "blobs")
    seaweed: SeaweedFS = request.getfixturevalue("seaweed")
    bucket: str = request.getfixturevalue("bucket")
    # A prefix per test: keys() of one test never sees another's objects.
    return s3_store(seaweed, f"s3://{bucket}/t-{uuid.uuid4().hex[:8]}", missing_grace=0.3)


@pytest.fixture
def s3(seaweed: SeaweedFS, bucket: str) -> S3BlobStore:
    return s3_store(seaweed, f"s3://{bucket}/s3-{uuid.uuid4().hex[:8]}", missing_grace=0.3)


def test_put_then_get_returns_the_same_bytes(store: BlobStore) -> None:
    key, data = _key(), os.urandom(300_000)
    store.put(key, data)
    assert store.get(key) == data
    assert store.exists(key)


def test_putting_the_same_bytes_twice_is_harmless(store: BlobStore) -> None:
    key = _key()
    store.put(key, b"ciphertext")
    store.put(key, b"ciphertext")
    assert store.get(key) == b"ciphertext"
    assert list(store.keys()) == [key]


def test_delete_is_real_and_idempotent(store: BlobStore) -> None:
    key = _key()
    store.put(key, b"to be purged")
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(BlobNotFoundError) as missing:
        store.get(key)
    assert isinstance(missing.value, PermanentError)
    store.delete(key)
    assert list(store.keys()) == []


def test_a_missing_blob_is_the_permanent_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFoundError):
        store.get(_key())
    assert not store.exists(_key())


def test_keys_lists_exactly_what_is_stored(store: BlobStore) -> None:
    keys = {_key() for _ in range(12)}
    for k in keys:
        store.put(k, k.encode())
    assert set(store.keys()) == keys


@pytest.mark.parametrize("key", ["../../etc/passwd", "ab/cd", "", "a", "x" * 300, "ab cd"])
def test_keys_that_could_escape_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        store.put(key, b"x")


def test_other_bytes_under_a_stored_key_are_refused(store: BlobStore) -> None:
    if isinstance(store, FileBlobStore):
        pytest.skip("FileBlobStore replaces a key's file atomically instead of refusing; "
                    "harmless now that archive's keys are content addresses")
    key = _key()
    store.put(key, b"first ciphertext")
    with pytest.raises(BlobConflictError):
        store.put(key, b"another ciphertext")
    assert store.get(key) == b"first ciphertext"


def test_concurrent_writers_of_one_key_leave_exactly_one_object(s3: S3BlobStore) -> None:
    key = _key()
    start = threading.Barrier(8)

    def write(i: int) -> bytes | None:
        start.wait()
        data = f"writer {i}".encode()
        try:
            s3.put(key, data)
        except BlobConflictError:
            return None
        return data

    with ThreadPoolExecutor(8) as pool:
        won = [d for d in pool.map(write, range(8)) if d is not None]
    assert len(won) == 1, f"{len(won)} writers believe they stored the blob"
    assert s3.get(key) == won[0]


def test_prefixes_of_one_bucket_do_not_see_each_other(seaweed: SeaweedFS, bucket: str) -> None:
    a = s3_store(seaweed, f"s3://{bucket}/tenant-a")
    b = s3_store(seaweed, f"s3://{bucket}/tenant-b")
    key = _key()
    a.put(key, b"a's")
    assert not b.exists(key)
    assert key not in set(b.keys())
    b.put(key, b"b's")
    assert a.get(key) == b"a's"


def test_a_blob_that_appears_during_the_grace_is_read(seaweed: SeaweedFS, bucket: str) -> None:
    slow = s3_store(seaweed, f"s3://{bucket}/grace", missing_grace=30)
    key = _key()
    writer = threading.Timer(0.3, slow.put, (key, b"late"))
    writer.start()
    try:
        assert slow.get(key) == b"late"
    finally:
        writer.join()


def test_an_unreachable_store_is_a_retryable_error() -> None:
    dead = S3BlobStore(S3Location.parse("s3://efacture-nowhere/x"),
                       endpoint=f"http://127.0.0.1:{free_port()}", access_key_id="k",
                       secret_access_key="s")  # noqa: S106 - no server there
    for call in (lambda: dead.get(_key()), lambda: dead.put(_key(), b"x"),
                 lambda: dead.exists(_key()), lambda: dead.delete(_key())):
        with pytest.raises(BlobStoreUnavailableError) as err:
            call()
        assert isinstance(err.value, RetryableError)


def test_refused_credentials_are_retryable_not_a_lost_blob(seaweed: SeaweedFS,
                                                           bucket: str) -> None:
    wrong = S3BlobStore(S3Location.parse(f"s3://{bucket}/x"), endpoint=seaweed.endpoint,
                        access_key_id="nobody", secret_access_key="wrong")  # noqa: S106
    with pytest.raises(BlobStoreUnavailableError):
        wrong.get(_key())
    with pytest.raises(BlobStoreUnavailableError):
        wrong.put(_key(), b"x")


def test_async_get_reads_and_maps_missing(s3: S3BlobStore) -> None:
    key = _key()
    s3.put(key, b"async")
    assert asyncio.run(s3.get_async(key)) == b"async"
    with pytest.raises(BlobNotFoundError):
        asyncio.run(s3.get_async(_key()))


# --- the factory behind EFACTURE_BLOB_URL -------------------------------------------------

def test_blob_url_unset_is_the_data_dir(tmp_path: Path) -> None:
    store = blob_store_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(store, FileBlobStore)
    assert store.root == tmp_path / "blobs"


def test_blob_url_file_is_that_directory(tmp_path: Path) -> None:
    store = blob_store_from_settings(Settings(blob_url=f"file://{tmp_path}/elsewhere"))
    assert isinstance(store, FileBlobStore)
    assert store.root == tmp_path / "elsewhere"


def test_blob_url_s3_reaches_the_endpoint(seaweed: SeaweedFS, bucket: str) -> None:
    settings = Settings.model_validate({
        "blob_url": f"s3://{bucket}/factory", "s3_endpoint": seaweed.endpoint,
        "AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key})
    store = blob_store_from_settings(settings)
    assert isinstance(store, S3BlobStore)
    key = _key()
    store.put(key, b"via settings")
    assert s3_store(seaweed, f"s3://{bucket}/factory").get(key) == b"via settings"


@pytest.mark.parametrize("url", ["s3://", "s3://A_Bad_Bucket/x", "gs://bucket/x",
                                 "file://host/path", "s3://bucket/x?versionId=1"])
def test_a_bad_blob_url_is_refused_with_a_sentence(url: str) -> None:
    with pytest.raises(ValueError, match=r"blob URL|EFACTURE_BLOB_URL|s3://"):
        blob_store_from_settings(Settings(blob_url=url))
