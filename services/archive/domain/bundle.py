"""The evidence bundle written by ``efacture proof`` and read by ``efacture verify``.

Files (contract section 4): ``document.sha256`` (hex digest and a newline), ``timestamp.tsr``
(DER TimeStampResp), ``tsa.pem`` (TSA certificate first, CA last), ``inclusion.json``,
``checkpoint.json`` and ``log.pub`` (Ed25519 public key, PEM). Every JSON file is written in
one canonical form (sorted keys, 2-space indent, final newline) and read back only in that
form, so that altering any byte of a bundle is detectable. ``write_bundle`` / ``read_bundle``
are the only functions here that touch the file system.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.archive.domain.checkpoint import Checkpoint
from shared.vault.safe_files import write_private

DOCUMENT_SHA256 = "document.sha256"
TIMESTAMP_TSR = "timestamp.tsr"
TSA_PEM = "tsa.pem"
INCLUSION_JSON = "inclusion.json"
CHECKPOINT_JSON = "checkpoint.json"
LOG_PUB = "log.pub"
FILES = (DOCUMENT_SHA256, TIMESTAMP_TSR, TSA_PEM, INCLUSION_JSON, CHECKPOINT_JSON, LOG_PUB)


class InclusionProof(BaseModel):
    """``inclusion.json``: the leaf (its canonical JSON) and its path to a tree of tree_size."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    leaf_index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    leaf_data: str
    path: tuple[str, ...]

    @classmethod
    def build(
        cls, leaf_index: int, tree_size: int, leaf_data: bytes, path: Sequence[bytes]
    ) -> InclusionProof:
        return cls(
            leaf_index=leaf_index,
            tree_size=tree_size,
            leaf_data=leaf_data.decode("utf-8"),
            path=tuple(h.hex() for h in path),
        )

    def path_bytes(self) -> list[bytes]:
        """The path as bytes; raises ValueError if an entry is not hex."""
        return [bytes.fromhex(h) for h in self.path]

    def to_json_bytes(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2) + "\n").encode()

    @classmethod
    def from_json_bytes(cls, data: bytes) -> InclusionProof:
        """Parse ``inclusion.json``; raises ValueError unless it is exactly as written."""
        try:
            proof = cls.model_validate_json(data)
        except ValidationError as exc:
            raise ValueError(f"malformed inclusion proof: {exc.errors()[0]['msg']}") from exc
        if proof.to_json_bytes() != data:
            raise ValueError("inclusion proof is not in its canonical form")
        return proof


class ProofBundle(BaseModel):
    """Everything ``efacture proof`` writes for one invoice."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    document_sha256: str
    timestamp_tsr: bytes
    tsa_pem: bytes
    inclusion: InclusionProof
    checkpoint: Checkpoint
    log_pub: bytes

    def files(self) -> dict[str, bytes]:
        """File name → exact bytes."""
        return {
            DOCUMENT_SHA256: (self.document_sha256 + "\n").encode(),
            TIMESTAMP_TSR: self.timestamp_tsr,
            TSA_PEM: self.tsa_pem,
            INCLUSION_JSON: self.inclusion.to_json_bytes(),
            CHECKPOINT_JSON: self.checkpoint.to_json_bytes(),
            LOG_PUB: self.log_pub,
        }


def write_bundle(directory: Path, bundle: ProofBundle) -> None:
    """Write the six files into ``directory`` (created if missing; files replaced).

    Each file is created 0600 and renamed into place (:mod:`shared.vault.safe_files`): a
    symlink planted at one of the names is replaced, never followed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in bundle.files().items():
        write_private(directory / name, data)


def read_bundle(directory: Path) -> dict[str, bytes | None]:
    """Raw bytes of each bundle file, None where a file is missing. Reads nothing else."""
    out: dict[str, bytes | None] = {}
    for name in FILES:
        path = directory / name
        out[name] = path.read_bytes() if path.is_file() else None
    return out
