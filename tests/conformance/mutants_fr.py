"""Targeted mutants for the French rules (XP Z12-012 BR-FR): each a valid French base
(akretion CII and UBL) with one break, naming the rules it must make the oracle report.
See :mod:`mutants_targeted` for the edit language."""

from __future__ import annotations

from tests.conformance.mutants_targeted import FR_CII, FR_UBL, Edit, Target

_ED = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument"
_MODE = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/ram:BusinessProcessSpecified" \
        "DocumentContextParameter/ram:ID"
_TX = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
_AGR = f"{_TX}/ram:ApplicableHeaderTradeAgreement"
_SET = f"{_TX}/ram:ApplicableHeaderTradeSettlement"
_LINE = f"{_TX}/ram:IncludedSupplyChainTradeLineItem"
_SELLER = "/*/cac:AccountingSupplierParty/cac:Party"
_BUYER = "/*/cac:AccountingCustomerParty/cac:Party"


def _t(name: str, rules: str, cii: tuple[Edit, ...] = (), ubl: tuple[Edit, ...] = ()) -> Target:
    bases = tuple(b for b, e in ((FR_CII, cii), (FR_UBL, ubl)) if e)
    return Target("BR-FR", name, frozenset(rules.split()), bases, cii, ubl)


def _cii_note(subject: str, content: str) -> Edit:
    return (f"{_ED}/ram:IncludedNote[last()]",
            f"after:<ram:IncludedNote><ram:Content>{content}</ram:Content>"
            f"<ram:SubjectCode>{subject}</ram:SubjectCode></ram:IncludedNote>")


def _ubl_note(subject: str, content: str) -> Edit:
    return ("/*/cbc:Note[last()]", f"after:<cbc:Note>#{subject}#{content}</cbc:Note>")


def _cii_ref(where: str, kind: str, value: str = "REF1", extra: str = "") -> Edit:
    return (where, f"after:<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>{value}"
            f"</ram:IssuerAssignedID><ram:TypeCode>130</ram:TypeCode>{extra}"
            f"<ram:ReferenceTypeCode>{kind}</ram:ReferenceTypeCode>"
            "</ram:AdditionalReferencedDocument>")


_CII_REF = f"{_AGR}/ram:AdditionalReferencedDocument[last()]"
_UBL_REF = "/*/cac:AdditionalDocumentReference[last()]"
_LISIBLE_CII = (_CII_REF, "after:<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>PDF1"
                "</ram:IssuerAssignedID><ram:TypeCode>916</ram:TypeCode><ram:Name>LISIBLE"
                "</ram:Name></ram:AdditionalReferencedDocument>")
_LISIBLE_UBL = (_UBL_REF, "after:<cac:AdditionalDocumentReference><cbc:ID>PDF1</cbc:ID>"
                "<cbc:DocumentDescription>LISIBLE</cbc:DocumentDescription>"
                "</cac:AdditionalDocumentReference>")
_AFL_UBL = (_UBL_REF, "after:<cac:AdditionalDocumentReference><cbc:ID schemeID=\"AFL\">SUB1"
            "</cbc:ID><cbc:DocumentTypeCode>130</cbc:DocumentTypeCode>"
            "</cac:AdditionalDocumentReference>")
_CII_ENDPOINT = f"{_AGR}/ram:SellerTradeParty/ram:URIUniversalCommunication/ram:URIID"
_CII_BUYER_ENDPOINT = f"{_AGR}/ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID"
_CII_QTY = f"{_LINE}/ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"
_CII_PRICE = f"{_LINE}/ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/" \
             "ram:ChargeAmount"
_CII_LINE_RATE = f"{_LINE}/ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/" \
                 "ram:RateApplicablePercent"
TARGETS: tuple[Target, ...] = (
    _t("note-subject-twice", "BR-FR-06",
       cii=((f"{_ED}/ram:IncludedNote[ram:SubjectCode='PMT']", "dup"),),
       ubl=(("/*/cbc:Note[starts-with(., '#PMT#')]", "dup"),)),
    # The same requirement is BR-FR-31 in the CII stylesheet, BR-FR-30 in the UBL one.
    _t("bar-note-twice", "BR-FR-31", cii=(_cii_note("BAR", "B2C"), _cii_note("BAR", "B2BINT"))),
    _t("bar-note-twice", "BR-FR-30", ubl=(_ubl_note("BAR", "B2C"), _ubl_note("BAR", "B2BINT"))),
    _t("bar-b2b-buyer-siren-short", "BR-FR-11",
       cii=(_cii_note("BAR", "B2B"),
            (f"{_AGR}/ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID", "set:1234")),
       ubl=(_ubl_note("BAR", "B2B"), (f"{_BUYER}/cac:PartyLegalEntity/cbc:CompanyID",
                                      "set:1234"))),
    _t("bar-b2b-buyer-endpoint", "BR-FR-21",
       cii=(_cii_note("BAR", "B2B"), (_CII_BUYER_ENDPOINT, "attr:schemeID=0225")),
       ubl=(_ubl_note("BAR", "B2B"), (f"{_BUYER}/cbc:EndpointID", "set:111222333"))),
    _t("bar-b2b-self-billed-seller-endpoint", "BR-FR-22",
       cii=(_cii_note("BAR", "B2B"), (f"{_ED}/ram:TypeCode", "set:389"),
            (_CII_ENDPOINT, "attr:schemeID=0225")),
       ubl=(_ubl_note("BAR", "B2B"), ("/*/cbc:InvoiceTypeCode", "set:389"),
            (f"{_SELLER}/cbc:EndpointID", "set:111222333_1"))),
    _t("two-readable-copies", "BR-FR-18", cii=(_LISIBLE_CII, _LISIBLE_CII),
       ubl=(_LISIBLE_UBL, _LISIBLE_UBL)),
    _t("endpoint-0225-bad-format", "BR-FR-23",
       cii=((_CII_ENDPOINT, "attr:schemeID=0225"), (_CII_ENDPOINT, "set:bad id!")),
       ubl=((f"{_SELLER}/cbc:EndpointID", "set:bad id!"),)),
    _t("endpoint-too-long", "BR-FR-25",
       cii=((_CII_ENDPOINT, "set:" + "a" * 110 + "@seller.example.com"),),
       ubl=((f"{_SELLER}/cbc:EndpointID", "set:999999998_" + "a" * 120),)),
    _t("private-id-0224-bad-format", "BR-FR-24",
       cii=((f"{_AGR}/ram:SellerTradeParty/ram:GlobalID", "attr:schemeID=0224"),
            (f"{_AGR}/ram:SellerTradeParty/ram:GlobalID", "set:bad id!")),
       ubl=((f"{_SELLER}/cac:PartyIdentification/cbc:ID[@schemeID='0224']", "set:bad id!"),)),
    _t("private-id-0224-too-long", "BR-FR-26",
       cii=((f"{_AGR}/ram:SellerTradeParty/ram:GlobalID", "attr:schemeID=0224"),
            (f"{_AGR}/ram:SellerTradeParty/ram:GlobalID", "set:" + "A" * 101)),
       ubl=((f"{_SELLER}/cac:PartyIdentification/cbc:ID[@schemeID='0224']",
             "set:" + "A" * 101),)),
    _t("item-attribute-name-empty", "BR-FR-27",
       cii=((f"{_LINE}/ram:SpecifiedTradeProduct/ram:ApplicableProductCharacteristic/"
             "ram:Description", "set: "),)),
    _t("item-attribute-value-and-measure", "BR-FR-28",
       cii=((f"{_LINE}/ram:SpecifiedTradeProduct/ram:ApplicableProductCharacteristic/"
             "ram:Value", "before:<ram:ValueMeasure unitCode=\"KGM\">1</ram:ValueMeasure>"),)),
    # In UBL two invoiced-object references (type 130) break UBL-SR-04 before any BR-FR rule.
    _t("header-afl-twice", "BR-FR-29", cii=(_cii_ref(_CII_REF, "AFL"), _cii_ref(_CII_REF, "AFL"))),
    _t("header-afl-twice", "UBL-SR-04", ubl=(_AFL_UBL, _AFL_UBL)),
    _t("global-discount-credit-without-contract", "BR-FR-CO-03",
       cii=((f"{_ED}/ram:TypeCode", "set:262"), (f"{_AGR}/ram:ContractReferencedDocument",
                                                 "drop"))),
    _t("corrective-without-preceding", "BR-FR-CO-04",
       cii=((f"{_ED}/ram:TypeCode", "set:384"), (f"{_SET}/ram:InvoiceReferencedDocument",
                                                 "drop")),
       ubl=(("/*/cbc:InvoiceTypeCode", "set:384"), ("/*/cac:BillingReference", "drop"),
            ("/*/cac:BillingReference", "drop"))),
    _t("credit-without-preceding", "BR-FR-CO-05",
       cii=((f"{_ED}/ram:TypeCode", "set:381"), (f"{_SET}/ram:InvoiceReferencedDocument",
                                                 "drop"))),
    _t("final-after-deposit-typed-deposit", "BR-FR-CO-08",
       cii=((_MODE, "set:B4"), (f"{_ED}/ram:TypeCode", "set:386")),
       ubl=(("/*/cbc:ProfileID", "set:B4"), ("/*/cbc:InvoiceTypeCode", "set:386"))),
    _t("paid-mode-unpaid", "BR-FR-CO-09", cii=((_MODE, "set:B2"),),
       ubl=(("/*/cbc:ProfileID", "set:B2"),)),
    _t("quantity-5-decimals", "BR-FR-DEC-02", cii=((_CII_QTY, "set:1.00001"),),
       ubl=(("/*/cac:InvoiceLine/cbc:InvoicedQuantity", "set:1.00001"),)),
    _t("price-7-decimals", "BR-FR-DEC-03", cii=((_CII_PRICE, "text+:001"),),
       ubl=(("/*/cac:InvoiceLine/cac:Price/cbc:PriceAmount", "text+:0000001"),)),
    _t("line-rate-3-decimals", "BR-FR-DEC-04", cii=((_CII_LINE_RATE, "text+:0"),),
       ubl=(("/*/cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", "text+:0"),)),
    _t("single-vat-group-without-representative", "BR-FR-CO-15",
       cii=((f"{_AGR}/ram:SellerTradeParty/ram:GlobalID", "attr:schemeID=0231"),
            (f"{_AGR}/ram:SellerTaxRepresentativeTradeParty", "drop")),
       ubl=((f"{_SELLER}/cac:PartyIdentification/cbc:ID", "attr:schemeID=0231"),
            ("/*/cac:TaxRepresentativeParty", "drop"))),
    _t("multi-vendor-without-group-line", "BR-FR-MV-02", cii=((_MODE, "set:S8"),),
       ubl=(("/*/cbc:ProfileID", "set:S8"),)),
    _t("multi-vendor-self-billed", "BR-FR-MV-13",
       cii=((_MODE, "set:S8"), (f"{_ED}/ram:TypeCode", "set:389")),
       ubl=(("/*/cbc:ProfileID", "set:S8"), ("/*/cbc:InvoiceTypeCode", "set:389"))),
)
