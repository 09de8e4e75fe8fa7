"""``efacture purge`` through the running system: crypto-shredding, tombstones, events, share.

Invoices are archived with the default retention; the test moves ``retain_until`` into the
past in the database to make them due (corpus invoices are too recent to be due otherwise).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from services.archive.adapters import merkle_store
from services.archive.domain.bundle import CHECKPOINT_JSON, read_bundle
from services.archive.domain.checkpoint import Checkpoint
from services.archive.domain.leaf import TombstoneLeaf, parse_leaf
from services.archive.domain.merkle_proof import verify_consistency
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import StatusListener, System

pytestmark = pytest.mark.integration
WAIT = 180  # seconds: generous, the machine may be shared with other test runs


def _sql(system: System, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(system.infra.database_url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def listener(system: System):
    lst = StatusListener(system.infra.amqp_url)
    yield lst
    lst.close()


@pytest.fixture(scope="module")
def invoices(system: System, listener: StatusListener,
             tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Four archived invoices of one tenant: the ids of PURGE-0 … PURGE-3, in that order."""
    system.cli("tenant", "add", TENANT, "--name", "Purge", "--subscribed-on", "2017-01-01",
               "--sandbox")
    folder = tmp_path_factory.mktemp("purge-docs")
    files = []
    for i in range(4):
        path = folder / f"purge-{i}.xml"
        path.write_bytes(cii_invoice(f"PURGE-{i}"))
        files.append(str(path))
    subs = system.cli_json("submit", *files, "--tenant", TENANT, "--no-transmit")
    ids = {s["submission_id"] for s in subs}
    events = listener.wait_for(timeout=WAIT, predicate=lambda ev: ids <= {
        e["submission_id"] for e in ev if e["event"] == "archived"})
    archived = sorted((e for e in events if e["event"] == "archived" and e["submission_id"] in ids),
                      key=lambda e: e["invoice_number"])
    return [e["invoice_id"] for e in archived]


def _make_due(system: System, invoice_ids: list[str]) -> None:
    _sql(system, "UPDATE archive.invoice SET retain_until = '2020-01-01'"
         " WHERE invoice_id = ANY(%s::uuid[])", (invoice_ids,))


def _blob_path(system: System, invoice_id: str) -> Path:
    [(key,)] = _sql(system, "SELECT blob_key FROM archive.invoice WHERE invoice_id = %s",
                    (invoice_id,))
    return Path(system.env["EFACTURE_DATA_DIR"]) / "blobs" / key[:2] / key[2:4] / key


def _proof_dir(system: System, invoice_id: str, directory: Path) -> Path:
    for _ in range(int(WAIT / 0.2)):
        if system.cli("proof", invoice_id, "-o", str(directory), check=False).returncode == 0:
            return directory
        time.sleep(0.2)
    raise AssertionError("no checkpoint covered the invoice")


def test_nothing_is_due_with_the_default_retention(system, invoices):
    out = system.cli_json("purge", "--dry-run")
    assert out == {"dry_run": True, "count": 0, "invoices": []}


def test_dry_run_lists_and_counts_without_removing(system, invoices):
    _make_due(system, invoices[:1])
    out = system.cli_json("purge", "--dry-run")
    assert out["dry_run"] is True
    assert out["count"] == 1
    assert out["invoices"] == [{"invoice_id": invoices[0], "tenant": TENANT,
                                "invoice_number": "PURGE-0", "retain_until": "2020-01-01"}]
    assert _blob_path(system, invoices[0]).is_file()
    assert _sql(system, "SELECT state FROM archive.invoice WHERE invoice_id = %s",
                (invoices[0],)) == [("archived",)]


def test_purge_shreds_deletes_tombstones_and_announces(system, listener, invoices, tmp_path):
    victim = invoices[0]
    old_bundle = _proof_dir(system, victim, tmp_path / "before")
    blob = _blob_path(system, victim)
    out = system.cli_json("purge")
    assert out["dry_run"] is False
    assert out["count"] == 1
    assert [i["invoice_id"] for i in out["invoices"]] == [victim]

    [(state, key, purged_at, tombstone)] = _sql(
        system, "SELECT state, wrapped_data_key, purged_at, tombstone_index FROM archive.invoice"
        " WHERE invoice_id = %s", (victim,))
    assert state == "purged"
    assert key is None
    assert purged_at is not None
    assert not blob.exists()
    [(leaf,)] = _sql(system, "SELECT data FROM archive.log_leaf WHERE idx = %s", (tombstone,))
    parsed = parse_leaf(bytes(leaf))
    assert isinstance(parsed, TombstoneLeaf)
    assert parsed.invoice_id == victim

    events = listener.wait_for(timeout=WAIT, predicate=lambda ev: any(
        e["event"] == "purged" and e["invoice_id"] == victim for e in ev))
    purged = next(e for e in events if e["event"] == "purged")
    assert purged["tenant"] == TENANT
    assert purged["invoice_number"] == "PURGE-0"

    res = system.cli("invoice", "get", victim, "-o", str(tmp_path / "gone.xml"), check=False)
    assert res.returncode == 1

    # The bundle made before the purge still verifies against its (older) checkpoint.
    bundle_doc = tmp_path / "doc.xml"
    bundle_doc.write_bytes(cii_invoice("PURGE-0"))
    system.cli("keys", "export-trust", "-o", str(tmp_path / "trust"))
    assert system.cli("verify", str(bundle_doc), "--proof", str(old_bundle), "--log-key",
                      str(tmp_path / "trust" / "log.pub"), "--tsa-ca",
                      str(tmp_path / "trust" / "tsa-ca.pem")).returncode == 0
    _assert_old_checkpoint_is_consistent_with_the_log(system, old_bundle)


def _assert_old_checkpoint_is_consistent_with_the_log(system: System, bundle: Path) -> None:
    old = Checkpoint.from_json_bytes(read_bundle(bundle)[CHECKPOINT_JSON] or b"")

    async def check() -> bool:
        async with await psycopg.AsyncConnection.connect(system.infra.database_url) as conn:
            size = await merkle_store.size(conn)
            new_root = await merkle_store.root(conn, size)
            path = await merkle_store.consistency_proof(conn, old.size, size)
        return verify_consistency(old.size, size, old.root, new_root, path)

    assert asyncio.run(check())


def test_metering_counts_the_purge(system, invoices):
    for _ in range(int(WAIT / 0.2)):
        rows = _sql(system, "SELECT invoice_id::text FROM metering.purged")
        if rows:
            break
        time.sleep(0.2)
    assert rows == [(invoices[0],)]


def test_purging_more_than_the_share_needs_force(system, listener, invoices):
    _make_due(system, invoices[1:])  # 3 of the 3 still archived: over the 50 % default
    res = system.cli("purge", "--json", check=False)
    assert res.returncode == 1
    assert "--force" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert _sql(system, "SELECT count(*) FROM archive.invoice WHERE state = 'archived'") == [(3,)]

    out = json.loads(system.cli("purge", "--force", "--json").stdout)
    assert out["count"] == 3
    assert _sql(system, "SELECT count(*) FROM archive.invoice WHERE state = 'archived'") == [(0,)]
    assert system.cli_json("purge", "--dry-run")["count"] == 0
    listener.wait_for(timeout=WAIT,
                      predicate=lambda ev: sum(e["event"] == "purged" for e in ev) == 4)
