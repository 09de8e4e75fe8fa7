"""Evidence bundles (contract section 4) built from the catalogue and the log.

``efacture proof`` and ``efacture export`` call :func:`build_bundle`; the bundle verifies
offline with :func:`services.archive.domain.verify.verify` and its token with
``openssl ts -verify``. Failures are :class:`ProofError` whose message is one sentence.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from services.archive.adapters import catalogue, merkle_store
from services.archive.domain.bundle import InclusionProof, ProofBundle
from services.archive.domain.checkpoint import Checkpoint
from shared.settings import Settings


class ProofError(LookupError):
    """No bundle can be written; the message says why, in one sentence."""


NOT_COVERED = "no signed checkpoint covers this invoice yet; retry in a few seconds"


def tsa_chain_pem(settings: Settings) -> bytes:
    """The TSA chain for ``tsa.pem``: TSA certificate first, CA last.

    From ``EFACTURE_TSA_CHAIN_FILE``, else the built-in TSA's keystore (``<data_dir>/tsa``,
    read only). Raises :class:`ProofError` when neither is there.
    """
    from services.archive.adapters import tsa_trust

    try:
        return tsa_trust.chain_pem(settings)
    except tsa_trust.TsaTrustError as exc:
        raise ProofError(str(exc)) from exc


def parse_invoice_id(ident: str) -> uuid.UUID:
    try:
        return uuid.UUID(ident)
    except ValueError:
        raise ProofError(f"{ident!r} is not an invoice id (a UUID)") from None


async def bundle_for_row(
    conn: psycopg.AsyncConnection[Any], row: dict[str, Any], checkpoint: Checkpoint,
    tsa_pem: bytes, log_pub: bytes,
) -> ProofBundle:
    """The bundle of one catalogue row against ``checkpoint`` (which must cover it)."""
    index = int(row["log_index"])
    if checkpoint.size <= index:
        raise ProofError(NOT_COVERED)
    leaf_data = await merkle_store.leaf(conn, index)
    if leaf_data is None:
        raise ProofError(f"the log has no entry {index} for invoice {row['invoice_id']}")
    path = await merkle_store.inclusion_proof(conn, index, checkpoint.size)
    return ProofBundle(
        document_sha256=row["sha256"].strip(),
        timestamp_tsr=bytes(row["tsa_token"]),
        tsa_pem=tsa_pem,
        inclusion=InclusionProof.build(index, checkpoint.size, leaf_data, path),
        checkpoint=checkpoint,
        log_pub=log_pub,
    )


async def build_bundle(
    conn: psycopg.AsyncConnection[Any], invoice_id: uuid.UUID, tsa_pem: bytes, log_pub: bytes
) -> ProofBundle:
    """The bundle of an archived invoice, against the latest checkpoint covering it.

    Raises :class:`ProofError` for an unknown or purged invoice, or one that no signed
    checkpoint covers yet (the archive signs one every few seconds).
    """
    row = await catalogue.fetch(conn, invoice_id)
    if row is None:
        raise ProofError(f"no archived invoice has the id {invoice_id}")
    if row["state"] == "purged":
        raise ProofError(f"invoice {invoice_id} was purged on {row['purged_at']:%Y-%m-%d}; "
                         "its document no longer exists")
    checkpoint = await merkle_store.checkpoint_covering(conn, int(row["log_index"]))
    if checkpoint is None:
        raise ProofError(NOT_COVERED)
    return await bundle_for_row(conn, row, checkpoint, tsa_pem, log_pub)
