"""CMS SignedData around a TSTInfo: the timeStampToken of RFC 3161 (pure, no I/O).

Signed attributes: contentType (id-ct-TSTInfo), signingTime, messageDigest and
signingCertificateV2 (RFC 5816 ESSCertIDv2 over the TSA certificate, SHA-256) — OpenSSL's
``ts -verify`` refuses a token without signingCertificate(V2). The TSA certificate is always
included in ``certificates`` (whatever certReq said), so a verifier needs only the CA in its
trust store.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final

from asn1crypto import algos, cms, core, tsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from .credentials import TsaCredentials
from .der import retag, tlv

_SIGNED_DATA_OID: Final = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_TST_INFO_OID: Final = core.ObjectIdentifier("1.2.840.113549.1.9.16.1.4").dump()
_SHA256: Final = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
_SHA256_RSA: Final = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}).dump()
_VERSION_1: Final = core.Integer(1).dump()
_VERSION_3: Final = core.Integer(3).dump()


class TokenSigner:
    """Wraps TSTInfo structures in SignedData signed by the TSA key (RSA PKCS#1 v1.5, SHA-256).

    What does not change between tokens (certificate, signer id, ESS attribute) is encoded
    once, and the outer layers are assembled as DER by hand: building them from asn1crypto
    objects costs several times the RSA signature, per token. The result is parsed back in
    the unit tests and checked by ``openssl ts -verify`` in the integration tests.
    """

    def __init__(self, creds: TsaCredentials) -> None:
        self._key = creds.tsa_key
        cert_der = creds.tsa_cert.public_bytes(Encoding.DER)
        tsa_cert = x509.Certificate.load(cert_der)
        self._sid = cms.IssuerAndSerialNumber(
            {"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number}
        ).dump()
        # certificates [0] IMPLICIT CertificateSet: just the TSA certificate.
        self._certificates = tlv(0xA0, cert_der)
        ess_cert_id = tsp.ESSCertIDv2(
            {
                # hashAlgorithm left out: SHA-256 is its DEFAULT, which DER must not encode.
                "cert_hash": hashlib.sha256(cert_der).digest(),
                "issuer_serial": tsp.IssuerSerial(
                    {
                        "issuer": [x509.GeneralName(name="directory_name", value=tsa_cert.issuer)],
                        "serial_number": tsa_cert.serial_number,
                    }
                ),
            }
        )
        self._ess_attr = cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [tsp.SigningCertificateV2({"certs": [ess_cert_id]})],
            }
        ).dump()

    def sign(self, tst_info: tsp.TSTInfo, signing_time: datetime) -> bytes:
        """DER ContentInfo (id-signedData, SignedData v3) carrying ``tst_info``."""
        tst_der = tst_info.dump()
        attrs = self._signed_attributes(hashlib.sha256(tst_der).digest(), signing_time)
        # The signature covers the attributes encoded as a universal SET OF (RFC 5652 5.4);
        # the SignerInfo carries them as [0] IMPLICIT.
        signature = self._key.sign(attrs, padding.PKCS1v15(), hashes.SHA256())
        signer_info = tlv(
            0x30,
            _VERSION_1
            + self._sid
            + _SHA256
            + retag(0xA0, attrs)
            + _SHA256_RSA
            + tlv(0x04, signature),
        )
        signed_data = tlv(
            0x30,
            # v3: the encapsulated content type is not id-data (RFC 5652 section 5.1).
            _VERSION_3
            + tlv(0x31, _SHA256)
            + tlv(0x30, _TST_INFO_OID + tlv(0xA0, tlv(0x04, tst_der)))
            + self._certificates
            + tlv(0x31, signer_info),
        )
        return tlv(0x30, _SIGNED_DATA_OID + tlv(0xA0, signed_data))

    def _signed_attributes(self, message_digest: bytes, signing_time: datetime) -> bytes:
        attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}).dump(),
            cms.CMSAttribute({"type": "signing_time", "values": [_cms_time(signing_time)]}).dump(),
            cms.CMSAttribute({"type": "message_digest", "values": [message_digest]}).dump(),
            self._ess_attr,
        ]
        # DER orders a SET OF by the encodings of its elements.
        return tlv(0x31, b"".join(sorted(attributes)))


def _cms_time(moment: datetime) -> cms.Time:
    """UTCTime before 2050, GeneralizedTime from then on (RFC 5652 section 11.3)."""
    # UTCTime carries whole seconds only.
    moment = moment.replace(microsecond=0)
    if moment.year < 2050:
        return cms.Time(name="utc_time", value=moment)
    return cms.Time(name="general_time", value=moment)
