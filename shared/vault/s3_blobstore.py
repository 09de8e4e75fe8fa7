"""The :class:`~shared.vault.blobstore.BlobStore` on S3-compatible object storage (``obstore``).

Objects live at ``{prefix}/{key[:2]}/{key}`` in one bucket: two hex characters spread the keys
over 256 prefixes, which is how S3 scales request rates. Contract, beside the Protocol's:

- ``put`` is a conditional create (``If-None-Match: *``; AWS S3, SeaweedFS 4.x and MinIO
  answer 412 when the object exists). On 412 the stored object is read back: the same bytes
  are success (idempotent), other bytes raise :class:`BlobConflictError` — a store never
  overwrites a different object, so two writers of one key cannot leave a row pointing at
  ciphertext that its data key does not open.
- ``get`` of a missing object re-reads it for ``missing_grace`` seconds (a store that is only
  eventually consistent can hide a fresh object for a moment), then raises
  :class:`~shared.vault.blobstore.BlobNotFoundError` (permanent, as the Protocol says).
- Everything the store cannot answer now (connection refused, timeouts, 5xx after the
  client's own retries, throttling, refused credentials) raises
  :class:`BlobStoreUnavailableError`, a :class:`~shared.errors.RetryableError`: the message
  is retried later instead of dead-lettered.
- ``delete`` is real (no soft delete) and idempotent.

The methods are synchronous, like the Protocol's (callers use ``asyncio.to_thread``); the
``*_async`` twins serve async code that wants no thread.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    NotFoundError,
    PreconditionError,
)
from obstore.store import S3Store

from shared.errors import PermanentError, RetryableError
from shared.vault.blobstore import _KEY, BlobNotFoundError, check_key

# obstore raises the builtin FileNotFoundError for a 404 on get and head.
_MISSING = (NotFoundError, FileNotFoundError)
_FAILED = (BaseError, OSError)
_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"


class BlobConflictError(PermanentError):
    """Another object, with other bytes, is already stored under that key."""

    code = "blob-conflict"


class BlobStoreUnavailableError(RetryableError):
    """The object store did not answer (or refused us) now; the same call may succeed later."""

    code = "blob-store-unavailable"


@dataclass(frozen=True)
class S3Location:
    """``s3://bucket/prefix`` split; ``prefix`` has no leading or trailing slash."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """Raises ValueError with a sentence for anything but ``s3://bucket[/prefix]``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not re.fullmatch(_BUCKET, parts.netloc or ""):
            raise ValueError(f"{url!r} is not an s3://bucket/prefix URL (bucket: 3-63 "
                             "lowercase letters, digits, dots, hyphens)")
        if parts.query or parts.fragment:
            raise ValueError(f"{url!r}: an s3:// blob URL takes no query or fragment")
        return cls(parts.netloc, parts.path.strip("/"))


class S3BlobStore:
    """Blobs as objects in one bucket under one prefix (see the module's contract)."""

    # An object can be invisible for a while (a store restarting, replicas catching up):
    # a reader that knows the blob was written treats its absence as transient.
    missing_may_be_transient = True

    def __init__(
        self,
        location: S3Location,
        *,
        endpoint: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "us-east-1",
        missing_grace: float = 1.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.location = location
        self.missing_grace = missing_grace
        config: dict[str, Any] = {"region": region}
        if endpoint:
            # Path-style requests: S3-compatible servers on an IP or loopback have no DNS
            # name per bucket.
            config.update(endpoint=endpoint, virtual_hosted_style_request=False)
        if access_key_id:
            config["access_key_id"] = access_key_id
        if secret_access_key:
            config["secret_access_key"] = secret_access_key
        try:
            self._store = self._open(location, config, endpoint, request_timeout)
        except _FAILED as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(f"cannot use s3://{location.bucket}/{location.prefix}: {first}"
                             ) from None

    @staticmethod
    def _open(location: S3Location, config: dict[str, Any], endpoint: str | None,
              request_timeout: float) -> S3Store:
        return S3Store(
            location.bucket,
            prefix=location.prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options={
                "allow_http": bool(endpoint and endpoint.startswith("http://")),
                "connect_timeout": timedelta(seconds=5),
                "timeout": timedelta(seconds=request_timeout),
            },
            # The client's own retries stay short: the broker's retry queues are the long wait.
            retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=10)},
        )

    def __repr__(self) -> str:
        return f"S3BlobStore(s3://{self.location.bucket}/{self.location.prefix})"

    @staticmethod
    def path(key: str) -> str:
        check_key(key)
        return f"{key[:2]}/{key}"

    def put(self, key: str, data: bytes) -> None:
        """Create the object; same bytes already there is success, other bytes a conflict."""
        path = self.path(key)
        for _ in range(3):
            try:
                obstore.put(self._store, path, bytes(data), mode="create")
                return
            except (AlreadyExistsError, PreconditionError):
                pass
            except _FAILED as exc:
                raise _unavailable("put", key, exc) from exc
            try:
                stored = self._get_once(path)
            except _MISSING:
                continue  # deleted between our put and our read: create again
            if stored == data:
                return
            raise BlobConflictError(f"blob {key} already holds other bytes; not overwritten")
        raise BlobStoreUnavailableError(f"blob {key} kept appearing and vanishing during put")

    def get(self, key: str) -> bytes:
        path = self.path(key)
        deadline = time.monotonic() + self.missing_grace
        pause = 0.05
        while True:
            try:
                return self._get_once(path)
            except _MISSING:
                if time.monotonic() >= deadline:
                    raise BlobNotFoundError(f"no blob {key}") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def delete(self, key: str) -> None:
        try:
            obstore.delete(self._store, self.path(key))
        except _MISSING:
            return
        except _FAILED as exc:
            raise _unavailable("delete", key, exc) from exc

    def exists(self, key: str) -> bool:
        try:
            obstore.head(self._store, self.path(key))
        except _MISSING:
            return False
        except _FAILED as exc:
            raise _unavailable("head", key, exc) from exc
        return True

    def keys(self) -> Iterator[str]:
        """Every stored key under the prefix, in no particular order."""
        try:
            for batch in obstore.list(self._store):
                for meta in batch:
                    name = meta["path"].rsplit("/", 1)[-1]
                    if _KEY.fullmatch(name):
                        yield name
        except _FAILED as exc:
            raise _unavailable("list", "*", exc) from exc

    async def get_async(self, key: str) -> bytes:
        """:meth:`get` without a thread (no grace re-read: callers retry through the broker)."""
        try:
            result = await obstore.get_async(self._store, self.path(key))
            return bytes(await result.bytes_async())
        except _MISSING:
            raise BlobNotFoundError(f"no blob {key}") from None
        except _FAILED as exc:
            raise _unavailable("get", key, exc) from exc

    def _get_once(self, path: str) -> bytes:
        """One read; NotFoundError passes through, any other store error is 'unavailable'."""
        try:
            return bytes(obstore.get(self._store, path).bytes())
        except _MISSING:
            raise
        except _FAILED as exc:
            raise _unavailable("get", path, exc) from exc


def _unavailable(op: str, key: str, exc: BaseException) -> BlobStoreUnavailableError:
    first = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    return BlobStoreUnavailableError(f"object store {op} {key} failed: {first}")
