"""Strict DER checks for a TimeStampResp, so no byte of it can change unnoticed.

The signature covers only the TSTInfo and the signed attributes; the rest of a response
(status, versions, algorithm identifiers, lengths) is unsigned. A DER value has exactly one
encoding, so we require that: every length is in minimal definite form, and every unsigned
part re-encodes to the very bytes it was read from. The certificate set is left out of the
re-encoding (some TSAs, OpenSSL among them, do not sort it); its members are compared with
``tsa.pem`` byte for byte instead. So are the signed attributes, which the signature covers.
"""

from __future__ import annotations

from asn1crypto import tsp


def _walk(data: bytes, start: int, end: int, depth: int) -> bool:
    pos = start
    while pos < end:
        if depth > 64 or pos + 2 > end:
            return False
        tag = data[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # high tag numbers do not occur in these structures
            return False
        first = data[pos]
        pos += 1
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > end or data[pos] == 0:
                return False
            length = int.from_bytes(data[pos : pos + count], "big")
            if length < 0x80:
                return False
            pos += count
        if pos + length > end:
            return False
        if tag & 0x20 and not _walk(data, pos, pos + length, depth + 1):
            return False
        pos += length
    return pos == end


def minimal_lengths(data: bytes) -> bool:
    """True iff ``data`` is one TLV tree with minimal definite lengths throughout."""
    return _walk(data, 0, len(data), 0)


def unsigned_parts_canonical(tsr: bytes) -> bool:
    """True iff the response's unsigned parts re-encode to their own bytes.

    Raises ValueError (or another asn1crypto parse error) if ``tsr`` does not parse.
    """
    resp = tsp.TimeStampResp.load(tsr, strict=True)
    signed_data = resp["time_stamp_token"]["content"]
    parts = [
        resp["status"],
        resp["time_stamp_token"]["content_type"],
        signed_data["version"],
        signed_data["digest_algorithms"],
        signed_data["encap_content_info"],
    ]
    # The signed attributes are covered by the signature itself (and re-encoding them is slow).
    for signer in signed_data["signer_infos"]:
        parts.extend(
            signer[field]
            for field in (
                "version",
                "sid",
                "digest_algorithm",
                "signature_algorithm",
                "signature",
                "unsigned_attrs",
            )
        )
    for part in parts:
        original = part.dump()
        if part.dump(force=True) != original:
            return False
    return True
