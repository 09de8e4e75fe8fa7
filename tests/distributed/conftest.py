"""Fixtures of the distributed suite: one SeaweedFS S3 server per session (started and stopped
here, on loopback), and a bucket of each test module's own, removed with its objects after;
the three-node RabbitMQ cluster and its vhosts (``tests.distributed.rabbit_cluster``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared.vault.s3_blobstore import S3BlobStore, S3Location
from tests.distributed.rabbit_cluster import cluster_infra, rabbit_cluster  # noqa: F401
from tests.distributed.seaweed import SeaweedFS


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bucket(seaweed: SeaweedFS) -> Iterator[str]:
    """A bucket of this module's own; every object in it and the bucket go afterwards."""
    name = f"efacture-test-{uuid.uuid4().hex[:12]}"
    seaweed.create_bucket(name)
    try:
        yield name
    finally:
        seaweed.delete_bucket(name)  # with its objects
        assert name not in seaweed.buckets(), f"bucket {name} left behind"


def s3_store(seaweed: SeaweedFS, url: str, missing_grace: float = 1.0) -> S3BlobStore:
    return S3BlobStore(S3Location.parse(url), endpoint=seaweed.endpoint,
                       access_key_id=seaweed.access_key, secret_access_key=seaweed.secret_key,
                       missing_grace=missing_grace)
