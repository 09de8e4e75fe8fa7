"""Offline verification of an RFC 3161 TimeStampResp against a document digest and tsa.pem.

Checks, in order: the response parses and is granted; the token is CMS SignedData over a
TSTInfo; its message imprint equals the document's hash; the messageDigest signed attribute
equals the hash of the TSTInfo; the signer certificate (first of ``tsa.pem``) is the one the
token names, carries extendedKeyUsage timeStamping, was valid at genTime and chains to the
last certificate of ``tsa.pem``; the signature over the signed attributes (DER, SET tag)
verifies. Any failure raises :class:`CheckFailed` with one sentence; success returns genTime.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from services.archive.domain.der_check import minimal_lengths, unsigned_parts_canonical
from services.archive.domain.verify_report import CheckFailed

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

_RSA_ALGOS = {"rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa"}
_ECDSA_ALGOS = {"ecdsa", "sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa"}


def load_chain(chain_pem: bytes) -> list[x509.Certificate]:
    """Certificates of ``tsa.pem`` (TSA first); raises CheckFailed unless exactly as PEM-written."""
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise CheckFailed("tsa certificate", "tsa.pem does not hold PEM certificates") from exc
    canonical = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    if canonical != chain_pem:
        raise CheckFailed("tsa certificate", "tsa.pem is altered (not the PEM it was written as)")
    return chain


def _digest(name: str, data: bytes) -> bytes:
    if name not in _HASHES:
        raise CheckFailed("timestamp signature", f"the token uses an unsupported hash ({name})")
    return hashlib.new(name, data).digest()


def _attr(signed_attrs: cms.CMSAttributes, name: str) -> object:
    values = [a["values"] for a in signed_attrs if a["type"].native == name]
    if len(values) != 1 or len(values[0]) != 1:
        raise CheckFailed("timestamp signature", f"the token's {name} attribute is missing")
    return values[0][0]


def _check_signature(
    cert: x509.Certificate, signer: cms.SignerInfo, signed: bytes, hash_name: str
) -> None:
    to_verify = b"\x31" + signed[1:]  # signed over the SET OF encoding, not the [0] tag
    signature = signer["signature"].native
    key = cert.public_key()
    algo = _HASHES[hash_name]()
    sig_algo = signer["signature_algorithm"]["algorithm"].native
    allowed = _RSA_ALGOS if isinstance(key, rsa.RSAPublicKey) else _ECDSA_ALGOS
    if sig_algo not in allowed or sig_algo.split("_")[0] not in (hash_name, "rsassa", "ecdsa"):
        raise CheckFailed(
            "timestamp signature", f"the token's signature algorithm ({sig_algo}) is not usable"
        )
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, to_verify, padding.PKCS1v15(), algo)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, to_verify, ec.ECDSA(algo))
        else:
            raise CheckFailed("timestamp signature", "the TSA key type is not supported")
    except InvalidSignature as exc:
        raise CheckFailed(
            "timestamp signature",
            "the timestamp token's signature does not verify with the TSA certificate",
        ) from exc


def _check_chain(chain: list[x509.Certificate], gen_time: datetime) -> None:
    tsa = chain[0]
    try:
        eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or ExtendedKeyUsageOID.TIME_STAMPING not in eku:
        raise CheckFailed(
            "tsa certificate", "the TSA certificate is not for time-stamping (extendedKeyUsage)"
        )
    if not tsa.not_valid_before_utc <= gen_time <= tsa.not_valid_after_utc:
        raise CheckFailed("tsa certificate", "the TSA certificate was not valid at the genTime")
    links = list(itertools.pairwise(chain))
    if len(chain) > 1:
        # The CA must be self-signed, or a change to it (its name) would go unnoticed.
        links.append((chain[-1], chain[-1]))
    for child, parent in links:
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CheckFailed(
                "tsa certificate",
                "the TSA certificate does not chain to the CA certificate of tsa.pem",
            ) from exc


def _signer_matches(signer: cms.SignerInfo, cert: x509.Certificate) -> bool:
    sid = signer["sid"]
    if sid.name == "issuer_and_serial_number":
        ok = bool(
            signer["version"].native == "v1"
            and sid.chosen["serial_number"].native == cert.serial_number
            and sid.chosen["issuer"].dump() == cert.issuer.public_bytes()
        )
    else:
        try:
            ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            return False
        ok = signer["version"].native == "v3" and sid.chosen.native == ski
    return ok


def _check_signing_certificate(signer: cms.SignerInfo, cert_der: bytes) -> None:
    for attr in signer["signed_attrs"]:
        kind = attr["type"].native
        if kind not in ("signing_certificate", "signing_certificate_v2"):
            continue
        ess = attr["values"][0]["certs"][0]
        name = "sha1"
        if kind == "signing_certificate_v2":
            name = ess["hash_algorithm"]["algorithm"].native
        if hashlib.new(name, cert_der).digest() != ess["cert_hash"].native:
            raise CheckFailed(
                "timestamp signature", "the token names another signing certificate than tsa.pem's"
            )


def check_timestamp(
    tsr: bytes, chain: list[x509.Certificate], document: bytes, *, strict_der: bool = True
) -> datetime:
    """Verify ``timestamp.tsr`` for ``document``; returns genTime (aware UTC).

    ``strict_der=False`` skips the canonical-encoding checks of the unsigned parts (half the
    cost): they detect a bundle altered after the fact, not a token the TSA did not sign.
    Raises CheckFailed, never a parser error: asn1crypto parses lazily, so damage deep in the
    structure can surface at any field access.
    """
    try:
        return _check_timestamp(tsr, chain, document, strict_der)
    except CheckFailed:
        raise
    except Exception as exc:
        raise CheckFailed(
            "timestamp token", "timestamp.tsr is not a valid RFC 3161 TimeStampResp"
        ) from exc


def _check_timestamp(
    tsr: bytes, chain: list[x509.Certificate], document: bytes, strict_der: bool
) -> datetime:
    try:
        resp = tsp.TimeStampResp.load(tsr, strict=True)
        status = resp["status"]["status"].native
        token = resp["time_stamp_token"]
        signed_data = token["content"]
        encap = signed_data["encap_content_info"]
        tst_info = encap["content"].parsed
        signers = signed_data["signer_infos"]
        canonical = not strict_der or (minimal_lengths(tsr) and unsigned_parts_canonical(tsr))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckFailed(
            "timestamp token", "timestamp.tsr is not a valid RFC 3161 TimeStampResp"
        ) from exc
    if not canonical:
        raise CheckFailed("timestamp token", "timestamp.tsr is altered (not DER-encoded)")
    if status != "granted":
        raise CheckFailed("timestamp token", f"the timestamp response is not granted ({status})")
    if (
        token["content_type"].native != "signed_data"
        or signed_data["version"].native != "v3"
        or encap["content_type"].native != "tst_info"
        or tst_info["version"].native != "v1"
        or len(signers) != 1
        or signed_data["crls"]
    ):
        raise CheckFailed("timestamp token", "timestamp.tsr does not hold one signed TSTInfo")
    imprint = tst_info["message_imprint"]
    imprint_hash = imprint["hash_algorithm"]["algorithm"].native
    if imprint["hashed_message"].native != _digest(imprint_hash, document):
        raise CheckFailed(
            "timestamp imprint", "the timestamp token's message imprint is not the document's hash"
        )
    signer = signers[0]
    # The bytes as received, taken before any attribute is read (reading re-encodes lazily).
    signed_attrs_der = signer["signed_attrs"].dump()
    hash_name = signer["digest_algorithm"]["algorithm"].native
    declared = {a["algorithm"].native for a in signed_data["digest_algorithms"]}
    if declared != {hash_name} or not signer["signed_attrs"]:
        raise CheckFailed("timestamp token", "timestamp.tsr's SignedData is inconsistent")
    if _attr(signer["signed_attrs"], "content_type").native != "tst_info":  # type: ignore[attr-defined]
        raise CheckFailed("timestamp signature", "the token's signed content type is not TSTInfo")
    message_digest = _attr(signer["signed_attrs"], "message_digest").native  # type: ignore[attr-defined]
    if message_digest != _digest(hash_name, encap["content"].contents):
        raise CheckFailed(
            "timestamp signature", "the token's messageDigest does not match its TSTInfo"
        )
    cert = chain[0]
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    if not _signer_matches(signer, cert):
        raise CheckFailed(
            "timestamp signature", "the token was not signed by the first certificate of tsa.pem"
        )
    _check_signing_certificate(signer, cert_der)
    known = {c.public_bytes(serialization.Encoding.DER) for c in chain}
    for embedded in signed_data["certificates"] or []:
        if embedded.dump() not in known:
            raise CheckFailed(
                "timestamp token", "timestamp.tsr embeds a certificate that is not in tsa.pem"
            )
    gen_time: datetime = tst_info["gen_time"].native
    _check_chain(chain, gen_time)
    _check_signature(cert, signer, signed_attrs_der, hash_name)
    return gen_time
