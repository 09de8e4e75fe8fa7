"""A throwaway RFC 3161 time-stamping authority for tests (self-made CA and TSA certificate).

``make_fake_tsa()`` builds a CA and a TSA certificate (extendedKeyUsage timeStamping, critical,
as ``openssl ts -verify`` wants); ``FakeTsa.respond(digest, gen_time)`` returns a DER
``TimeStampResp`` whose token is a CMS SignedData over a TSTInfo, signed with signed
attributes (contentType, messageDigest, signingCertificateV2) like a real TSA's.
Reusable by any test that needs a token without the real TSA.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
POLICY_OID = "1.3.6.1.4.1.99999.1"


def _new_key(key_type: Literal["rsa", "ec"]) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass(frozen=True)
class FakeTsa:
    """A CA, a TSA certificate it issued, and the TSA's private key."""

    ca_key: PrivateKey
    ca_cert: x509.Certificate
    tsa_key: PrivateKey
    tsa_cert: x509.Certificate

    def chain_pem(self) -> bytes:
        """``tsa.pem``: the TSA certificate first, the CA last."""
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.tsa_cert, self.ca_cert)
        )

    def respond(
        self, digest: bytes, gen_time: datetime, *, serial: int = 1, embed_cert: bool = True
    ) -> bytes:
        """A granted DER TimeStampResp for the SHA-256 ``digest`` at ``gen_time``."""
        tst_info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": POLICY_OID,
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": digest,
                },
                "serial_number": serial,
                "gen_time": gen_time.astimezone(UTC),
            }
        )
        tst_der = tst_info.dump()
        cert_der = self.tsa_cert.public_bytes(serialization.Encoding.DER)
        signed_attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["tst_info"]},
                {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
                {
                    "type": "signing_certificate_v2",
                    "values": [{"certs": [{"cert_hash": hashlib.sha256(cert_der).digest()}]}],
                },
            ]
        )
        to_sign = signed_attrs.dump()
        if isinstance(self.tsa_key, rsa.RSAPrivateKey):
            signature = self.tsa_key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
            sig_alg = "sha256_rsa"
        else:
            signature = self.tsa_key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
            sig_alg = "sha256_ecdsa"
        asn1_cert = asn1_x509.Certificate.load(cert_der)
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    name="issuer_and_serial_number",
                    value={
                        "issuer": asn1_cert.issuer,
                        "serial_number": asn1_cert.serial_number,
                    },
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_alg}),
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(tst_der),
                },
                "certificates": [asn1_cert] if embed_cert else None,
                "signer_infos": [signer_info],
            }
        )
        response = tsp.TimeStampResp(
            {
                "status": {"status": "granted"},
                "time_stamp_token": {"content_type": "signed_data", "content": signed_data},
            }
        )
        return bytes(response.dump())


def make_fake_tsa(key_type: Literal["rsa", "ec"] = "rsa") -> FakeTsa:
    """A fresh CA and TSA certificate, valid from a year ago for ten years."""
    now = datetime.now(UTC)
    ca_key, tsa_key = _new_key(key_type), _new_key(key_type)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("efacture test CA"))
        .issuer_name(_name("efacture test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=365))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("efacture test TSA"))
        .issuer_name(ca_cert.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=365))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return FakeTsa(ca_key=ca_key, ca_cert=ca_cert, tsa_key=tsa_key, tsa_cert=tsa_cert)
