"""Offline verification of a document against its evidence bundle, and tamper detection."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding

from services.archive.domain import merkle
from services.archive.domain.bundle import (
    FILES,
    InclusionProof,
    ProofBundle,
    read_bundle,
    write_bundle,
)
from services.archive.domain.checkpoint import public_key_pem, sign_checkpoint
from services.archive.domain.leaf import invoice_leaf_data, tombstone_leaf_data
from services.archive.domain.verify import verify, verify_files
from tests.unit.archive.tsa_fixture import FakeTsa, make_fake_tsa

pytestmark = pytest.mark.unit

DOCUMENT = b"%PDF-1.7 an invoice, byte for byte\n"
GEN_TIME = datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=UTC)
TENANT = "73282932000074"


@pytest.fixture(scope="module")
def tsa() -> FakeTsa:
    return make_fake_tsa("rsa")


@pytest.fixture(scope="module")
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def build_bundle(
    tsa: FakeTsa, log_key: Ed25519PrivateKey, document: bytes = DOCUMENT, index: int = 5
) -> ProofBundle:
    digest = hashlib.sha256(document).digest()
    leaves = [
        invoice_leaf_data(f"00000000-0000-4000-8000-{i:012d}", TENANT, "ab" * 32, GEN_TIME)
        for i in range(11)
    ]
    leaves[index] = invoice_leaf_data(
        "11111111-2222-4333-8444-555555555555", TENANT, digest.hex(), GEN_TIME
    )
    leaves.append(tombstone_leaf_data("x", TENANT, "cd" * 32, GEN_TIME))
    checkpoint = sign_checkpoint(
        log_key, len(leaves), merkle.root_from_leaves(leaves), datetime.now(UTC)
    )
    return ProofBundle(
        document_sha256=digest.hex(),
        timestamp_tsr=tsa.respond(digest, GEN_TIME),
        tsa_pem=tsa.chain_pem(),
        inclusion=InclusionProof.build(
            index, len(leaves), leaves[index], merkle.inclusion_path(leaves, index)
        ),
        checkpoint=checkpoint,
        log_pub=public_key_pem(log_key.public_key()),
    )


@pytest.fixture(scope="module")
def files(tsa: FakeTsa, log_key: Ed25519PrivateKey) -> dict[str, bytes]:
    return build_bundle(tsa, log_key).files()


def test_untampered_bundle_verifies_with_the_trusted_key(
    tmp_path: Path, tsa: FakeTsa, log_key: Ed25519PrivateKey
) -> None:
    write_bundle(tmp_path, build_bundle(tsa, log_key))
    report = verify(DOCUMENT, tmp_path, public_key_pem(log_key.public_key()), _root(tsa))
    assert report.ok, report.failure
    assert [c.name for c in report.checks] == [
        "document hash",
        "timestamp",
        "tsa root",
        "log leaf",
        "checkpoint",
        "inclusion",
    ]


def _root(tsa: FakeTsa) -> bytes:
    return tsa.ca_cert.public_bytes(Encoding.PEM)


@pytest.mark.parametrize(("with_key", "with_root", "named"), [
    (False, False, "--log-key (the log's public key) and --tsa-ca"),
    (True, False, "--tsa-ca (the TSA's root certificate) was not given"),
    (False, True, "--log-key (the log's public key) was not given"),
])
def test_without_both_anchors_a_consistent_bundle_is_not_ok_and_the_missing_one_is_named(
    tmp_path: Path, tsa: FakeTsa, log_key: Ed25519PrivateKey, with_key: bool, with_root: bool,
    named: str,
) -> None:
    write_bundle(tmp_path, build_bundle(tsa, log_key))
    report = verify(DOCUMENT, tmp_path, public_key_pem(log_key.public_key()) if with_key else None,
                    _root(tsa) if with_root else None)
    assert report.consistent, report.failure
    assert not report.ok
    assert report.failure is not None
    assert named in report.failure


def test_a_chain_that_does_not_end_at_the_trusted_root_fails(
    tmp_path: Path, tsa: FakeTsa, log_key: Ed25519PrivateKey
) -> None:
    write_bundle(tmp_path, build_bundle(make_fake_tsa("rsa"), log_key))
    report = verify(DOCUMENT, tmp_path, public_key_pem(log_key.public_key()), _root(tsa))
    assert not report.consistent
    assert report.failure == "the TSA certificate does not chain to the trusted TSA root"


def test_ecdsa_tsa_tokens_verify_too(tmp_path: Path, log_key: Ed25519PrivateKey) -> None:
    ec = make_fake_tsa("ec")
    write_bundle(tmp_path, build_bundle(ec, log_key, index=0))
    assert verify(DOCUMENT, tmp_path, public_key_pem(log_key.public_key()), _root(ec)).ok


def test_bundle_files_round_trip_through_the_directory(
    tmp_path: Path, files: dict[str, bytes], tsa: FakeTsa, log_key: Ed25519PrivateKey
) -> None:
    write_bundle(tmp_path, build_bundle(tsa, log_key))
    assert set(read_bundle(tmp_path)) == set(FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)


def test_another_log_key_is_refused(files: dict[str, bytes]) -> None:
    other = public_key_pem(Ed25519PrivateKey.generate().public_key())
    report = verify_files(DOCUMENT, dict(files), other)
    assert not report.consistent
    assert report.failure == "log.pub is not the trusted log key given with --log-key"


def test_a_bundle_signed_by_an_impostor_log_fails_with_the_operator_key(
    tsa: FakeTsa, log_key: Ed25519PrivateKey
) -> None:
    impostor = Ed25519PrivateKey.generate()
    forged = build_bundle(tsa, impostor).files()
    forged["log.pub"] = public_key_pem(log_key.public_key())
    report = verify_files(DOCUMENT, dict(forged), public_key_pem(log_key.public_key()))
    assert report.failure == "the checkpoint's signature does not verify with the log key"


def test_a_missing_file_is_named(files: dict[str, bytes]) -> None:
    partial: dict[str, bytes | None] = dict(files)
    partial["tsa.pem"] = None
    assert verify_files(DOCUMENT, partial, None).failure == "the bundle has no tsa.pem"


def test_a_bundle_for_another_document_fails_on_the_hash(files: dict[str, bytes]) -> None:
    report = verify_files(b"another document", dict(files), None)
    assert report.failure == "the document's SHA-256 does not match document.sha256"
    assert [c.ok for c in report.checks] == [False]


def test_every_single_byte_change_of_the_document_fails(files: dict[str, bytes]) -> None:
    for i in range(len(DOCUMENT)):
        altered = bytearray(DOCUMENT)
        altered[i] ^= 0x01
        report = verify_files(bytes(altered), dict(files), None)
        assert not report.consistent
        assert report.failure


@pytest.mark.parametrize("name", FILES)
def test_every_single_byte_change_of_a_bundle_file_fails_with_a_sentence(
    files: dict[str, bytes], log_key: Ed25519PrivateKey, name: str
) -> None:
    trusted = public_key_pem(log_key.public_key())
    # The key matters only once the checks reach the log; earlier files need one pass.
    keys = (trusted, None) if name in ("log.pub", "checkpoint.json", "inclusion.json") else (None,)
    original = files[name]
    for i in range(len(original)):
        for flip in (0x01, 0x80):
            altered = bytearray(original)
            altered[i] ^= flip
            tampered = {**files, name: bytes(altered)}
            for key in keys:
                report = verify_files(DOCUMENT, dict(tampered), key)
                assert not report.consistent, (name, i, flip, key is None)
                assert report.failure
                assert report.failure[0].islower()
