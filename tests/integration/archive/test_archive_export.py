"""``efacture export`` and ``tenant stop`` through the running system."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from services.archive.domain.bundle import FILES
from services.archive.domain.checkpoint import Checkpoint
from services.archive.domain.verify import verify_files
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import CORPUS, StatusListener, System

pytestmark = pytest.mark.integration
WAIT = 180  # seconds: generous, the machine may be shared with other test runs

OTHER = "99999999800010"
OTHER_DOC = CORPUS / "factur-x" / "zfc-fnfe__Facture_FR_BASICWL.pdf"


@pytest.fixture(scope="module")
def listener(system: System):
    lst = StatusListener(system.infra.amqp_url)
    yield lst
    lst.close()


@pytest.fixture(scope="module")
def originals(system: System, listener: StatusListener,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Invoice id → original bytes, for five invoices of TENANT (and one of another tenant)."""
    system.cli("tenant", "add", TENANT, "--name", "Export", "--subscribed-on", "2017-01-01",
               "--sandbox")
    system.cli("tenant", "add", OTHER, "--name", "Other", "--subscribed-on", "2017-01-01",
               "--sandbox")
    folder = tmp_path_factory.mktemp("export-docs")
    by_file: dict[str, bytes] = {}
    for i in range(5):
        path = folder / f"export-{i}.xml"
        path.write_bytes(cii_invoice(f"EXPORT-{i}"))
        by_file[str(path)] = path.read_bytes()
    subs = system.cli_json("submit", *by_file, "--tenant", TENANT, "--no-transmit")
    [other] = system.cli_json("submit", str(OTHER_DOC), "--tenant", OTHER, "--no-transmit")
    wanted = {s["submission_id"]: s["file"] for s in subs}
    expected = {*wanted, other["submission_id"]}
    events = listener.wait_for(timeout=WAIT, predicate=lambda ev: expected <= {
        e["submission_id"] for e in ev if e["event"] == "archived"})
    return {e["invoice_id"]: by_file[wanted[e["submission_id"]]] for e in events
            if e["event"] == "archived" and e["submission_id"] in wanted}


@pytest.fixture(scope="module")
def export(system: System, originals: dict[str, bytes],
           tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    target = tmp_path_factory.mktemp("export") / "archive.zip"
    summary = system.cli_json("export", TENANT, "-o", str(target))
    return summary, target


def test_export_holds_every_original_byte_for_byte(export, originals):
    summary, target = export
    assert summary["count"] == len(originals)
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None
        manifest = json.loads(zf.read("manifest.json"))
        assert {m["invoice_id"] for m in manifest} == set(originals)
        for entry in manifest:
            data = zf.read(entry["path"])
            assert data == originals[entry["invoice_id"]]
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
            assert entry["path"].startswith("documents/")
            assert set(entry) == {"invoice_id", "invoice_number", "issue_date", "recipient_id",
                                  "sha256", "log_index", "path"}
        assert [m["log_index"] for m in manifest] == sorted(m["log_index"] for m in manifest)


def test_export_manifest_is_signed_with_the_log_key(export):
    _summary, target = export
    with zipfile.ZipFile(target) as zf:
        key = load_pem_public_key(zf.read("log.pub"))
        assert isinstance(key, Ed25519PublicKey)
        key.verify(zf.read("manifest.sig"), zf.read("manifest.json"))  # raises if altered
        checkpoint = Checkpoint.from_json_bytes(zf.read("checkpoint.json"))
        assert checkpoint.signature_valid(key)


def test_every_exported_bundle_verifies_offline(system, export, tmp_path):
    _summary, target = export
    system.cli("keys", "export-trust", "-o", str(tmp_path))
    tsa_ca = (tmp_path / "tsa-ca.pem").read_bytes()
    with zipfile.ZipFile(target) as zf:
        assert zf.read("log.pub") == (tmp_path / "log.pub").read_bytes()
        for entry in json.loads(zf.read("manifest.json")):
            files = {name: zf.read(f"proofs/{entry['invoice_id']}/{name}") for name in FILES}
            report = verify_files(zf.read(entry["path"]), files, zf.read("log.pub"), tsa_ca)
            assert report.ok, report.failure


def test_export_of_an_unknown_tenant_fails_with_one_sentence(system, tmp_path):
    res = system.cli("export", "12345678900000", "-o", str(tmp_path / "x.zip"), check=False)
    assert res.returncode == 1
    assert "no tenant is registered with SIRET 12345678900000" in res.stderr
    assert not (tmp_path / "x.zip").exists()


def test_tenant_stop_exports_then_closes_the_tenant(system, listener, originals, tmp_path):
    target = tmp_path / "stopped.zip"
    out = system.cli_json("tenant", "stop", TENANT, "-o", str(target))
    assert out["stopped"] is True
    with zipfile.ZipFile(target) as zf:
        assert {m["invoice_id"] for m in json.loads(zf.read("manifest.json"))} == set(originals)
    late = tmp_path / "late.xml"
    late.write_bytes(cii_invoice("EXPORT-LATE"))
    [sub] = system.cli_json("submit", str(late), "--tenant", TENANT)
    events = listener.wait_for(timeout=WAIT, predicate=lambda ev: any(
        e["submission_id"] == sub["submission_id"] and e["event"] == "rejected" for e in ev))
    rejected = next(e for e in events if e["submission_id"] == sub["submission_id"])
    assert rejected["reasons"][0]["code"] == "unknown-tenant"
