"""The whole pipeline with its documents on S3, a database URL naming two hosts and an AMQP URL
naming two nodes.

``efacture up`` runs with ``EFACTURE_BLOB_URL=s3://<bucket>/e2e`` on the session's SeaweedFS,
with ``EFACTURE_DATABASE_URL`` listing a host that refuses connections before the real one
(``target_session_attrs=read-write``) and ``EFACTURE_AMQP_URL`` a dead node before the real
one, for the services and for every CLI command. It shows:
archive writes the ciphertext to the bucket (nothing on the local disk), transmit reads it back
to upload it, ``invoice get`` returns the original bytes, and ``purge`` deletes the object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from shared.vault.blob_factory import blob_store_for_env
from shared.vault.s3_blobstore import S3BlobStore
from tests.distributed.seaweed import SeaweedFS
from tests.support.drill import started
from tests.support.infra import Infra, free_port
from tests.support.system import CORPUS, StatusListener, System

pytestmark = pytest.mark.distributed

TENANT = "99999999800010"
BASIC_WL = CORPUS / "factur-x" / "zfc-fnfe__Facture_FR_BASICWL.pdf"
WAIT = 180  # seconds: the machine is shared


def two_host_url(database_url: str) -> str:
    """``database_url`` with a host that refuses connections named first."""
    parts = urlsplit(database_url)
    user, _, hostport = parts.netloc.rpartition("@")
    netloc = f"{user}@127.0.0.1:{free_port()},{hostport}" if user else \
        f"127.0.0.1:{free_port()},{hostport}"
    query = "&".join(q for q in (parts.query, "target_session_attrs=read-write",
                                 "connect_timeout=5") if q)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def two_node_url(amqp_url: str) -> str:
    """``amqp_url`` after a node URL where nothing listens (comma-separated node list)."""
    parts = urlsplit(amqp_url)
    user = parts.netloc.rpartition("@")[0]
    dead = urlunsplit((parts.scheme, f"{user}@127.0.0.1:{free_port()}", parts.path, "", ""))
    return f"{dead},{amqp_url}"


@pytest.fixture(scope="module")
def system(infra: Infra, seaweed: SeaweedFS, bucket: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    sys_ = System(infra, tmp_path_factory.mktemp("efacture-s3"),
                  EFACTURE_BLOB_URL=f"s3://{bucket}/e2e",
                  EFACTURE_DATABASE_URL=two_host_url(infra.database_url),
                  EFACTURE_AMQP_URL=two_node_url(infra.amqp_url), **seaweed.env())
    with started(sys_, TENANT, name="S3", subscribed_on="2026-11-01"):
        yield sys_


@pytest.fixture(scope="module")
def listener(system: System) -> Iterator[StatusListener]:
    lst = StatusListener(system.infra.amqp_url)
    yield lst
    lst.close()


@pytest.fixture(scope="module")
def transmitted(system: System, listener: StatusListener) -> dict[str, Any]:
    """One Factur-X invoice submitted, archived on S3 and transmitted: its archived event."""
    [sub] = system.cli_json("submit", str(BASIC_WL), "--tenant", TENANT)
    sid = sub["submission_id"]
    events = listener.wait_for(timeout=WAIT, predicate=lambda ev: {"archived", "transmitted"} <= {
        e["event"] for e in ev if e["submission_id"] == sid})
    return next(e for e in events if e["submission_id"] == sid and e["event"] == "archived")


def _blob_key(system: System, invoice_id: str) -> str:
    with psycopg.connect(system.infra.database_url) as conn:
        row = conn.execute("SELECT blob_key FROM archive.invoice WHERE invoice_id = %s",
                           (invoice_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_the_ciphertext_is_in_the_bucket_and_not_on_the_local_disk(system, transmitted):
    store = blob_store_for_env(system.env)
    assert isinstance(store, S3BlobStore)
    key = _blob_key(system, transmitted["invoice_id"])
    ciphertext = store.get(key)
    original = BASIC_WL.read_bytes()
    assert original not in ciphertext
    assert len(ciphertext) >= len(original)
    local = Path(system.env["EFACTURE_DATA_DIR"]) / "blobs"
    assert not local.exists() or not any(p.is_file() for p in local.rglob("*"))


def test_transmit_read_the_document_back_from_s3(system, transmitted, listener):
    sid = transmitted["submission_id"]
    history = system.cli_json("status", sid)
    events = [e["event"] for e in history["events"]]
    assert events.index("archived") < events.index("transmitted")
    sent = next(e for e in history["events"] if e["event"] == "transmitted")
    assert sent["detail"]["flow_id"]


def test_invoice_get_returns_the_original_bytes(system, transmitted, tmp_path):
    out = tmp_path / "back.pdf"
    got = system.cli_json("invoice", "get", transmitted["invoice_id"], "-o", str(out))
    assert out.read_bytes() == BASIC_WL.read_bytes()
    assert got["sha256"] == hashlib.sha256(BASIC_WL.read_bytes()).hexdigest()


def test_purge_deletes_the_object(system, transmitted, listener):
    invoice_id = transmitted["invoice_id"]
    store = blob_store_for_env(system.env)
    key = _blob_key(system, invoice_id)
    assert store.exists(key)
    with psycopg.connect(system.infra.database_url, autocommit=True) as conn:
        conn.execute("UPDATE archive.invoice SET retain_until = '2020-01-01'"
                     " WHERE invoice_id = %s", (invoice_id,))
    out = system.cli_json("purge", "--force")
    assert invoice_id in {i["invoice_id"] for i in out["invoices"]}
    assert not store.exists(key), "purge left the object in the bucket"
    assert key not in set(store.keys())
    res = system.cli("invoice", "get", invoice_id, "-o", "/dev/null", check=False)
    assert res.returncode == 1
