"""Envelope encryption (issue 4, items 1 and 2): pure functions of domain/envelope.py."""

from __future__ import annotations

import csv
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import PermanentError
from shared.vault import envelope
from shared.vault.envelope import DecryptFailedError

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
TENANT = "73282932000074"


def _valid_corpus_files() -> list[tuple[Path, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(CORPUS / r["path"], r["sha256"]) for r in rows if r["expected"] == "valid"][:6]


@pytest.mark.parametrize(("path", "sha256"), _valid_corpus_files(), ids=lambda v: str(v)[-30:])
def test_corpus_document_round_trips_and_fingerprint_matches_manifest(
    path: Path, sha256: str
) -> None:
    original = path.read_bytes()
    key, invoice = envelope.new_data_key(), uuid4()
    sealed = envelope.seal(original, key, tenant=TENANT, invoice_id=invoice)
    assert original not in sealed
    assert envelope.open_(sealed, key, tenant=TENANT, invoice_id=invoice) == original
    assert envelope.fingerprint(original) == sha256


@settings(max_examples=50)
@given(st.binary(max_size=4096))
def test_any_bytes_round_trip(plaintext: bytes) -> None:
    key, invoice = envelope.new_data_key(), uuid4()
    sealed = envelope.seal(plaintext, key, tenant=TENANT, invoice_id=invoice)
    assert envelope.open_(sealed, key, tenant=TENANT, invoice_id=invoice) == plaintext


def test_blob_moved_to_another_invoice_fails_to_decrypt() -> None:
    key, invoice = envelope.new_data_key(), uuid4()
    sealed = envelope.seal(b"%PDF-1.7 invoice", key, tenant=TENANT, invoice_id=invoice)
    with pytest.raises(DecryptFailedError) as caught:
        envelope.open_(sealed, key, tenant=TENANT, invoice_id=uuid4())
    assert caught.value.code == "decrypt-failed"
    assert isinstance(caught.value, PermanentError)


def test_blob_moved_to_another_tenant_fails_to_decrypt() -> None:
    key, invoice = envelope.new_data_key(), uuid4()
    sealed = envelope.seal(b"<Invoice/>", key, tenant=TENANT, invoice_id=invoice)
    with pytest.raises(DecryptFailedError):
        envelope.open_(sealed, key, tenant="35600000000048", invoice_id=invoice)


@settings(max_examples=60)
@given(st.data())
def test_any_single_bit_flip_fails_to_decrypt(data: st.DataObject) -> None:
    key, invoice = envelope.new_data_key(), uuid4()
    sealed = envelope.seal(b"an invoice of some length", key, tenant=TENANT, invoice_id=invoice)
    bit = data.draw(st.integers(min_value=0, max_value=len(sealed) * 8 - 1))
    flipped = bytearray(sealed)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(DecryptFailedError):
        envelope.open_(bytes(flipped), key, tenant=TENANT, invoice_id=invoice)


def test_wrong_data_key_and_truncation_fail_to_decrypt() -> None:
    key, invoice = envelope.new_data_key(), uuid4()
    sealed = envelope.seal(b"doc", key, tenant=TENANT, invoice_id=invoice)
    with pytest.raises(DecryptFailedError):
        envelope.open_(sealed, envelope.new_data_key(), tenant=TENANT, invoice_id=invoice)
    with pytest.raises(DecryptFailedError):
        envelope.open_(sealed[:20], key, tenant=TENANT, invoice_id=invoice)


def test_same_document_sealed_twice_gives_different_ciphertexts() -> None:
    key, invoice = envelope.new_data_key(), uuid4()
    first = envelope.seal(b"doc", key, tenant=TENANT, invoice_id=invoice)
    assert first != envelope.seal(b"doc", key, tenant=TENANT, invoice_id=invoice)


def test_wrapped_key_unwraps_only_in_its_own_context() -> None:
    dek, kek, invoice = envelope.new_data_key(), envelope.new_data_key(), uuid4()
    context = envelope.data_key_context(TENANT, invoice)
    wrapped = envelope.wrap(dek, kek, context=context)
    assert wrapped[:1] == b"\x01"
    assert dek not in wrapped
    assert envelope.unwrap(wrapped, kek, context=context) == dek
    with pytest.raises(DecryptFailedError):
        envelope.unwrap(wrapped, kek, context=envelope.data_key_context(TENANT, uuid4()))
    with pytest.raises(DecryptFailedError):
        envelope.unwrap(wrapped, envelope.new_data_key(), context=context)


def test_unknown_wrap_format_version_is_refused() -> None:
    kek = envelope.new_data_key()
    context = envelope.tenant_key_context(TENANT, 1)
    wrapped = envelope.wrap(envelope.new_data_key(), kek, context=context)
    with pytest.raises(DecryptFailedError, match="format"):
        envelope.unwrap(b"\x02" + wrapped[1:], kek, context=context)


def test_contexts_follow_the_agreed_layout() -> None:
    assert envelope.document_aad(TENANT, "inv-1") == b"efacture-doc-v1|73282932000074|inv-1"
    assert envelope.data_key_context(TENANT, "inv-1") == b"dek|73282932000074|inv-1"
    assert envelope.tenant_key_context(TENANT, 3) == b"tk|73282932000074|3"


def test_separator_in_a_context_part_is_refused() -> None:
    # "a|b" + "c" and "a" + "b|c" must never share associated data.
    with pytest.raises(ValueError, match=r"\|"):
        envelope.document_aad("732|82", "inv")


def test_keys_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        envelope.seal(b"doc", b"short", tenant=TENANT, invoice_id="inv")
