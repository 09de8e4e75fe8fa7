"""The TSA trust anchor: does a TSA chain end at the root the verifier trusts? (pure)

A bundle's ``tsa.pem`` and its token can be made by anyone, so checking a token against the
chain it came with proves only that the bundle is self-consistent. Origin is proved by the
root certificate the verifier obtained out of band (``efacture keys export-trust`` publishes
it): the chain's last certificate must be that root, or be issued by it.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from services.archive.domain.verify_report import CheckFailed

ANCHOR_CHECK = "tsa root"


def load_root(pem: bytes, what: str = "the given TSA root") -> x509.Certificate:
    """The one certificate of a root PEM; raises CheckFailed otherwise."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CheckFailed(ANCHOR_CHECK, f"{what} is not a PEM certificate") from exc
    if len(certs) != 1:
        raise CheckFailed(ANCHOR_CHECK, f"{what} holds {len(certs)} certificates, not one")
    return certs[0]


def check_anchor(chain: list[x509.Certificate], root: x509.Certificate) -> None:
    """Raise CheckFailed unless ``chain`` (TSA first) ends at ``root`` or is issued by it."""
    last = chain[-1]
    if last.public_bytes(Encoding.DER) == root.public_bytes(Encoding.DER):
        return
    try:
        last.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CheckFailed(
            ANCHOR_CHECK, "the TSA certificate does not chain to the trusted TSA root"
        ) from exc
