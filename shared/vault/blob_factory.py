"""Which blob store a process uses, from ``EFACTURE_BLOB_URL`` (contract v2 section 1).

- unset → :class:`~shared.vault.blobstore.FileBlobStore` under ``EFACTURE_DATA_DIR/blobs``
  (the embedded default: one machine, local disk);
- ``file:///path`` → a :class:`~shared.vault.blobstore.FileBlobStore` at ``/path``;
- ``s3://bucket/prefix`` → an :class:`~shared.vault.s3_blobstore.S3BlobStore`, endpoint from
  ``EFACTURE_S3_ENDPOINT`` (unset → AWS), credentials from ``AWS_ACCESS_KEY_ID`` /
  ``AWS_SECRET_ACCESS_KEY`` (else obstore's usual AWS sources), region from ``AWS_REGION``.

Anything else raises ValueError with one sentence, at service start rather than at the first
document.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.settings import Settings
from shared.vault.blobstore import BlobStore, FileBlobStore


def blob_store_from_settings(settings: Settings) -> BlobStore:
    """The process's blob store (cheap: open one per service or command)."""
    url = settings.blob_url
    if not url:
        return FileBlobStore(settings.data_dir / "blobs")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ValueError(f"EFACTURE_BLOB_URL {url!r}: a file URL is file:///absolute/path")
        return FileBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        from shared.vault.s3_blobstore import S3BlobStore, S3Location

        secret = settings.aws_secret_access_key
        return S3BlobStore(
            S3Location.parse(url),
            endpoint=settings.s3_endpoint,
            access_key_id=settings.aws_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            region=settings.aws_region,
        )
    raise ValueError(f"EFACTURE_BLOB_URL {url!r}: use file:///path or s3://bucket/prefix")


def blob_store_for_env(env: dict[str, str]) -> BlobStore:
    """The blob store a process started with environment ``env`` uses (tests, drills, tools
    that inspect another process's store); ignores this process's own environment."""
    # model_validate: no settings sources, so this process's environment and .env stay out.
    return blob_store_from_settings(Settings.model_validate({
        "data_dir": env.get("EFACTURE_DATA_DIR", "./var"),
        "blob_url": env.get("EFACTURE_BLOB_URL"),
        "s3_endpoint": env.get("EFACTURE_S3_ENDPOINT"),
        "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID"),
        "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY"),
        "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
    }))
