"""Targeted mutants for the EXTENDED rules of CII: the line structure (line subtypes, parent
lines, GROUP sums: BR-FREXT-05..12), the French multi-vendor rules (BR-FR-MV-03..14), and line,
charge, code-list and total rules twinned in EXTENDED (BR-FXEXT-*) and EXTENDED-CTC-FR
(BR-FREXT-*), on the akretion EXTENDED sample as it is and declared EXTENDED-CTC-FR, and a few
on the akretion EXTENDED-CTC-FR UBL sample (``mutants.EXTRA_BASES``). See
:mod:`mutants_targeted` for the edit language.

The multi-vendor targets start from :data:`MULTI_VENDOR`, edits that turn the base into a valid
S8 invoice (a GROUP line 10 first, the three original lines its DETAIL sub-lines, each line with
its vendor and its sub-invoice reference AFL ``SUB1``); each target then adds one break.
Contract: the base with :data:`MULTI_VENDOR` applied is valid both ways (test_mutants checks it).
"""

from __future__ import annotations

from tests.conformance.mutants_targeted import Edit, Target

CTC_CII = "cii/akretion__factur-x-extended.xml#ctc-fr"
EXT_CII = "cii/akretion__factur-x-extended.xml"
CTC_UBL = "ubl/akretion__ubl-21-extended-ctc-fr.xml"
_L = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/" \
     "ram:IncludedSupplyChainTradeLineItem"
_MODE = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/ram:BusinessProcessSpecified" \
        "DocumentContextParameter/ram:ID"
_TYPE = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode"
_DETAIL = "<ram:LineStatusReasonCode>DETAIL</ram:LineStatusReasonCode>"
_H = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
_AGR = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/" \
       "ram:ApplicableHeaderTradeAgreement"
_TOTALS = f"{_H}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_CHARGE = f"{_H}/ram:SpecifiedTradeAllowanceCharge[ram:ChargeIndicator/udt:Indicator='true'][1]"
_LINE_CHARGE = f"{_L}[1]/ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeAllowanceCharge" \
               "[ram:ChargeIndicator/udt:Indicator='true']"
_QTY = f"{_L}[3]/ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"
_ATTR = f"{_L}[1]/ram:SpecifiedTradeProduct/ram:ApplicableProductCharacteristic"


def _id(n: int) -> str:
    return f"{_L}[{n}]/ram:AssociatedDocumentLineDocument/ram:LineID"


def _status(n: int) -> str:
    return f"{_L}[{n}]/ram:AssociatedDocumentLineDocument/ram:LineStatusReasonCode"


def _sum(n: int) -> str:
    return f"{_L}[{n}]/ram:SpecifiedLineTradeSettlement/" \
           "ram:SpecifiedTradeSettlementLineMonetarySummation"


def _tax(n: int) -> str:
    return f"{_L}[{n}]/ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax"


def _child_of(parent: str) -> str:
    return f"after:<ram:ParentLineID>{parent}</ram:ParentLineID>{_DETAIL}"


def _vendor(n: int, siren: str = "732829320") -> Edit:
    """Line ``n``'s vendor (BR-FR-MV-03/06); by default not the invoice's seller (123456782)."""
    return (f"{_L}[{n}]/ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice",
            "after:<ram:ItemSellerTradeParty><ram:Name>VENDEUR B</ram:Name>"
            f"<ram:SpecifiedLegalOrganization><ram:ID schemeID=\"0002\">{siren}</ram:ID>"
            "</ram:SpecifiedLegalOrganization><ram:PostalTradeAddress><ram:CountryID>FR"
            "</ram:CountryID></ram:PostalTradeAddress></ram:ItemSellerTradeParty>")


def _sub_invoice(n: int, number: str = "SUB1") -> Edit:
    """Line ``n``'s sub-invoice reference (AFL, BR-FR-MV-03/07)."""
    return (_sum(n), f"after:<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>{number}"
            "</ram:IssuerAssignedID><ram:TypeCode>130</ram:TypeCode><ram:ReferenceTypeCode>AFL"
            "</ram:ReferenceTypeCode></ram:AdditionalReferencedDocument>")


# Line 3 (7.00, S) copied as GROUP line 30 and made its DETAIL sub-line: amounts unchanged
# (GROUP lines are left out of the totals), so the document stays valid.
_GROUP_30: tuple[Edit, ...] = (
    (f"{_L}[3]", "dup"), (_id(3), "set:30"),
    (_id(3), "after:<ram:LineStatusReasonCode>GROUP</ram:LineStatusReasonCode>"),
    (_id(4), _child_of("30")))

# The valid S8 invoice. The GROUP line comes first: BR-FR-MV-12 compares its AFL number with
# every *preceding* IssuerAssignedID. Its VAT total is 0.00 as no breakdown is tagged #SUB1#.
_GROUP_10: tuple[Edit, ...] = (
    (_MODE, "set:S8"), (f"{_L}[1]", "dup"), (_id(1), "set:10"),
    (_id(1), "after:<ram:LineStatusReasonCode>GROUP</ram:LineStatusReasonCode>"),
    (_id(2), _child_of("10")), (_id(3), _child_of("10")), (_id(4), _child_of("10")),
    (f"{_sum(1)}/ram:LineTotalAmount", "set:95.00"),
    (f"{_sum(1)}/ram:LineTotalAmount",
     'after:<ram:TaxTotalAmount currencyID="EUR">0.00</ram:TaxTotalAmount>'))


def _detail_reasons(number: str) -> tuple[Edit, ...]:
    """DETAIL lines' exemption reason prefixed by their sub-invoice number (BR-FR-MV-08)."""
    tag = f"<ram:ExemptionReason>#{number}#</ram:ExemptionReason>"
    return ((f"{_tax(2)}/ram:ExemptionReason", f"set:#{number}#DEBOURS"),
            (f"{_tax(3)}/ram:TypeCode", f"after:{tag}"),
            (f"{_tax(4)}/ram:TypeCode", f"after:{tag}"))


def _multi_vendor(siren: str = "732829320", number: str = "SUB1") -> tuple[Edit, ...]:
    return (_GROUP_10 + _detail_reasons(number) + tuple(_vendor(n, siren) for n in range(1, 5))
            + tuple(_sub_invoice(n, number) for n in range(1, 5)))


MULTI_VENDOR = _multi_vendor()
# The seller's own group must carry the invoice's number as its AFL (BR-FR-MV-11): valid.
MULTI_VENDOR_OWN = _multi_vendor("123456782", "F20260023")
SCAFFOLDS: tuple[tuple[str, tuple[Edit, ...]], ...] = (
    ("group-line-30", _GROUP_30), ("multi-vendor", MULTI_VENDOR),
    ("multi-vendor-own-group", MULTI_VENDOR_OWN))


def _t(family: str, name: str, rules: str, *edits: Edit, on: tuple[Edit, ...] = (),
       base: str = CTC_CII) -> Target:
    """A target on ``base``: the edits ``on`` (a scaffold), then ``edits``."""
    return Target(family, name, frozenset(rules.split()), (base,), (*on, *edits))


def _zero_line(category: str) -> tuple[Edit, ...]:
    """A fourth line of 0.00 in ``category`` (rate 1.00): no breakdown has that category."""
    return ((f"{_L}[3]", "dup"), (_id(4), "set:4"),
            (f"{_L}[4]/ram:SpecifiedLineTradeAgreement/ram:GrossPriceProductTradePrice", "drop"),
            (f"{_L}[4]/ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/"
             "ram:ChargeAmount", "set:0.00"), (f"{_sum(4)}/ram:LineTotalAmount", "set:0.00"),
            (f"{_tax(4)}/ram:CategoryCode", f"set:{category}"),
            (f"{_tax(4)}/ram:RateApplicablePercent", "set:1.00"))


# (name, rules on the EXTENDED base, rules on the CTC-FR base, edits): one break, both bases.
_TWINS: tuple[tuple[str, str, str, tuple[Edit, ...]], ...] = (
    ("line-quantity-dropped", "BR-FXEXT-BR-22 BR-FXEXT-BR-23", "BR-FREXT-BR-22 BR-FREXT-BR-23",
     ((_QTY, "drop"),)),
    ("line-unit-dropped", "BR-FXEXT-BR-23", "BR-FREXT-BR-23", ((_QTY, "noattr:unitCode"),)),
    ("line-net-price-dropped", "BR-FXEXT-BR-26", "BR-FREXT-BR-26",
     ((f"{_L}[3]/ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice", "drop"),)),
    ("doc-charge-without-reason", "BR-FXEXT-BR-38", "BR-FREXT-BR-38",
     ((f"{_CHARGE}/ram:Reason", "drop"), (f"{_CHARGE}/ram:ReasonCode", "drop"))),
    ("line-charge-without-reason", "BR-FXEXT-BR-44", "BR-FREXT-BR-44",
     ((f"{_LINE_CHARGE}/ram:Reason", "drop"),)),
    ("seller-global-id-scheme", "FX-SCH-A-000776", "BR-FREXT-CL-10",
     ((f"{_AGR}/ram:SellerTradeParty/ram:GlobalID", "attr:schemeID=9999"),)),
    ("gross-price-allowance-reason", "FX-SCH-A-001033", "BR-FREXT-CL-19-GP",
     ((f"{_L}[1]/ram:SpecifiedLineTradeAgreement/ram:GrossPriceProductTradePrice/"
       "ram:AppliedTradeAllowanceCharge/ram:ActualAmount",
       "after:<ram:ReasonCode>999</ram:ReasonCode>"),)),
    ("doc-charge-reason-code", "FX-SCH-A-000978", "BR-FREXT-CL-20",
     ((f"{_CHARGE}/ram:ReasonCode", "set:XXX"),)),
    ("doc-charge-reason-5153-vat", "FX-SCH-A-000390", "BR-FREXT-CL-20-TAX",
     ((f"{_CHARGE}/ram:ReasonCode", "attr:listID=5153"), (f"{_CHARGE}/ram:ReasonCode", "set:VAT"))),
    ("doc-charge-reason-list", "FX-NOT-USED", "BR-FREXT-CL-20-LISTID",
     ((f"{_CHARGE}/ram:ReasonCode", "attr:listID=9999"),)),
    ("attachment-mime", "FX-SCH-A-000644", "BR-FREXT-CL-24",
     ((f"{_AGR}/ram:AdditionalReferencedDocument[ram:TypeCode='916']/ram:Name",
       'after:<ram:AttachmentBinaryObject mimeCode="text/plain" filename="a.txt">QQ=='
       "</ram:AttachmentBinaryObject>"),)),
    ("zero-line-L", "BR-FXEXT-AF-01", "BR-FREXT-AF-01", _zero_line("L")),
    ("zero-line-M", "BR-FXEXT-AG-01", "BR-FREXT-AG-01", _zero_line("M")),
    ("buyer-vat-scheme", "BR-FXEXT-03 BR-IC-04 FX-SCH-A-000703", "BR-IC-04",
     ((f"{_AGR}/ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", "attr:schemeID=FC"),)),
    ("due-payable", "BR-FXEXT-CO-16", "BR-CO-16", ((f"{_TOTALS}/ram:DuePayableAmount", "inc"),)),
    ("item-attribute-name-dropped", "BR-FXEXT-BR-54-1", "BR-54-1",
     ((f"{_ATTR}/ram:Description", "drop"),)),
    ("item-attribute-value-and-measure", "BR-FXEXT-BR-54-2", "BR-54-2",
     ((f"{_ATTR}/ram:Value", 'before:<ram:ValueMeasure unitCode="KGM">1</ram:ValueMeasure>'),)),
    # On a 0.00 line, so that no VAT breakdown sum moves.
    ("zero-line-net-dropped", "BR-FXEXT-BR-24", "BR-FREXT-BR-24",
     (*_zero_line("S"), (f"{_sum(4)}/ram:LineTotalAmount", "drop"))),
    ("zero-line-category-dropped", "BR-FXEXT-CO-04", "BR-FREXT-CO-04",
     (*_zero_line("S"), (f"{_tax(4)}/ram:CategoryCode", "drop"))),
    ("incoterms-outside-list", "FX-SCH-A-000320", "BR-FREXT-CL-27",
     ((f"{_AGR}/ram:SellerOrderReferencedDocument", "before:<ram:ApplicableTradeDeliveryTerms>"
       "<ram:DeliveryTypeCode>3</ram:DeliveryTypeCode></ram:ApplicableTradeDeliveryTerms>"),)),
)


_EXT = "Factur-X extension"
_UL = "/*/cac:InvoiceLine"
# A third UBL line of 0.00 (a copy of line 2), so that no sum moves.
_UBL_ZERO_LINE: tuple[Edit, ...] = (
    (f"{_UL}[2]", "dup"), (f"{_UL}[3]/cbc:ID", "set:3"),
    (f"{_UL}[3]/cbc:InvoicedQuantity", "set:0"),
    (f"{_UL}[3]/cbc:LineExtensionAmount", "set:0.00"),
    (f"{_UL}[3]/cac:Price/cbc:PriceAmount", "set:0.00"))
# GROUP 30 > GROUP 31 without a net amount > DETAIL line 3.
_SUB_GROUP: tuple[Edit, ...] = (
    (f"{_L}[3]", "dup"), (_id(4), "set:31"),
    (_status(4), "before:<ram:ParentLineID>30</ram:ParentLineID>"), (_sum(4), "drop"),
    (f"{_L}[5]/ram:AssociatedDocumentLineDocument/ram:ParentLineID", "set:31"))
_MV_GROUP = f"{_L}[1]/ram:SpecifiedLineTradeAgreement/ram:ItemSellerTradeParty"
TARGETS: tuple[Target, ...] = (
    # The unknown subtype on the GROUP line: like GROUP, it keeps the line out of the sums.
    _t(_EXT, "line-subtype-unknown", "BR-FREXT-05", (_status(1), "set:XYZ"),
       on=tuple(e for e in MULTI_VENDOR if e[0] != _MODE)),
    _t(_EXT, "parent-line-without-subtype", "BR-FREXT-06",
       (_id(2), "after:<ram:ParentLineID>1</ram:ParentLineID>")),
    _t(_EXT, "parent-line-unknown", "BR-FREXT-11", (_id(2), _child_of("99"))),
    _t(_EXT, "group-net-not-sum", "BR-FREXT-08",
       (f"{_sum(3)}/ram:LineTotalAmount", "set:8.00"), on=_GROUP_30),
    _t(_EXT, "sub-group-without-net", "BR-FREXT-08 BR-FREXT-12", *_SUB_GROUP, on=_GROUP_30),
    _t("BR-FR", "mv-group-vendor-name-empty", "BR-FR-MV-03",
       (f"{_MV_GROUP}/ram:Name", "set:"), on=MULTI_VENDOR),
    _t("BR-FR", "mv-group-net-not-sum", "BR-FR-MV-05 BR-FREXT-08",
       (f"{_sum(1)}/ram:LineTotalAmount", "set:96.00"), on=MULTI_VENDOR),
    _t("BR-FR", "mv-detail-exemption-prefix", "BR-FR-MV-08",
       (f"{_tax(3)}/ram:ExemptionReason", "set:#SUB2#"), on=MULTI_VENDOR),
    _t("BR-FR", "mv-group-vat-not-sum", "BR-FR-MV-09",
       (f"{_sum(1)}/ram:TaxTotalAmount", "set:1.00"), on=MULTI_VENDOR),
    _t("BR-FR", "mv-group-gross-not-net-plus-vat", "BR-FR-MV-10",
       (f"{_sum(1)}/ram:TaxTotalAmount",
        "after:<ram:GrandTotalAmount>90.00</ram:GrandTotalAmount>"), on=MULTI_VENDOR),
    # A second, empty GROUP line with the same AFL number.
    _t("BR-FR", "mv-two-groups-same-sub-invoice", "BR-FR-MV-12",
       (f"{_L}[1]", "dup"), (_id(2), "set:11"), (f"{_sum(2)}/ram:LineTotalAmount", "set:0.00"),
       on=MULTI_VENDOR),
    _t("BR-FR", "mv-credit-group-without-preceding", "BR-FR-MV-14", (_TYPE, "set:381"),
       on=MULTI_VENDOR),
    _t(_EXT, "group-net-not-sum", "BR-FXEXT-08",
       (f"{_sum(3)}/ram:LineTotalAmount", "set:8.00"), on=_GROUP_30, base=EXT_CII),
    _t(_EXT, "sub-group-without-net", "BR-FXEXT-08 BR-FXEXT-12", *_SUB_GROUP, on=_GROUP_30,
       base=EXT_CII),
    _t(_EXT, "line-total", "BR-FXEXT-CO-10", (f"{_TOTALS}/ram:LineTotalAmount", "inc"),
       base=EXT_CII),
    _t(_EXT, "tax-basis", "BR-FXEXT-CO-13 BR-FXEXT-CO-15",
       (f"{_TOTALS}/ram:TaxBasisTotalAmount", "inc"), base=EXT_CII),
    _t(_EXT, "allowance-total", "BR-FREXT-CO-11", (f"{_TOTALS}/ram:AllowanceTotalAmount", "inc")),
    _t(_EXT, "charge-total", "BR-FREXT-CO-12", (f"{_TOTALS}/ram:ChargeTotalAmount", "inc")),
    _t(_EXT, "note-without-content", "BR-FXEXT-01",
       ("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IncludedNote"
        "[ram:SubjectCode='AAB']/ram:Content", "drop"), base=EXT_CII),
    _t(_EXT, "line-note-without-content", "BR-FXEXT-02",
       (f"{_L}[1]/ram:AssociatedDocumentLineDocument/ram:IncludedNote"
        "[ram:SubjectCode='SUR']/ram:Content", "drop"), base=EXT_CII),
    _t(_EXT, "date-205-too-short", "BR-FXEXT-CII-DT-097a FX-SCH-A-000983",
       (f"{_H}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
        "attr:format=205"), base=EXT_CII),
    *(_t(_EXT, name, rules, on=edits, base=base) for name, ext, ctc, edits in _TWINS
      for base, rules in ((EXT_CII, ext), (CTC_CII, ctc))),
    *(Target(_EXT, name, frozenset(rules.split()), (CTC_UBL,), ubl=edits)
      for name, rules, edits in (
          ("item-property-code-outside-list", "BR-FREXT-04",
           ((f"{_UL}[1]/cac:Item/cac:AdditionalItemProperty/cbc:Name",
             "after:<cbc:NameCode>ZZZZ</cbc:NameCode>"),)),
          ("line-quantity-dropped", "BR-FREXT-22 BR-FREXT-23",
           ((f"{_UL}[1]/cbc:InvoicedQuantity", "drop"),)),
          ("line-unit-dropped", "BR-FREXT-23",
           ((f"{_UL}[1]/cbc:InvoicedQuantity", "noattr:unitCode"),)),
          # BT-131 is mandatory in the UBL schema too: the oracle also reports "schema".
          ("zero-line-net-dropped", "BR-FREXT-24",
           (*_UBL_ZERO_LINE, (f"{_UL}[3]/cbc:LineExtensionAmount", "drop"))),
          ("line-two-vat-categories", "UBL-FREXT-SR-48",
           ((f"{_UL}[1]/cac:Item/cac:ClassifiedTaxCategory", "dup"),)))),
)

# Mutants that found disagreements, each now fixed in ingest and kept as a regression target:
# - breakdown-basis-S/E/K, zero-line-Z/G/O/AE, breakdown-basis-S-ubl, line-subtype-unknown-on-
#   regular-line: ingest added the CEN twin (BR-S-08, BR-Z-01 …) of the EXTENDED rule the
#   official sets run instead (fast_rules.replaced_in now maps BR-FXEXT-S-08b, BR-FREXT-Z-01 …);
# - allowance-total: ingest's BR-FXEXT-CO-13 read BT-107/BT-108 where the official rule sums
#   the allowances and charges themselves (rules._totals);
# - mv-seller-own-group-not-invoice-number: ingest missed BR-FR-MV-11, whose pattern reads
#   the stylesheet's global $sellerID (sch_build now inlines globals in patterns too).
_TAX_HEAD = f"{_H}/ram:ApplicableTradeTax"
REGRESSIONS: tuple[Target, ...] = (
    *(_t(_EXT, f"breakdown-basis-{c}", f"BR-FXEXT-{r}",
         (f"{_TAX_HEAD}[ram:CategoryCode='{c}']/ram:BasisAmount", "inc"))
      for c, r in (("S", "S-08"), ("E", "E-08"), ("K", "IC-08"))),
    *(_t(_EXT, f"zero-line-{c}", f"BR-FREXT-{r}-01", on=_zero_line(c))
      for c, r in (("Z", "Z"), ("G", "G"), ("O", "O"), ("AE", "AE"))),
    Target(_EXT, "breakdown-basis-S-ubl", frozenset({"BR-FREXT-S-09"}), (CTC_UBL,),
           ubl=(("/*/cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount", "inc"),)),
    _t(_EXT, "allowance-total", "BR-FXEXT-CO-11", (f"{_TOTALS}/ram:AllowanceTotalAmount", "inc"),
       base=EXT_CII),
    _t(_EXT, "line-subtype-unknown-on-regular-line", "BR-FREXT-05",
       (_id(1), "after:<ram:LineStatusReasonCode>XYZ</ram:LineStatusReasonCode>")),
    _t("BR-FR", "mv-seller-own-group-not-invoice-number", "BR-FR-MV-11",
       on=_multi_vendor("123456782")),
)
