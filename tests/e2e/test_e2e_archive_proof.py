"""Evidence bundles through the running system: ``proof``, offline ``verify``, ``openssl ts``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.system import CORPUS, EFACTURE, StatusListener, System

pytestmark = pytest.mark.e2e
WAIT = 180  # seconds: generous, the machine may be shared with other test runs

TENANT = "99999999800010"
# The FNFE examples of this sandbox seller; any the ingest rules refuse are left out below.
DOCUMENTS = [CORPUS / "factur-x" / name for name in (
    "zfc-fnfe__Facture_FR_BASICWL.pdf", "zfc-fnfe__Facture_DOM_BASICWL.pdf",
    "zfc-fnfe__Facture_FR_MINIMUM.pdf", "zfc-fnfe__Facture_UE_MINIMUM.pdf")]
BUNDLE_FILES = ("document.sha256", "timestamp.tsr", "tsa.pem", "inclusion.json",
                "checkpoint.json", "log.pub")


@pytest.fixture(scope="module")
def archived(system: System) -> dict[Path, str]:
    """Corpus documents archived through the system: file → invoice id."""
    system.cli("tenant", "add", TENANT, "--name", "Demo", "--subscribed-on", "2026-11-01",
               "--sandbox")
    listener = StatusListener(system.infra.amqp_url)
    try:
        subs = system.cli_json("submit", *map(str, DOCUMENTS), "--tenant", TENANT,
                               "--no-transmit")
        wanted = {s["submission_id"]: Path(s["file"]) for s in subs}
        events = listener.wait_for(timeout=WAIT, predicate=lambda ev: wanted.keys() <= {
            e["submission_id"] for e in ev if e["event"] in ("archived", "rejected")})
    finally:
        listener.close()
    done = {wanted[e["submission_id"]]: e["invoice_id"] for e in events
            if e["event"] == "archived" and e["submission_id"] in wanted}
    assert len(done) >= 2, events
    return done


def _proof(system: System, invoice_id: str, directory: Path, retries: int = 300) -> dict:
    """``proof``, retried while no checkpoint covers the invoice yet (signed every second)."""
    for _ in range(retries):
        res = system.cli("proof", invoice_id, "-o", str(directory), "--json", check=False)
        if res.returncode == 0:
            return json.loads(res.stdout)
        assert "no signed checkpoint covers this invoice yet" in res.stderr, res.stderr
        time.sleep(0.2)
    raise AssertionError("no checkpoint ever covered the invoice")


@pytest.fixture(scope="module")
def bundles(system: System, archived: dict[Path, str],
            tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    root = tmp_path_factory.mktemp("bundles")
    out = {}
    for document, invoice_id in archived.items():
        directory = root / invoice_id
        made = _proof(system, invoice_id, directory)
        assert sorted(made["files"]) == sorted(BUNDLE_FILES)
        out[document] = directory
    return out


@pytest.fixture(scope="module")
def trust(system: System, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The operator's published anchors (``keys export-trust``): log.pub and tsa-ca.pem."""
    directory = tmp_path_factory.mktemp("trust")
    system.cli("keys", "export-trust", "-o", str(directory))
    return directory


def _anchors(trust: Path) -> tuple[str, ...]:
    return ("--log-key", str(trust / "log.pub"), "--tsa-ca", str(trust / "tsa-ca.pem"))


def _verify(
    system: System, document: Path, bundle: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return system.cli("verify", str(document), "--proof", str(bundle), *extra, check=False)


def test_every_archived_document_verifies_offline_against_its_bundle(system, bundles, trust):
    for document, bundle in bundles.items():
        res = _verify(system, document, bundle, "--json", *_anchors(trust))
        assert res.returncode == 0, res.stderr
        assert '"ok": true' in res.stdout
        assert res.stderr == ""


def test_verify_without_the_operators_anchors_is_not_enough(system, bundles):
    for document, bundle in bundles.items():
        res = _verify(system, document, bundle)
        assert res.returncode == 1
        assert "--log-key" in res.stderr
        assert "--tsa-ca" in res.stderr


def test_verify_needs_no_database_broker_or_data_directory(system, bundles, trust):
    env = {k: v for k, v in system.env.items() if not k.startswith("EFACTURE_")}
    env.update(EFACTURE_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
               EFACTURE_AMQP_URL="amqp://nobody:x@127.0.0.1:1/", EFACTURE_DATA_DIR="/nonexistent")
    document, bundle = next(iter(bundles.items()))
    res = subprocess.run([EFACTURE, "verify", str(document), "--proof", str(bundle),
                          *_anchors(trust)], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_every_token_passes_openssl_ts_verify(bundles, trust):
    for document, bundle in bundles.items():
        res = subprocess.run(
            ["openssl", "ts", "-verify", "-data", str(document), "-in",
             str(bundle / "timestamp.tsr"), "-CAfile", str(trust / "tsa-ca.pem"),
             "-untrusted", str(bundle / "tsa.pem")],
            capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Verification: OK" in res.stdout


def test_altering_one_byte_of_the_document_fails_verification(system, bundles, trust,
                                                              tmp_path):
    document, bundle = next(iter(bundles.items()))
    data = bytearray(document.read_bytes())
    data[len(data) // 2] ^= 0x01
    altered = tmp_path / document.name
    altered.write_bytes(bytes(data))
    res = _verify(system, altered, bundle, *_anchors(trust))
    assert res.returncode == 1
    assert "the document's SHA-256 does not match document.sha256" in res.stderr


@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_altering_one_byte_of_any_bundle_file_fails_verification(system, bundles, trust,
                                                                 tmp_path, name):
    document, bundle = next(iter(bundles.items()))
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / name).read_bytes())
    # A byte inside the content, not a trailing newline, so every file's meaning changes.
    position = len(data) // 2
    data[position] = data[position] ^ 0x04 if chr(data[position]).isalnum() else ord("A")
    (copy / name).write_bytes(bytes(data))
    res = _verify(system, document, copy, *_anchors(trust))
    assert res.returncode == 1, f"altering {name} was not detected"
    failure = res.stderr.strip().splitlines()[-1]
    assert failure.startswith("efacture: verification failed: ")
    assert len(failure) > len("efacture: verification failed: ") + 10


def test_proof_of_an_unknown_invoice_fails_with_one_sentence(system, tmp_path):
    res = system.cli("proof", str(uuid.uuid4()), "-o", str(tmp_path / "x"), check=False)
    assert res.returncode == 1
    assert res.stderr.startswith("efacture: no archived invoice has the id")
    assert len(res.stderr.strip().splitlines()) == 1


def test_proof_of_something_not_an_id_fails_with_one_sentence(system, tmp_path):
    res = system.cli("proof", "F2026-0042", "-o", str(tmp_path / "x"), check=False)
    assert res.returncode == 1
    assert "is not an invoice id" in res.stderr
