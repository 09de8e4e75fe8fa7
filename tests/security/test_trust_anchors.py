"""Issue 10, property 4: a proof is only as trusted as the keys the auditor brings.

An invoice is archived by the real archive (with the built-in TSA) on the real broker and
database; its bundle is written by ``efacture proof`` and the operator's anchors by
``efacture keys export-trust``. ``verify`` exits 0 only with both anchors; an attacker's
bundle (own CA, own TSA, backdated genTime, own log key) is self-consistent but fails against
the real anchors; and archive refuses to store a token that does not lead to its TSA root.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from services.archive.adapters.tsa_client import parse_response
from services.archive.domain import merkle
from services.archive.domain.bundle import InclusionProof, ProofBundle, write_bundle
from services.archive.domain.checkpoint import public_key_pem, sign_checkpoint
from services.archive.domain.leaf import invoice_leaf_data
from services.archive.tsa.authority import TimeStampAuthority
from services.archive.tsa.credentials import generate_authority
from services.archive.tsa.protocol import build_request
from shared import db
from tests.security.archive_support import Node, accepted, publish_accepted
from tests.support import infra as infra_mod
from tests.support.infra import Infra
from tests.support.invoices import TENANT

pytestmark = [pytest.mark.security, pytest.mark.integration]
WAIT = 120


@dataclass(frozen=True)
class Archived:
    node: Node
    document: Path
    bundle: Path
    trust: Path


def _wait_row(infra: Infra, invoice_id: uuid.UUID) -> None:
    deadline = time.monotonic() + WAIT
    with psycopg.connect(infra.database_url, autocommit=True) as conn:
        while conn.execute("SELECT 1 FROM archive.invoice WHERE invoice_id = %s",
                           (invoice_id,)).fetchone() is None:
            assert time.monotonic() < deadline, "the invoice was not archived"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def archived(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archived]:
    root = tmp_path_factory.mktemp("anchors")
    node = Node(infra, root / "data")
    (root / "data").mkdir()
    node.cli("topology", "apply")
    node.serve("tsa")
    node.serve("archive")
    try:
        msg = accepted(f"TA-{uuid.uuid4().hex[:6]}")
        publish_accepted(infra.amqp_url, [msg])
        _wait_row(infra, msg.invoice_id)
        deadline = time.monotonic() + WAIT
        while node.cli("proof", str(msg.invoice_id), "-o", str(root / "bundle"),
                       check=False).returncode != 0:  # until a checkpoint covers it
            assert time.monotonic() < deadline, "no bundle could be written"
            time.sleep(0.5)
        node.cli("keys", "export-trust", "-o", str(root / "trust"))
        (root / "document.xml").write_bytes(msg.document)
        yield Archived(node, root / "document.xml", root / "bundle", root / "trust")
    finally:
        node.stop()


def _verify(a: Archived, bundle: Path, *anchors: str) -> subprocess.CompletedProcess[str]:
    return a.node.cli("verify", str(a.document), "--proof", str(bundle), "--json", *anchors,
                      check=False)


def _anchors(trust: Path, log_key: bool = True, tsa_ca: bool = True) -> list[str]:
    return [*(["--log-key", str(trust / "log.pub")] if log_key else []),
            *(["--tsa-ca", str(trust / "tsa-ca.pem")] if tsa_ca else [])]


def test_verify_passes_with_both_published_anchors(archived: Archived) -> None:
    assert sorted(p.name for p in archived.trust.iterdir()) == ["log.pub", "tsa-ca.pem"]
    res = _verify(archived, archived.bundle, *_anchors(archived.trust))
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] is True
    assert "tsa root" in [c["name"] for c in report["checks"]]


@pytest.mark.parametrize(("log_key", "tsa_ca", "named"), [
    (True, False, ["--tsa-ca"]), (False, True, ["--log-key"]),
    (False, False, ["--log-key", "--tsa-ca"])])
def test_a_missing_anchor_prints_the_consistent_checks_then_fails_naming_it(
        archived: Archived, log_key: bool, tsa_ca: bool, named: list[str]) -> None:
    res = _verify(archived, archived.bundle, *_anchors(archived.trust, log_key, tsa_ca))
    assert res.returncode == 1
    report = json.loads(res.stdout)
    assert report["consistent"] is True
    assert report["ok"] is False
    assert all(c["ok"] for c in report["checks"])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert all(n in lines[0] for n in named)
    assert ("--log-key" in lines[0]) == (not log_key)


def test_openssl_verifies_the_token_against_the_published_root(archived: Archived) -> None:
    res = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(archived.document), "-in",
         str(archived.bundle / "timestamp.tsr"), "-CAfile", str(archived.trust / "tsa-ca.pem"),
         "-untrusted", str(archived.bundle / "tsa.pem")],
        capture_output=True, text=True, timeout=60)
    assert "Verification: OK" in res.stdout, res.stdout + res.stderr


def _forge(document: bytes, out: Path) -> Path:
    """An attacker's bundle for ``document``: own CA and TSA (named like the real ones), a
    genTime backdated to 2020, own log key. Returns the directory of the attacker's anchors."""
    backdated = datetime(2020, 1, 15, 9, 0, tzinfo=UTC)
    authority = generate_authority(backdated - timedelta(days=2))
    tsa = TimeStampAuthority(authority.credentials, clock=lambda: backdated)
    digest = hashlib.sha256(document).digest()
    token = parse_response(tsa.respond(build_request(digest, nonce=7)), sha256=digest, nonce=7)
    log_key = Ed25519PrivateKey.generate()
    leaf = invoice_leaf_data(uuid.uuid4(), TENANT, digest.hex(), token.gen_time)
    checkpoint = sign_checkpoint(log_key, 1, merkle.root_from_leaves([leaf]), backdated)
    write_bundle(out / "bundle", ProofBundle(
        document_sha256=digest.hex(), timestamp_tsr=token.response_der,
        tsa_pem=tsa.chain_pem(), inclusion=InclusionProof.build(0, 1, leaf, []),
        checkpoint=checkpoint, log_pub=public_key_pem(log_key.public_key())))
    (out / "trust").mkdir()
    (out / "trust" / "log.pub").write_bytes(public_key_pem(log_key.public_key()))
    (out / "trust" / "tsa-ca.pem").write_bytes(
        authority.credentials.ca_cert.public_bytes(Encoding.PEM))
    return out / "trust"


def test_an_attackers_bundle_fails_against_the_real_anchors(archived: Archived,
                                                            tmp_path: Path) -> None:
    own_anchors = _forge(archived.document.read_bytes(), tmp_path)
    forged = tmp_path / "bundle"
    # Self-consistent: with the attacker's own anchors it would pass.
    assert _verify(archived, forged, *_anchors(own_anchors)).returncode == 0
    assert _verify(archived, forged).returncode == 1
    for log_key, tsa_ca in ((True, True), (True, False), (False, True)):
        res = _verify(archived, forged, *_anchors(archived.trust, log_key, tsa_ca))
        assert res.returncode == 1, (log_key, tsa_ca)
        assert json.loads(res.stdout)["ok"] is False
    res = _verify(archived, forged, *_anchors(archived.trust, log_key=False))
    assert "does not chain to the trusted TSA root" in res.stderr


def test_archive_refuses_to_store_a_token_that_does_not_lead_to_its_tsa_root(
        tmp_path: Path) -> None:
    infra = infra_mod.create()
    node = Node(infra, tmp_path)
    try:
        node.cli("topology", "apply")
        db.migrate(infra.database_url)
        node.serve("tsa")
        foreign = generate_authority(datetime(2026, 1, 1, tzinfo=UTC)).credentials.ca_cert
        (tmp_path / "other-ca.pem").write_bytes(foreign.public_bytes(Encoding.PEM))
        node.serve("archive", EFACTURE_TSA_CA=str(tmp_path / "other-ca.pem"))
        msg = accepted(f"TU-{uuid.uuid4().hex[:6]}")
        publish_accepted(infra.amqp_url, [msg])
        deadline = time.monotonic() + WAIT
        log = tmp_path / "archive.log"
        while log.read_text().count("the TSA's token is not trusted") < 2:
            assert time.monotonic() < deadline, "archive never refused the untrusted token"
            time.sleep(0.2)
        assert node.metric("archive", "efacture_messages_retried_total") >= 2
        with psycopg.connect(infra.database_url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM archive.invoice").fetchone() == (0,)
    finally:
        node.stop()
        infra_mod.destroy(infra)
