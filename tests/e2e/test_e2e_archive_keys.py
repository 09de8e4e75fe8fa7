"""No plaintext at rest, and ``keys rotate`` re-wraps keys without re-encrypting documents."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import StatusListener, System

pytestmark = pytest.mark.e2e
WAIT = 180  # seconds: generous, the machine may be shared with other test runs

MARKER = f"PLAINTEXT-MARKER-{uuid.uuid4().hex}".encode()


def _with_marker(number: str) -> bytes:
    # A product name: not a field the catalogue, events or logs copy out of the document.
    data = cii_invoice(number)
    assert data.count(b"Helium par litre") == 1
    return data.replace(b"Helium par litre", MARKER)


def _archive(system: System, listener: StatusListener, path: Path, data: bytes) -> str:
    path.write_bytes(data)
    [sub] = system.cli_json("submit", str(path), "--tenant", TENANT, "--no-transmit")
    events = listener.wait_for(timeout=WAIT, predicate=lambda ev: any(
        e["submission_id"] == sub["submission_id"] and e["event"] in ("archived", "rejected")
        for e in ev))
    event = next(e for e in events if e["submission_id"] == sub["submission_id"]
                 and e["event"] in ("archived", "rejected"))
    assert event["event"] == "archived", event["reasons"]
    return str(event["invoice_id"])


@pytest.fixture(scope="module")
def marked(system: System, listener: StatusListener,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    system.cli("tenant", "add", TENANT, "--name", "Keys", "--subscribed-on", "2017-01-01",
               "--sandbox")
    data = _with_marker("KEYS-1")
    folder = tmp_path_factory.mktemp("keys-docs")
    invoice_id = _archive(system, listener, folder / "marked.xml", data)
    (folder / "marked.xml").unlink()  # the test's own copy must not be found below
    return invoice_id, data


def _blob_digests(system: System) -> dict[str, str]:
    root = Path(system.env["EFACTURE_DATA_DIR"]) / "blobs"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def _get(system: System, invoice_id: str, target: Path) -> bytes:
    system.cli("invoice", "get", invoice_id, "-o", str(target))
    return target.read_bytes()


def test_no_plaintext_byte_reaches_the_data_directory_or_postgresql(system, marked):
    data_dir = Path(system.env["EFACTURE_DATA_DIR"])
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert MARKER not in path.read_bytes(), f"plaintext marker found in {path}"
    dump = subprocess.run(["pg_dump", "--data-only", system.infra.database_url],
                          capture_output=True, timeout=120, check=True).stdout
    assert len(dump) > 1000
    assert MARKER not in dump
    assert MARKER.hex().encode() not in dump  # bytea is dumped as hex


def test_master_key_rotation_rewraps_keys_and_leaves_blobs_untouched(system, marked, tmp_path):
    invoice_id, data = marked
    before = _blob_digests(system)
    out = system.cli_json("keys", "rotate")
    assert out["rotated"] == "master"
    assert out["keys_rewrapped"] >= 1
    assert out["documents_reencrypted"] == 0
    assert out["old_key_id"] != out["new_key_id"]
    assert _blob_digests(system) == before
    assert _get(system, invoice_id, tmp_path / "after.xml") == data
    keys = Path(system.env["EFACTURE_DATA_DIR"]) / "keys"
    assert not (keys / "master.key.old").exists()


def test_tenant_key_rotation_rewraps_data_keys_and_leaves_blobs_untouched(system, marked,
                                                                         tmp_path):
    invoice_id, data = marked
    before = _blob_digests(system)
    out = system.cli_json("keys", "rotate", "--tenant", TENANT)
    assert out["rotated"] == "tenant"
    assert out["tenant_key_version"] == 2
    assert out["keys_rewrapped"] == 1
    assert _blob_digests(system) == before
    assert _get(system, invoice_id, tmp_path / "after.xml") == data


def test_archive_keeps_working_after_rotation_without_a_restart(system, listener, marked,
                                                                tmp_path):
    # The running services follow the key files: no restart after either rotation.
    data = cii_invoice("KEYS-2")
    invoice_id = _archive(system, listener, tmp_path / "next.xml", data)
    assert _get(system, invoice_id, tmp_path / "next-out.xml") == data
