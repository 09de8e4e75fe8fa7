"""What the reader makes of a missing blob (``shared.vault.reader.Vault``): a purged row says
shredded; a live row's blob missing is transient on S3 (objects can be briefly invisible there)
and stays the permanent ``blob-not-found`` on the local disk."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest

from shared.errors import RetryableError
from shared.vault.blobstore import BlobNotFoundError, FileBlobStore
from shared.vault.document_sealer import DocumentShreddedError
from shared.vault.reader import Vault
from tests.distributed.conftest import s3_store
from tests.distributed.seaweed import SeaweedFS

pytestmark = pytest.mark.distributed


def _vault(blobs: Any) -> Vault:
    vault = Vault.__new__(Vault)  # no keys needed: only the blob lookup is exercised
    vault.blobs = blobs
    return vault


def _row(live: bool) -> dict[str, Any]:
    return {"invoice_id": "00000000-0000-0000-0000-000000000001",
            "blob_key": hashlib.sha256(b"gone").hexdigest(),
            "wrapped_data_key": b"k" if live else None}


def test_a_purged_row_is_shredded(tmp_path: Path) -> None:
    with pytest.raises(DocumentShreddedError):
        asyncio.run(_vault(FileBlobStore(tmp_path))._ciphertext(_row(live=False)))


def test_a_live_row_without_its_blob_on_disk_is_permanent(tmp_path: Path) -> None:
    with pytest.raises(BlobNotFoundError):
        asyncio.run(_vault(FileBlobStore(tmp_path))._ciphertext(_row(live=True)))


def test_a_live_row_without_its_blob_on_s3_is_retryable(seaweed: SeaweedFS, bucket: str) -> None:
    store = s3_store(seaweed, f"s3://{bucket}/vault", missing_grace=0.1)
    with pytest.raises(RetryableError) as err:
        asyncio.run(_vault(store)._ciphertext(_row(live=True)))
    assert err.value.code == "blob-not-visible"
