"""The built-in TSA's private CA and its time-stamping certificate (generation only, no I/O).

RSA-2048 with SHA-256 throughout: every OpenSSL since 1.0 verifies it, and signing takes
about a millisecond. The TSA certificate has what ``openssl ts -verify`` checks for
(X509_PURPOSE_TIMESTAMP_SIGN): extendedKeyUsage timeStamping only and critical, keyUsage
limited to digitalSignature and nonRepudiation. Validity outlives the archive retention, because
``openssl ts -verify`` checks the chain at the time of verification, not at genTime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = timedelta(days=365 * 40)
TSA_VALIDITY = timedelta(days=365 * 30)
# Tolerates verifiers whose clock runs a little behind the one that issued the certificates.
BACKDATE = timedelta(days=1)
KEY_SIZE = 2048


@dataclass(frozen=True)
class TsaCredentials:
    """What the TSA signs with, plus the CA that vouches for it.

    The CA's private key is not here: it is only needed to issue the TSA certificate.
    """

    ca_cert: x509.Certificate
    tsa_cert: x509.Certificate
    tsa_key: rsa.RSAPrivateKey


@dataclass(frozen=True)
class GeneratedAuthority:
    """A fresh CA and TSA pair; ``ca_key`` is for tests, the keystore never stores it."""

    credentials: TsaCredentials
    ca_key: rsa.RSAPrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "efacture"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def generate_authority(now: datetime, *, label: str = "efacture built-in") -> GeneratedAuthority:
    """Generate a self-signed CA and a TSA certificate it issues, both valid from ``now - 1 day``.

    ``now`` must be timezone-aware. Raises ``ValueError`` otherwise.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    ca_name = _name(f"{label} TSA root CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} TSA"))
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + TSA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    credentials = TsaCredentials(ca_cert=ca_cert, tsa_cert=tsa_cert, tsa_key=tsa_key)
    return GeneratedAuthority(credentials=credentials, ca_key=ca_key)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """CA: keyCertSign + cRLSign. TSA: digitalSignature + nonRepudiation (contentCommitment)."""
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
