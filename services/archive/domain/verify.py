"""Offline verification of a document against its evidence bundle (``efacture verify``).

Reads nothing but the document, the bundle directory and the verifier's trust anchors: no
database, broker or data directory. Checks run in order and stop at the first failure, whose
sentence says what failed: the document's hash; the RFC 3161 token (status, imprint,
signature, TSA certificate and chain, see :mod:`timestamp_check`); that the chain ends at the
trusted TSA root (``--tsa-ca``); that the log leaf commits to the document's hash and the
token's genTime; the log key (``--log-key``); the checkpoint's signature; the inclusion proof
against the checkpoint's root. A bundle is only *ok* with both anchors: without one, the
bundle's own ``log.pub`` / CA are used, the checks say whether it is self-consistent, and
the report names the missing anchor (an attacker can make a self-consistent bundle).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.archive.domain import bundle as b
from services.archive.domain.checkpoint import Checkpoint, load_public_key_pem, public_key_pem
from services.archive.domain.leaf import InvoiceLeaf, parse_leaf
from services.archive.domain.merkle import leaf_hash
from services.archive.domain.merkle_proof import verify_inclusion
from services.archive.domain.timestamp_check import check_timestamp, load_chain
from services.archive.domain.tsa_anchor import ANCHOR_CHECK, check_anchor, load_root
from services.archive.domain.verify_report import Check, CheckFailed, VerifyReport

_DIGEST_LINE = re.compile(rb"^[0-9a-f]{64}\n$")


def verify(
    document: bytes, bundle_dir: Path, log_key_pem: bytes | None, tsa_ca_pem: bytes | None = None
) -> VerifyReport:
    """Verify ``document`` against the bundle in ``bundle_dir``; never raises for bad input."""
    try:
        files = b.read_bundle(bundle_dir)
    except OSError as exc:
        failed = Check(name="bundle", ok=False, sentence=f"the bundle cannot be read ({exc})")
        return VerifyReport(checks=(failed,), missing_anchors=_missing(log_key_pem, tsa_ca_pem))
    return verify_files(document, files, log_key_pem, tsa_ca_pem)


def _missing(log_key_pem: bytes | None, tsa_ca_pem: bytes | None) -> tuple[str, ...]:
    return tuple(name for name, given in (("log_key", log_key_pem), ("tsa_ca", tsa_ca_pem))
                 if given is None)


def _trusted_key(log_pub: bytes, log_key_pem: bytes | None) -> Ed25519PublicKey:
    try:
        bundled = load_public_key_pem(log_pub)
    except ValueError as exc:
        raise CheckFailed("log key", "log.pub is not an Ed25519 public key in PEM") from exc
    if public_key_pem(bundled) != log_pub:
        raise CheckFailed("log key", "log.pub is altered (not the PEM it was written as)")
    if log_key_pem is None:
        return bundled
    try:
        trusted = load_public_key_pem(log_key_pem)
    except ValueError as exc:
        raise CheckFailed(
            "log key", "the given log key is not an Ed25519 public key in PEM"
        ) from exc
    if public_key_pem(trusted) != log_pub:
        raise CheckFailed("log key", "log.pub is not the trusted log key given with --log-key")
    return trusted


def _run(
    document: bytes, files: Mapping[str, bytes], log_key_pem: bytes | None,
    tsa_ca_pem: bytes | None, done: list[Check],
) -> None:
    """Append a passed check to ``done`` after each step; raise CheckFailed at the first failure."""
    digest = hashlib.sha256(document).digest()
    if not _DIGEST_LINE.match(files[b.DOCUMENT_SHA256]):
        raise CheckFailed("document hash", "document.sha256 does not hold one SHA-256 hex digest")
    if files[b.DOCUMENT_SHA256][:64].decode() != digest.hex():
        raise CheckFailed("document hash", "the document's SHA-256 does not match document.sha256")
    done.append(Check(name="document hash", ok=True, sentence="the document's SHA-256 matches"))

    chain = load_chain(files[b.TSA_PEM])
    gen_time = check_timestamp(files[b.TIMESTAMP_TSR], chain, document)
    done.append(
        Check(
            name="timestamp",
            ok=True,
            sentence=f"the timestamp token is valid, signed by the TSA at {gen_time.isoformat()}",
        )
    )
    if tsa_ca_pem is not None:
        check_anchor(chain, load_root(tsa_ca_pem, "the root given with --tsa-ca"))
        done.append(Check(name=ANCHOR_CHECK, ok=True,
                          sentence="the TSA certificate chains to the root given with --tsa-ca"))

    try:
        proof = b.InclusionProof.from_json_bytes(files[b.INCLUSION_JSON])
        leaf_data = proof.leaf_data.encode("utf-8")
        leaf = parse_leaf(leaf_data)
        path = proof.path_bytes()
    except ValueError as exc:
        raise CheckFailed("log leaf", f"inclusion.json is malformed ({exc})") from exc
    if not isinstance(leaf, InvoiceLeaf):
        raise CheckFailed("log leaf", "the log leaf in inclusion.json is not an invoice entry")
    if leaf.sha256 != digest.hex():
        raise CheckFailed("log leaf", "the log leaf does not commit to the document's SHA-256")
    if leaf.time != gen_time:
        raise CheckFailed("log leaf", "the log leaf's timestamp is not the token's genTime")
    done.append(Check(name="log leaf", ok=True, sentence="the log leaf commits to the document"))

    key = _trusted_key(files[b.LOG_PUB], log_key_pem)
    try:
        checkpoint = Checkpoint.from_json_bytes(files[b.CHECKPOINT_JSON])
    except ValueError as exc:
        raise CheckFailed("checkpoint", f"checkpoint.json is malformed ({exc})") from exc
    if not checkpoint.signature_valid(key):
        raise CheckFailed(
            "checkpoint", "the checkpoint's signature does not verify with the log key"
        )
    done.append(Check(name="checkpoint", ok=True, sentence="the checkpoint is signed by the log"))

    if proof.tree_size != checkpoint.size:
        raise CheckFailed("inclusion", "inclusion.json's tree size is not the checkpoint's size")
    if not verify_inclusion(
        leaf_hash(leaf_data), proof.leaf_index, proof.tree_size, path, checkpoint.root
    ):
        raise CheckFailed(
            "inclusion", "the inclusion proof does not lead to the checkpoint's root hash"
        )
    done.append(
        Check(
            name="inclusion",
            ok=True,
            sentence=f"entry {proof.leaf_index} is in the log of {checkpoint.size} entries",
        )
    )


def verify_files(
    document: bytes, files: Mapping[str, bytes | None], log_key_pem: bytes | None,
    tsa_ca_pem: bytes | None = None,
) -> VerifyReport:
    """As :func:`verify`, on the bundle's files already read (name → bytes, None if missing)."""
    missing_anchors = _missing(log_key_pem, tsa_ca_pem)
    present = {name: data for name, data in files.items() if data is not None}
    missing = [name for name in b.FILES if name not in present]
    if missing:
        failed = Check(name="bundle", ok=False, sentence=f"the bundle has no {missing[0]}")
        return VerifyReport(checks=(failed,), missing_anchors=missing_anchors)
    done: list[Check] = []
    try:
        _run(document, present, log_key_pem, tsa_ca_pem, done)
    except CheckFailed as exc:
        return VerifyReport(
            checks=(*done, Check(name=exc.name, ok=False, sentence=exc.sentence)),
            missing_anchors=missing_anchors,
        )
    return VerifyReport(checks=tuple(done), missing_anchors=missing_anchors)
