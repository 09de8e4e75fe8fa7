"""Issue 10 property 2: a French seller identified only by its FR VAT number or its tax
registration (scheme FC) is compared with the tenant's SIREN too (``tenant-mismatch``).

The CII template's seller (``tests/support/invoices.py``) has no legal id: only the VAT number
FR44552081317 and the tax registration 552081317, both naming SIREN 552081317.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest

from efacture.cli.submit import Submitter
from services.ingest.domain.admission import admission_reasons
from services.ingest.domain.analysis import analyse
from tests.support.invoices import TENANT, cii_invoice
from tests.support.system import CORPUS, StatusListener, System

pytestmark = pytest.mark.security

OTHER = "73282932000074"  # a registered tenant whose SIREN (732829320) is not the seller's
FC = b'<ram:ID schemeID="FC">552081317</ram:ID>'
VA = b'<ram:ID schemeID="VA">FR44552081317</ram:ID>'
UBL = CORPUS / "ubl" / "akretion__ubl-21-en16931.xml"  # seller SIREN 999999998, VAT FR11999999998


def _vat_only(number: str) -> bytes:
    """The template whose seller is named by its FR VAT number alone (no FC registration)."""
    body = cii_invoice(number)
    assert FC in body
    return body.replace(b"<ram:SpecifiedTaxRegistration>\n\t\t\t\t\t" + FC
                        + b"\n\t\t\t\t</ram:SpecifiedTaxRegistration>", b"", 1)


def _fc_only(number: str) -> bytes:
    """The template whose seller is named by its tax registration (FC) alone."""
    body = cii_invoice(number)
    assert VA in body
    return body.replace(b"<ram:SpecifiedTaxRegistration>\n\t\t\t\t\t" + VA
                        + b"\n\t\t\t\t</ram:SpecifiedTaxRegistration>", b"", 1)


def _ubl_vat_only() -> bytes:
    """A UBL invoice whose seller lost its legal id (BT-30) and SIRET identifier (BT-29):
    only its VAT number FR11999999998 (SIREN 999999998) is left."""
    body = UBL.read_bytes()
    for ident in (b'<cbc:CompanyID schemeID="0002">999999998</cbc:CompanyID>',
                  b'<cac:PartyIdentification>\n        <cbc:ID schemeID="0009">99999999800019'
                  b'</cbc:ID>\n      </cac:PartyIdentification>'):
        assert ident in body
        body = body.replace(ident, b"", 1)
    return body


def _codes(body: bytes, tenant: str) -> list[str]:
    analysis = analyse(body, "application/xml", sandbox=True, max_bytes=10 * 1024 * 1024)
    errors, _ = admission_reasons(analysis, tenant_siret=tenant, sandbox=True, transmit=False,
                                  headers={})
    return [e.code for e in (*analysis.errors, *errors)]


@pytest.mark.parametrize("make", [cii_invoice, _vat_only, _fc_only],
                         ids=["vat-and-fc", "vat-only", "fc-only"])
def test_seller_named_only_by_tax_ids_is_the_tenant_when_its_siren_matches(
    make: Callable[[str], bytes],
) -> None:
    # FC alone also breaks BR-CO-26 (no seller id, legal id or VAT number): not our concern here.
    assert "tenant-mismatch" not in _codes(make("IMP-OK-1"), TENANT)


@pytest.mark.parametrize("make", [cii_invoice, _vat_only, _fc_only],
                         ids=["vat-and-fc", "vat-only", "fc-only"])
def test_seller_named_only_by_tax_ids_of_another_siren_is_tenant_mismatch(
    make: Callable[[str], bytes],
) -> None:
    assert "tenant-mismatch" in _codes(make("IMP-BAD-1"), OTHER)


def test_vat_only_seller_of_another_siren_is_rejected_for_that_reason_alone() -> None:
    assert _codes(_vat_only("IMP-BAD-2"), OTHER) == ["tenant-mismatch"]
    assert _codes(_vat_only("IMP-OK-2"), TENANT) == []


def test_ubl_seller_named_only_by_its_fr_vat_number_is_compared_with_the_tenant() -> None:
    body = _ubl_vat_only()
    assert "tenant-mismatch" in _codes(body, OTHER)
    assert "tenant-mismatch" not in _codes(body, "99999999800010")


def test_a_foreign_vat_number_names_no_siren() -> None:
    """A German seller's VAT number is no SIREN: such an invoice is not French-checked."""
    body = _vat_only("IMP-DE-1").replace(b"FR44552081317", b"DE136695976")
    body = body.replace(b"<ram:CountryID>FR</ram:CountryID>", b"<ram:CountryID>DE</ram:CountryID>",
                        1)
    assert "tenant-mismatch" not in _codes(body, OTHER)


# --- through the broker -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tenants(system: System) -> None:
    for siret in (TENANT, OTHER):
        system.cli("tenant", "add", siret, "--name", f"T{siret}", "--subscribed-on",
                   "2026-01-01", "--sandbox")


def test_vat_only_impersonation_through_the_broker_is_rejected_and_never_archived(
    system: System, tenants: None, listener: StatusListener,
) -> None:
    """Tenant OTHER submits an invoice whose seller is TENANT's company, named by VAT only."""
    mid = f"imp-{uuid.uuid4().hex[:10]}"
    number = f"IMP-{uuid.uuid4().hex[:8]}"
    sub = Submitter(system.infra.amqp_url)
    try:
        sub.publish(_vat_only(number), tenant=OTHER, message_id=mid,
                    content_type="application/xml", transmit=False)
    finally:
        sub.close()
    events = listener.wait_for(lambda ev: any(e["submission_id"] == mid
                                              and e["event"] == "rejected" for e in ev))
    rejected = next(e for e in events if e["submission_id"] == mid and e["event"] == "rejected")
    assert [r["code"] for r in rejected["reasons"]] == ["tenant-mismatch"]
    assert rejected["tenant"] == OTHER
    listed = system.cli_json("invoice", "list", "--tenant", OTHER)
    assert not [i for i in listed if i["submission_id"] == mid]
    # The real owner can still submit that number: nothing was claimed under its SIREN.
    mine = f"imp-own-{uuid.uuid4().hex[:8]}"
    sub = Submitter(system.infra.amqp_url)
    try:
        sub.publish(_vat_only(number), tenant=TENANT, message_id=mine,
                    content_type="application/xml", transmit=False)
    finally:
        sub.close()
    listener.wait_for(lambda ev: any(e["submission_id"] == mine and e["event"] == "archived"
                                     for e in ev))
    assert re.fullmatch(r"IMP-[0-9a-f]{8}", number)
