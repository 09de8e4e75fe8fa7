"""Targeted mutants for the UBL syntax rules (UBL-SR cardinalities), BR-55 and the UBL code
lists (BR-CL: in CII the Factur-X sets name these checks FX-SCH-A-*). The base is the rich
akretion UBL sample (every optional group these rules judge is present), a few also the CEN
example. See :mod:`mutants_targeted` for the edit language."""

from __future__ import annotations

from tests.conformance.mutants_targeted import CEN_UBL, FR_UBL, Target

_SELLER = "/*/cac:AccountingSupplierParty/cac:Party"
_BUYER = "/*/cac:AccountingCustomerParty/cac:Party"
_LINE = "/*/cac:InvoiceLine"
_SUBTOTAL_RATE = "/*/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent"
_REFERENCE = ("/*/cac:ContractDocumentReference",
              "before:<cac:{0}DocumentReference><cbc:ID>R1</cbc:ID></cac:{0}DocumentReference>")


def _sr(rules: str, name: str, *edits: tuple[str, str], cen: bool = False) -> Target:
    return Target("UBL syntax", name, frozenset(rules.split()),
                  (FR_UBL, CEN_UBL) if cen else (FR_UBL,), ubl=edits)


def _cl(rules: str, name: str, *edits: tuple[str, str]) -> Target:
    return Target("code lists", name, frozenset(rules.split()), (FR_UBL,), ubl=edits)


def _ref(kind: str) -> tuple[str, str]:
    return _REFERENCE[0], _REFERENCE[1].format(kind)


TARGETS: tuple[Target, ...] = (
    _sr("UBL-SR-01", "contract-twice", ("/*/cac:ContractDocumentReference", "dup")),
    _sr("UBL-SR-02", "receipt-twice", _ref("Receipt"), _ref("Receipt")),
    _sr("UBL-SR-03", "despatch-twice", _ref("Despatch"), _ref("Despatch")),
    _sr("UBL-SR-56", "originator-twice", _ref("Originator"), _ref("Originator")),
    _sr("UBL-SR-05", "payment-terms-note-twice", ("/*/cac:PaymentTerms/cbc:Note", "dup")),
    _sr("UBL-SR-08", "invoice-period-twice", ("/*/cac:InvoicePeriod", "dup")),
    _sr("UBL-SR-49", "period-description-code-twice",
        ("/*/cac:InvoicePeriod/cbc:DescriptionCode", "dup")),
    _sr("UBL-SR-10", "seller-trading-name-twice", (f"{_SELLER}/cac:PartyName", "dup")),
    _sr("UBL-SR-13", "seller-tax-registration-twice",
        (f"{_SELLER}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID != 'VAT']", "dup")),
    _sr("UBL-SR-16", "buyer-identifier-twice", (f"{_BUYER}/cac:PartyIdentification", "dup"),
        cen=True),
    _sr("UBL-SR-18", "buyer-vat-id-twice",
        (f"{_BUYER}/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID = 'VAT']", "dup")),
    _sr("UBL-SR-40", "buyer-trading-name-twice", (f"{_BUYER}/cac:PartyName", "dup")),
    _sr("UBL-SR-24", "delivery-twice", ("/*/cac:Delivery", "dup")),
    _sr("UBL-SR-25", "deliver-to-name-twice", ("/*/cac:Delivery/cac:DeliveryParty/cac:PartyName",
                                               "dup")),
    _sr("UBL-SR-29", "bank-assigned-creditor-id-twice",
        (f"{_SELLER}/cac:PartyIdentification[cbc:ID/@schemeID = 'SEPA']", "dup")),
    _sr("UBL-SR-39", "project-twice", ("/*/cac:ProjectReference", "dup")),
    _sr("UBL-SR-26 UBL-SR-44", "payment-id-twice",
        ("/*/cac:PaymentMeans/cbc:PaymentID", "sibling:PaymentID=OTHER-REF")),
    _sr("UBL-SR-46 UBL-SR-55", "payment-means-twice", ("/*/cac:PaymentMeans", "dup")),
    _sr("UBL-SR-19 UBL-SR-20 UBL-SR-21", "payee-without-name",
        ("/*/cac:TaxRepresentativeParty", "before:<cac:PayeeParty><cac:PartyIdentification>"
         "<cbc:ID>PAYEE1</cbc:ID></cac:PartyIdentification></cac:PayeeParty>")),
    _sr("UBL-SR-23", "tax-representative-vat-twice",
        ("/*/cac:TaxRepresentativeParty/cac:PartyTaxScheme", "dup")),
    _sr("UBL-SR-30", "allowance-reason-twice",
        ("/*/cac:AllowanceCharge[cbc:ChargeIndicator = 'false']/cbc:AllowanceChargeReason",
         "dup")),
    _sr("UBL-SR-31", "charge-reason-twice",
        ("/*/cac:AllowanceCharge[cbc:ChargeIndicator = 'true']/cbc:AllowanceChargeReason",
         "dup")),
    _sr("UBL-SR-32 BR-S-10", "exemption-reason-twice",
        (_SUBTOTAL_RATE, "after:<cbc:TaxExemptionReason>A</cbc:TaxExemptionReason>"
         "<cbc:TaxExemptionReason>B</cbc:TaxExemptionReason>")),
    # On the foreign base only: with two descriptions the BR-FR-UBL stylesheet stops
    # (XPTY0004 in custom:is-valid-attachment-code), so the oracle has no rule verdict.
    Target("UBL syntax", "document-description-twice", frozenset({"UBL-SR-33"}), (CEN_UBL,),
           ubl=(("/*/cac:AccountingSupplierParty", "before:<cac:AdditionalDocumentReference>"
                 "<cbc:ID>D1</cbc:ID><cbc:DocumentDescription>A</cbc:DocumentDescription>"
                 "<cbc:DocumentDescription>B</cbc:DocumentDescription>"
                 "</cac:AdditionalDocumentReference>"),)),
    _sr("UBL-SR-43", "document-type-not-130-with-scheme",
        ("/*/cac:AdditionalDocumentReference/cbc:DocumentTypeCode", "set:916")),
    _sr("UBL-SR-51", "address-line-twice", (f"{_SELLER}/cac:PostalAddress/cac:AddressLine",
                                            "dup")),
    _sr("UBL-SR-53", "tax-scheme-without-id", (f"{_SELLER}/cac:PartyTaxScheme/cbc:CompanyID",
                                               "drop")),
    _sr("UBL-SR-34", "line-note-twice", (f"{_LINE}/cbc:Note", "dup")),
    _sr("UBL-SR-35", "order-line-reference-twice", (f"{_LINE}/cac:OrderLineReference", "dup")),
    _sr("UBL-SR-36", "line-period-twice", (f"{_LINE}/cac:InvoicePeriod", "dup")),
    _sr("UBL-SR-37", "price-discount-twice", (f"{_LINE}/cac:Price/cac:AllowanceCharge", "dup")),
    _sr("UBL-SR-50", "item-description-twice",
        (f"{_LINE}/cac:Item/cbc:Name", "before:<cbc:Description>A</cbc:Description>"
         "<cbc:Description>B</cbc:Description>")),
    _sr("UBL-SR-52", "line-document-twice", (f"{_LINE}/cac:DocumentReference", "dup")),
    _sr("UBL-SR-06", "preceding-invoice-twice",
        ("/*/cac:BillingReference/cac:InvoiceDocumentReference", "dup")),
    _sr("UBL-SR-07 BR-55", "billing-reference-self-billed-only",
        ("/*/cac:BillingReference/cac:InvoiceDocumentReference",
         "after:<cac:SelfBilledInvoiceDocumentReference><cbc:ID>F1</cbc:ID>"
         "</cac:SelfBilledInvoiceDocumentReference>"),
        ("/*/cac:BillingReference/cac:InvoiceDocumentReference", "drop")),
    _cl("BR-CL-03", "amount-currency-unknown",
        ("/*/cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "attr:currencyID=XXY")),
    _cl("BR-CL-05", "tax-currency-unknown",
        ("/*/cbc:DocumentCurrencyCode", "after:<cbc:TaxCurrencyCode>XXY</cbc:TaxCurrencyCode>")),
    _cl("BR-CL-06", "period-description-code-unknown",
        ("/*/cac:InvoicePeriod/cbc:DescriptionCode", "set:999")),
    _cl("BR-CL-07", "object-scheme-unknown",
        ("/*/cac:AdditionalDocumentReference/cbc:ID", "attr:schemeID=9ZZ")),
    _cl("BR-CL-10", "party-scheme-unknown",
        (f"{_SELLER}/cac:PartyIdentification/cbc:ID[@schemeID = '0009']",
         "attr:schemeID=9998")),
    _cl("BR-CL-13", "classification-list-unknown",
        (f"{_LINE}/cac:Item/cac:CommodityClassification/cbc:ItemClassificationCode",
         "attr:listID=9Z")),
    _cl("BR-CL-15", "origin-country-unknown",
        (f"{_LINE}/cac:Item/cac:OriginCountry/cbc:IdentificationCode", "set:ZZ")),
    _cl("BR-CL-18", "line-category-unknown",
        (f"{_LINE}/cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "set:Q")),
    _cl("BR-CL-19", "allowance-reason-code-unknown",
        ("/*/cac:AllowanceCharge[cbc:ChargeIndicator = 'false']/cbc:AllowanceChargeReason",
         "before:<cbc:AllowanceChargeReasonCode>999</cbc:AllowanceChargeReasonCode>")),
    _cl("BR-CL-20", "charge-reason-code-unknown",
        ("/*/cac:AllowanceCharge[cbc:ChargeIndicator = 'true']/cbc:AllowanceChargeReason",
         "before:<cbc:AllowanceChargeReasonCode>QQQ</cbc:AllowanceChargeReasonCode>")),
    _cl("BR-CL-21", "item-scheme-unknown",
        (f"{_LINE}/cac:Item/cac:StandardItemIdentification/cbc:ID", "attr:schemeID=9998")),
    _cl("BR-CL-22", "exemption-code-unknown",
        (_SUBTOTAL_RATE, "after:<cbc:TaxExemptionReasonCode>VATEX-ZZ"
         "</cbc:TaxExemptionReasonCode>")),
    _cl("BR-CL-24", "attachment-mime-unknown",
        ("/*/cac:AdditionalDocumentReference/cbc:ID", "after:<cac:Attachment>"
         "<cbc:EmbeddedDocumentBinaryObject mimeCode=\"text/html\" filename=\"a.html\">"
         "PGh0bWw+PC9odG1sPg==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment>")),
    _cl("BR-CL-25", "endpoint-scheme-unknown", (f"{_SELLER}/cbc:EndpointID",
                                                "attr:schemeID=9998")),
    _cl("BR-CL-26", "delivery-location-scheme-unknown",
        ("/*/cac:Delivery/cac:DeliveryLocation/cbc:ID", "attr:schemeID=9998")),
)
