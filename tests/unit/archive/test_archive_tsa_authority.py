"""The built-in TSA's answers, checked from the DER it returns (no HTTP, no disk)."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import pytest
from asn1crypto import algos, cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from services.archive.tsa.authority import TimeStampAuthority
from services.archive.tsa.credentials import TsaCredentials, generate_authority
from services.archive.tsa.protocol import POLICY_OID, TimeStampResp, build_request

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
DOCUMENT = b"%PDF-1.7 an invoice"
SHA256 = hashlib.sha256(DOCUMENT).digest()


@pytest.fixture(scope="module")
def credentials() -> TsaCredentials:
    return generate_authority(NOW).credentials


@pytest.fixture
def authority(credentials: TsaCredentials) -> TimeStampAuthority:
    return TimeStampAuthority(credentials, clock=lambda: NOW, serial_source=lambda: 4242)


def _granted(authority: TimeStampAuthority, request: bytes) -> tuple[cms.SignedData, tsp.TSTInfo]:
    response = TimeStampResp.load(authority.respond(request))
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    return signed_data, signed_data["encap_content_info"]["content"].parsed


def _rejection(authority: TimeStampAuthority, request: bytes) -> set[str]:
    response = TimeStampResp.load(authority.respond(request))
    assert response["status"]["status"].native == "rejection"
    assert response["time_stamp_token"].native is None
    return set(response["status"]["fail_info"].native)


def test_granted_token_copies_imprint_and_nonce_and_states_policy_serial_time(
    authority: TimeStampAuthority,
) -> None:
    _, tst = _granted(authority, build_request(SHA256, nonce=987654321))
    assert tst["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert tst["message_imprint"]["hashed_message"].native == SHA256
    assert tst["nonce"].native == 987654321
    assert tst["policy"].native == POLICY_OID
    assert tst["serial_number"].native == 4242
    assert tst["gen_time"].native == NOW.replace(microsecond=535000)


def test_token_without_nonce_in_request_has_no_nonce(authority: TimeStampAuthority) -> None:
    _, tst = _granted(authority, build_request(SHA256))
    assert tst["nonce"].native is None


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_longer_sha2_digests_are_granted(authority: TimeStampAuthority, algorithm: str) -> None:
    digest = hashlib.new(algorithm, DOCUMENT).digest()
    _, tst = _granted(authority, build_request(digest, algorithm=algorithm))
    assert tst["message_imprint"]["hashed_message"].native == digest


def test_signature_covers_signed_attributes_whose_digest_is_the_tst_info(
    authority: TimeStampAuthority, credentials: TsaCredentials
) -> None:
    signed_data, tst = _granted(authority, build_request(SHA256, nonce=1))
    signer = signed_data["signer_infos"][0]
    attrs = {attr["type"].native: attr["values"][0] for attr in signer["signed_attrs"]}
    assert attrs["content_type"].native == "tst_info"
    assert attrs["message_digest"].native == hashlib.sha256(tst.dump()).digest()
    assert attrs["signing_time"].native == NOW.replace(microsecond=0)
    signed_bytes = cms.CMSAttributes(list(signer["signed_attrs"])).dump()
    public_key = credentials.tsa_cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(  # raises InvalidSignature when wrong
        signer["signature"].native, signed_bytes, padding.PKCS1v15(), hashes.SHA256()
    )


def test_token_names_and_embeds_the_tsa_certificate(
    authority: TimeStampAuthority, credentials: TsaCredentials
) -> None:
    signed_data, _ = _granted(authority, build_request(SHA256, cert_req=False))
    tsa_der = credentials.tsa_cert.public_bytes(Encoding.DER)
    embedded = [choice.chosen.dump() for choice in signed_data["certificates"]]
    assert embedded == [tsa_der]
    signer = signed_data["signer_infos"][0]
    attrs = {attr["type"].native: attr["values"][0] for attr in signer["signed_attrs"]}
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(tsa_der).digest()
    assert ess["issuer_serial"]["serial_number"].native == credentials.tsa_cert.serial_number


def test_tsa_certificate_is_for_time_stamping_only(credentials: TsaCredentials) -> None:
    eku = credentials.tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    usage = credentials.tsa_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.content_commitment
    assert not usage.key_cert_sign
    assert credentials.tsa_cert.issuer == credentials.ca_cert.subject
    assert credentials.tsa_cert.not_valid_after_utc.year >= NOW.year + 10


def test_chain_pem_is_tsa_certificate_then_ca(
    authority: TimeStampAuthority, credentials: TsaCredentials
) -> None:
    chain = x509.load_pem_x509_certificates(authority.chain_pem())
    assert chain == [credentials.tsa_cert, credentials.ca_cert]


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha224"])
def test_weak_or_unlisted_digest_is_rejected_bad_alg(
    authority: TimeStampAuthority, algorithm: str
) -> None:
    digest = hashlib.new(algorithm, DOCUMENT).digest()
    assert _rejection(authority, build_request(digest, algorithm=algorithm)) == {"bad_alg"}


def test_digest_of_wrong_length_is_rejected(authority: TimeStampAuthority) -> None:
    assert _rejection(authority, build_request(SHA256[:20])) == {"bad_data_format"}


@pytest.mark.parametrize("garbage", [b"", b"not DER", b"\x30\x03\x02\x01\x01"])
def test_bytes_that_are_not_a_request_are_rejected(
    authority: TimeStampAuthority, garbage: bytes
) -> None:
    assert _rejection(authority, garbage) == {"bad_data_format"}


def test_request_for_another_policy_is_rejected(authority: TimeStampAuthority) -> None:
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": SHA256,
            },
            "req_policy": "1.2.3.4",
        }
    ).dump()
    assert _rejection(authority, request) == {"unaccepted_policy"}


def test_request_with_an_extension_is_rejected(authority: TimeStampAuthority) -> None:
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": SHA256,
            },
            "extensions": [{"extn_id": "1.2.3.4", "extn_value": b"x"}],
        }
    ).dump()
    assert _rejection(authority, request) == {"unaccepted_extensions"}


def test_corrupted_requests_are_answered_never_raised(authority: TimeStampAuthority) -> None:
    valid = build_request(SHA256, nonce=99)
    rng = random.Random(20260314)
    for _ in range(2000):
        mutated = bytearray(valid)
        for _ in range(rng.randint(1, 3)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        response = TimeStampResp.load(authority.respond(bytes(mutated)))
        assert response["status"]["status"].native in {"granted", "rejection"}
