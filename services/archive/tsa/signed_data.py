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

from asn1crypto import algos, cms, tsp, x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from .credentials import TsaCredentials


class TokenSigner:
    """Wraps TSTInfo structures in SignedData signed by the TSA key (RSA PKCS#1 v1.5, SHA-256).

    What does not change between tokens (certificate, signer id, ESS attribute) is encoded
    once here: asn1crypto re-encoding a certificate per token costs ten times the signature.
    """

    def __init__(self, creds: TsaCredentials) -> None:
        self._key = creds.tsa_key
        cert_der = creds.tsa_cert.public_bytes(Encoding.DER)
        tsa_cert = x509.Certificate.load(cert_der)
        self._sid_der = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value=cms.IssuerAndSerialNumber(
                {"issuer": tsa_cert.issuer, "serial_number": tsa_cert.serial_number}
            ),
        ).dump()
        self._certificates_der = cms.CertificateSet(
            [cms.CertificateChoices(name="certificate", value=tsa_cert)]
        ).dump()
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
        self._ess_attr_der = cms.CMSAttribute(
            {
                "type": "signing_certificate_v2",
                "values": [tsp.SigningCertificateV2({"certs": [ess_cert_id]})],
            }
        ).dump()

    def sign(self, tst_info: tsp.TSTInfo, signing_time: datetime) -> cms.ContentInfo:
        """ContentInfo (id-signedData, v3) carrying ``tst_info`` as id-ct-TSTInfo."""
        tst_der = tst_info.dump()
        attrs = self._signed_attributes(hashlib.sha256(tst_der).digest(), signing_time)
        # The signature covers the attributes encoded as a universal SET OF (RFC 5652 5.4).
        signature = self._key.sign(attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid_der),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
                "signature": signature,
            }
        )
        signed_data = cms.SignedData(
            {
                # v3: the encapsulated content type is not id-data (RFC 5652 section 5.1).
                "version": "v3",
                "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
                "encap_content_info": cms.EncapsulatedContentInfo(
                    {"content_type": "tst_info", "content": tst_info}
                ),
                "certificates": cms.CertificateSet.load(self._certificates_der),
                "signer_infos": [signer],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data})

    def _signed_attributes(
        self, message_digest: bytes, signing_time: datetime
    ) -> cms.CMSAttributes:
        attributes = [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "signing_time", "values": [_cms_time(signing_time)]}),
            cms.CMSAttribute({"type": "message_digest", "values": [message_digest]}),
            cms.CMSAttribute.load(self._ess_attr_der),
        ]
        # DER orders a SET OF by the encodings of its elements.
        return cms.CMSAttributes(sorted(attributes, key=lambda attr: attr.dump()))


def _cms_time(moment: datetime) -> cms.Time:
    """UTCTime before 2050, GeneralizedTime from then on (RFC 5652 section 11.3)."""
    # UTCTime carries whole seconds only.
    moment = moment.replace(microsecond=0)
    if moment.year < 2050:
        return cms.Time(name="utc_time", value=moment)
    return cms.Time(name="general_time", value=moment)
