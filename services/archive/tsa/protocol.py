"""RFC 3161 shapes shared by the built-in TSA and the TSA client (pure, no I/O)."""

from __future__ import annotations

from typing import Final

from asn1crypto import cms, core, tsp

REQUEST_CONTENT_TYPE: Final = "application/timestamp-query"
REPLY_CONTENT_TYPE: Final = "application/timestamp-reply"

# A private-enterprise arc: the built-in TSA makes no claim of a public policy.
POLICY_OID: Final = "1.3.6.1.4.1.99999.1.1"

# Digest name (asn1crypto spelling) -> digest length in bytes. Anything else is refused.
ACCEPTED_DIGESTS: Final[dict[str, int]] = {"sha256": 32, "sha384": 48, "sha512": 64}

GRANTED_STATUSES: Final = frozenset({"granted", "granted_with_mods"})


class TimeStampResp(tsp.TimeStampResp):
    """TimeStampResp with ``timeStampToken`` OPTIONAL, as RFC 3161 section 2.4.2 says.

    asn1crypto 1.5 declares the token mandatory, which cannot encode (nor parse) a rejection.
    """

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def build_request(
    digest: bytes, *, algorithm: str = "sha256", nonce: int | None = None, cert_req: bool = True
) -> bytes:
    """DER TimeStampReq (v1) over an already computed ``digest``; no policy, no extensions."""
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": tsp.MessageImprint(
            {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest}
        ),
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    return bytes(tsp.TimeStampReq(fields).dump())


def rejection(fail_info: str, text: str) -> bytes:
    """DER TimeStampResp with status ``rejection``, the given PKIFailureInfo bit and no token."""
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": tsp.PKIFreeText([core.UTF8String(text)]),
            "fail_info": tsp.PKIFailureInfo({fail_info}),
        }
    )
    return bytes(TimeStampResp({"status": status}).dump())
