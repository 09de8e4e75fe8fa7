"""Which syntax and profile an XML invoice is written in, read from its root and guideline id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree

from services.ingest.domain.reasons import Reason, reason

CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM_NS = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT_NS = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CBC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC_NS = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
ZF1_NS = "urn:ferd:CrossIndustryDocument:invoice:1p0"

Syntax = Literal["CII", "UBL"]
Profile = Literal[
    "MINIMUM", "BASIC WL", "BASIC", "EN16931", "EXTENDED", "EXTENDED-CTC-FR", "XRECHNUNG", "PEPPOL"
]


@dataclass(frozen=True)
class Detected:
    """Syntax, profile, and for UBL whether the root is a CreditNote."""

    syntax: Syntax
    profile: Profile
    guideline: str
    credit_note: bool = False


def _profile_from_guideline(guideline: str) -> Profile | None:
    """Map a CII guideline id (BT-24) or UBL CustomizationID to a profile name."""
    g = guideline.strip().lower()
    if "extended-ctc-fr" in g:
        return "EXTENDED-CTC-FR"
    if "xrechnung" in g or "xeinkauf" in g:
        return "XRECHNUNG"
    if "peppol" in g:
        return "PEPPOL"
    if g.endswith(":minimum"):
        return "MINIMUM"
    if g.endswith(":basicwl"):
        return "BASIC WL"
    if g.endswith(":basic"):
        return "BASIC"
    if g.endswith(":extended"):
        return "EXTENDED"
    if g.startswith("urn:cen.eu:en16931:2017"):
        return "EN16931"
    return None


def detect(root: etree._Element) -> tuple[Detected | None, Reason | None]:
    """Classify a parsed XML root; unknown documents get a reason naming what they are."""
    tag = etree.QName(root)
    if tag.namespace == ZF1_NS or tag.localname == "CrossIndustryDocument":
        return None, reason(
            "zugferd-1-unsupported",
            "The document is a ZUGFeRD 1.0 invoice; only Factur-X / ZUGFeRD 2.x, CII and UBL 2.1 "
            "are accepted.",
        )
    if tag.namespace == CII_NS and tag.localname == "CrossIndustryInvoice":
        ids = root.xpath(
            "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
            namespaces={"rsm": CII_NS, "ram": RAM_NS},
        )
        guideline = (ids[0].text or "").strip() if ids else ""
        return _with_profile("CII", guideline, False)
    if tag.namespace in (UBL_INVOICE_NS, UBL_CREDIT_NS) and tag.localname in (
        "Invoice",
        "CreditNote",
    ):
        found = root.find(f"{{{CBC_NS}}}CustomizationID")
        guideline = (found.text or "").strip() if found is not None else ""
        return _with_profile("UBL", guideline, tag.localname == "CreditNote")
    name = tag.localname if tag.namespace is None else f"{{{tag.namespace}}}{tag.localname}"
    return None, reason(
        "not-an-invoice",
        f"The XML root element {name} is not a CII CrossIndustryInvoice nor a UBL 2.1 "
        "Invoice/CreditNote.",
    )


def _with_profile(
    syntax: Syntax, guideline: str, credit_note: bool
) -> tuple[Detected | None, Reason | None]:
    profile = _profile_from_guideline(guideline)
    if profile is None:
        if not guideline:
            return None, reason(
                "BR-01",
                "The specification identifier (BT-24) is missing, so the profile is unknown.",
                "/*/GuidelineSpecifiedDocumentContextParameter/ID"
                if syntax == "CII"
                else "/*/cbc:CustomizationID",
            )
        return None, reason(
            "unsupported-format",
            f"The specification identifier {guideline!r} names no supported profile.",
        )
    return Detected(syntax, profile, guideline, credit_note), None
