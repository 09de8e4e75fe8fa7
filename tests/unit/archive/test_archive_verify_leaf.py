"""What a bundle's log leaf must say, and the canonical forms verify insists on."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.archive.domain import merkle
from services.archive.domain.bundle import InclusionProof, ProofBundle
from services.archive.domain.checkpoint import Checkpoint, public_key_pem, sign_checkpoint
from services.archive.domain.leaf import (
    InvoiceLeaf,
    TombstoneLeaf,
    invoice_leaf_data,
    iso_utc,
    parse_leaf,
    tombstone_leaf_data,
)
from services.archive.domain.verify import verify_files
from tests.unit.archive.tsa_fixture import make_fake_tsa

pytestmark = pytest.mark.unit

DOCUMENT = b"<Invoice>leaf tests</Invoice>"
DIGEST = hashlib.sha256(DOCUMENT).digest()
GEN_TIME = datetime(2026, 2, 1, 8, 0, 0, 1000, tzinfo=UTC)
TENANT = "73282932000074"
KEY = Ed25519PrivateKey.generate()
TSA = make_fake_tsa()


def _files(leaf: bytes, *, tree_size: int | None = None) -> dict[str, bytes | None]:
    leaves = [b"first", leaf, b"third"]
    cp = sign_checkpoint(KEY, 3, merkle.root_from_leaves(leaves), datetime.now(UTC))
    bundle = ProofBundle(
        document_sha256=DIGEST.hex(),
        timestamp_tsr=TSA.respond(DIGEST, GEN_TIME),
        tsa_pem=TSA.chain_pem(),
        inclusion=InclusionProof.build(1, tree_size or 3, leaf, merkle.inclusion_path(leaves, 1)),
        checkpoint=cp,
        log_pub=public_key_pem(KEY.public_key()),
    )
    return dict(bundle.files())


def test_leaf_data_is_canonical_json_committing_to_invoice_tenant_hash_and_time() -> None:
    data = invoice_leaf_data("inv-1", TENANT, DIGEST.hex(), GEN_TIME)
    assert data == (
        b'{"invoice_id":"inv-1","kind":"invoice","sha256":"%s",'
        b'"tenant":"73282932000074","timestamp":"2026-02-01T08:00:00.001000Z"}'
        % DIGEST.hex().encode()
    )
    leaf = parse_leaf(data)
    assert isinstance(leaf, InvoiceLeaf)
    assert leaf.time == GEN_TIME


def test_tombstone_leaf_parses_as_a_tombstone() -> None:
    data = tombstone_leaf_data("inv-1", TENANT, DIGEST.hex(), GEN_TIME)
    assert isinstance(parse_leaf(data), TombstoneLeaf)


@pytest.mark.parametrize(
    "data",
    [
        b'{"kind": "invoice"}',
        b"not json",
        invoice_leaf_data("i", TENANT, "ab" * 32, GEN_TIME).replace(b"}", b',"x":1}'),
        invoice_leaf_data("i", TENANT, "ab" * 32, GEN_TIME).replace(b"Z", b"+00:00"),
    ],
)
def test_non_canonical_or_unknown_leaf_data_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"leaf data|canonical"):
        parse_leaf(data)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        iso_utc(datetime(2026, 1, 1))


def test_a_leaf_for_another_document_fails() -> None:
    leaf = invoice_leaf_data("i", TENANT, "ab" * 32, GEN_TIME)
    report = verify_files(DOCUMENT, _files(leaf), None)
    assert report.failure == "the log leaf does not commit to the document's SHA-256"


def test_a_leaf_with_another_time_than_the_token_fails() -> None:
    leaf = invoice_leaf_data("i", TENANT, DIGEST.hex(), GEN_TIME + timedelta(seconds=1))
    report = verify_files(DOCUMENT, _files(leaf), None)
    assert report.failure == "the log leaf's timestamp is not the token's genTime"


def test_a_tombstone_is_not_evidence_of_archiving() -> None:
    leaf = tombstone_leaf_data("i", TENANT, DIGEST.hex(), GEN_TIME)
    report = verify_files(DOCUMENT, _files(leaf), None)
    assert report.failure == "the log leaf in inclusion.json is not an invoice entry"


def test_a_proof_for_another_tree_size_than_the_checkpoint_fails() -> None:
    leaf = invoice_leaf_data("i", TENANT, DIGEST.hex(), GEN_TIME)
    report = verify_files(DOCUMENT, _files(leaf, tree_size=4), None)
    assert report.failure == "inclusion.json's tree size is not the checkpoint's size"


def test_the_happy_path_of_this_fixture_verifies() -> None:
    leaf = invoice_leaf_data("i", TENANT, DIGEST.hex(), GEN_TIME)
    assert verify_files(DOCUMENT, _files(leaf), None).consistent


def test_checkpoint_json_round_trips_and_refuses_reformatting() -> None:
    cp = sign_checkpoint(KEY, 7, b"\x11" * 32, GEN_TIME)
    assert Checkpoint.from_json_bytes(cp.to_json_bytes()) == cp
    assert cp.signature_valid(KEY.public_key())
    assert not cp.signature_valid(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(ValueError, match="canonical"):
        Checkpoint.from_json_bytes(cp.to_json_bytes().replace(b"\n", b"\r\n"))
