"""The time-stamping authority: TimeStampReq DER in, TimeStampResp DER out (RFC 3161).

:meth:`TimeStampAuthority.respond` is a pure function of the request, the credentials, the
clock and the serial source, so tests inject the last two. Every well-formed SHA-256/384/512
request without extensions is granted; anything else is answered with status ``rejection`` and
a PKIFailureInfo bit (never an exception), as a client of RFC 3161 expects.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import tsp, x509
from cryptography.hazmat.primitives.serialization import Encoding

from .credentials import TsaCredentials
from .der import tlv
from .keystore import load_or_create_credentials
from .protocol import ACCEPTED_DIGESTS, POLICY_OID, rejection
from .signed_data import TokenSigner

Clock = Callable[[], datetime]
SerialSource = Callable[[], int]

_GRANTED_STATUS = tsp.PKIStatusInfo({"status": "granted"}).dump()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _random_serial() -> int:
    # 64 random bits: unique without shared state between restarts or processes.
    return secrets.randbits(64) or 1


class TimeStampAuthority:
    """Issues RFC 3161 tokens signed by the TSA certificate of ``credentials``."""

    def __init__(
        self,
        credentials: TsaCredentials,
        *,
        clock: Clock = _utc_now,
        serial_source: SerialSource = _random_serial,
        policy: str = POLICY_OID,
    ) -> None:
        self._creds = credentials
        self._clock = clock
        self._serial_source = serial_source
        self._policy = policy
        self._signer = TokenSigner(credentials)
        tsa_cert = x509.Certificate.load(credentials.tsa_cert.public_bytes(Encoding.DER))
        self._tsa_name = x509.GeneralName(name="directory_name", value=tsa_cert.subject)

    @classmethod
    def load_or_create(cls, directory: Path, *, clock: Clock = _utc_now) -> TimeStampAuthority:
        """The authority whose keys live in ``directory`` (normally ``<data_dir>/tsa``).

        The CA, the TSA certificate and their keys are generated on first use (keys 0600).
        Raises :class:`~services.archive.tsa.keystore.KeystoreError` on an inconsistent
        directory and ``OSError`` on file-system failures.
        """
        return cls(load_or_create_credentials(directory, clock=clock), clock=clock)

    @property
    def credentials(self) -> TsaCredentials:
        return self._creds

    def chain_pem(self) -> bytes:
        """PEM TSA certificate then CA certificate: the proof bundle's ``tsa.pem``."""
        return self._creds.tsa_cert.public_bytes(Encoding.PEM) + self._creds.ca_cert.public_bytes(
            Encoding.PEM
        )

    def ca_pem(self) -> bytes:
        """PEM CA certificate alone (the trust anchor)."""
        return self._creds.ca_cert.public_bytes(Encoding.PEM)

    def respond(self, request_der: bytes) -> bytes:
        """Answer one DER TimeStampReq with a DER TimeStampResp; never raises on bad input.

        Rejections: ``bad_data_format`` (not a TimeStampReq, or a digest of the wrong length),
        ``bad_alg`` (digest other than SHA-256/384/512), ``unaccepted_policy`` (a reqPolicy
        other than ours), ``unaccepted_extensions`` (any extension).
        """
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            version = request["version"].native
            req_policy = request["req_policy"].native
            has_extensions = request["extensions"].native is not None
            nonce = request["nonce"].native
        except (ValueError, TypeError, KeyError) as exc:
            return rejection("bad_data_format", f"not a TimeStampReq: {exc}")
        if version != "v1":
            return rejection("bad_data_format", f"unsupported TimeStampReq version {version}")
        if algorithm not in ACCEPTED_DIGESTS:
            return rejection("bad_alg", f"digest algorithm {algorithm} not accepted")
        if len(digest) != ACCEPTED_DIGESTS[algorithm]:
            return rejection("bad_data_format", f"{algorithm} digest of {len(digest)} bytes")
        if req_policy is not None and req_policy != self._policy:
            return rejection("unaccepted_policy", f"policy {req_policy} not offered")
        if has_extensions:
            return rejection("unaccepted_extensions", "no extension is supported")
        return self._grant(imprint, nonce)

    def _grant(self, imprint: tsp.MessageImprint, nonce: int | None) -> bytes:
        now = self._clock().astimezone(UTC)
        # Millisecond resolution, stated as the token's accuracy.
        gen_time = now.replace(microsecond=now.microsecond // 1000 * 1000)
        fields: dict[str, object] = {
            "version": "v1",
            "policy": self._policy,
            # Copied byte for byte (RFC 3161 section 2.4.2), parameters included.
            "message_imprint": tsp.MessageImprint.load(imprint.dump()),
            "serial_number": self._serial_source(),
            "gen_time": gen_time,
            "accuracy": tsp.Accuracy({"millis": 1}),
            "tsa": self._tsa_name,
        }
        if nonce is not None:
            fields["nonce"] = nonce
        token = self._signer.sign(tsp.TSTInfo(fields), now)
        return tlv(0x30, _GRANTED_STATUS + token)
