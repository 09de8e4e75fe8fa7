"""EN 16931 business rules that decide acceptance: mandatory core and totals arithmetic.

Hand-written over :class:`Facts` so one implementation serves CII, UBL and Factur-X. Every
violated rule yields one :class:`Reason` named by the rule id; all of them are reported.
Profiles without lines (MINIMUM, BASIC WL) skip the rules that need lines or BT-106.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from services.ingest.domain.facts import Facts
from services.ingest.domain.reasons import Reason, reason

CENT = Decimal("0.01")
ZERO = Decimal(0)
NO_LINES = frozenset({"MINIMUM", "BASIC WL"})
EXTENDED = frozenset({"EXTENDED", "EXTENDED-CTC-FR"})


def r2(value: Decimal) -> Decimal:
    """Round to 2 decimals, half away from zero, as the standard's calculations do."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _mandatory(facts: Facts, profile: str) -> Iterable[Reason]:
    checks: list[tuple[str, object, str]] = [
        ("BR-01", facts.spec_id, "The specification identifier (BT-24) is missing."),
        ("BR-02", facts.number, "The invoice number (BT-1) is missing."),
        ("BR-03", facts.issue_date, "The issue date (BT-2) is missing or not a valid date."),
        ("BR-04", facts.type_code, "The invoice type code (BT-3) is missing."),
        ("BR-05", facts.currency, "The invoice currency code (BT-5) is missing."),
        ("BR-06", facts.seller and facts.seller.party.name, "The seller name (BT-27) is missing."),
        ("BR-07", facts.buyer and facts.buyer.party.name, "The buyer name (BT-44) is missing."),
        ("BR-08", facts.seller and facts.seller.has_address,
         "The seller postal address (BG-5) is missing."),
        ("BR-09", facts.seller and facts.seller.party.country,
         "The seller country code (BT-40) is missing."),
        ("BR-13", facts.totals.tax_exclusive is not None,
         "The invoice total without VAT (BT-109) is missing."),
        ("BR-14", facts.totals.tax_inclusive is not None,
         "The invoice total with VAT (BT-112) is missing."),
        ("BR-15", facts.totals.payable is not None, "The amount due (BT-115) is missing."),
    ]
    if profile != "MINIMUM":
        checks += [
            ("BR-10", facts.buyer and facts.buyer.has_address,
             "The buyer postal address (BG-8) is missing."),
            ("BR-11", facts.buyer and facts.buyer.party.country,
             "The buyer country code (BT-55) is missing."),
            ("BR-12", facts.totals.line_net is not None,
             "The sum of invoice line net amounts (BT-106) is missing."),
        ]
    if profile not in NO_LINES:
        checks.append(("BR-16", facts.lines, "The invoice has no invoice line (BG-25)."))
    for code, present, message in checks:
        if not present:
            yield reason(code, message)


def _differs(expected: Decimal, actual: Decimal | None, slack: int | None = None) -> bool:
    """``actual`` differs from ``expected``: to the cent, or (EXTENDED) by more than one cent
    per amount summed (``slack``), as the Factur-X EXTENDED rules BR-FXEXT-CO-* allow."""
    if actual is None:
        return False
    if slack is None:
        # As the official tests: the stated amount must equal the rounded computation (an
        # amount with more than 2 decimals never does).
        return r2(expected) != actual
    return abs(actual - r2(expected)) > CENT * slack


def _co(code: str, profile: str) -> str:
    # Factur-X EXTENDED replaces BR-CO-10…13, 15 and 16 by tolerant BR-FXEXT-CO-* variants.
    return code.replace("BR-CO-", "BR-FXEXT-CO-") if profile == "EXTENDED" else code


def _totals(facts: Facts, profile: str, syntax: str) -> Iterable[Reason]:
    t = facts.totals
    allowances = [a.amount for a in facts.allowances_charges if not a.charge and a.amount]
    charges = [a.amount for a in facts.allowances_charges if a.charge and a.amount]
    extended = profile == "EXTENDED"
    n_lines, n_allow, n_charge = len(facts.lines), len(allowances), len(charges)
    every = n_lines + n_allow + n_charge if extended else None
    if profile not in NO_LINES and facts.lines:
        lines = sum((ln.net for ln in facts.lines if ln.net is not None), ZERO)
        # BR-FXEXT-CO-10 also fails when BT-106 is absent (an empty comparison is false).
        if _differs(lines, t.line_net, n_lines if extended else None) or (
                extended and t.line_net is None):
            yield reason(_co("BR-CO-10", profile), f"The sum of line net amounts is {r2(lines)}, "
                         f"but BT-106 says {t.line_net}.")
    if profile != "MINIMUM":
        if _differs(sum(allowances, ZERO), t.allowances, n_allow if extended else None):
            yield reason(_co("BR-CO-11", profile), "Document allowances add up to "
                         f"{sum(allowances, ZERO)}, but BT-107 says {t.allowances}.")
        if _differs(sum(charges, ZERO), t.charges, n_charge if extended else None):
            yield reason(_co("BR-CO-12", profile), "Document charges add up to "
                         f"{sum(charges, ZERO)}, but BT-108 says {t.charges}.")
        # BR-FXEXT-CO-13 sums the amounts themselves (BT-131, BT-92, BT-99 and the logistics
        # charges, each sum rounded) where BR-CO-13 reads the totals BT-106, BT-107, BT-108.
        if extended:
            base: Decimal | None = r2(sum((ln.net or ZERO for ln in facts.lines), ZERO))
            expected = (base or ZERO) - r2(sum(allowances, ZERO)) + r2(sum(charges, ZERO))
        else:
            base = t.line_net
            expected = (base or ZERO) - (t.allowances or ZERO) + (t.charges or ZERO)
        if base is not None and _differs(expected, t.tax_exclusive, every):
            terms = "Σ BT-131 - Σ BT-92 + Σ BT-99" if extended else "BT-106 - BT-107 + BT-108"
            yield reason(_co("BR-CO-13", profile), f"{terms} is {r2(expected)}, but the "
                         f"total without VAT (BT-109) is {t.tax_exclusive}.")
        vat_sum = sum((v.tax for v in facts.vat if v.tax is not None), ZERO)
        if facts.vat and _differs(vat_sum, t.vat if t.vat is not None else ZERO):
            yield reason("BR-CO-14", f"The VAT breakdown amounts add up to {r2(vat_sum)}, "
                         f"but the VAT total (BT-110) is {t.vat}.")
    if t.tax_exclusive is not None:
        expected = t.tax_exclusive + (t.vat or ZERO)
        if _differs(expected, t.tax_inclusive, every):
            yield reason(_co("BR-CO-15", profile), f"BT-109 + BT-110 is {r2(expected)}, "
                         f"but the total with VAT (BT-112) is {t.tax_inclusive}.")
    if t.tax_inclusive is not None and profile != "MINIMUM":
        # MINIMUM carries no prepaid amount (BT-113), so BT-115 may legitimately differ.
        expected = t.tax_inclusive - (t.prepaid or ZERO) + (facts.rounding or ZERO)
        # Official: exact in CII, and in UBL when nothing is prepaid; else to the cent.
        exact = (syntax == "CII" or t.prepaid is None) and t.payable is not None \
            and expected != t.payable
        if exact or _differs(expected, t.payable):
            yield reason(_co("BR-CO-16", profile), f"BT-112 - BT-113 + BT-114 is {r2(expected)}, "
                         f"but the amount due (BT-115) is {t.payable}.")


def _other(facts: Facts, profile: str) -> Iterable[Reason]:
    seller = facts.seller
    if seller and not (seller.identifiers or seller.party.legal_id or seller.party.vat_id):
        yield reason("BR-CO-26", "The seller has no identifier (BT-29), legal registration "
                     "identifier (BT-30) nor VAT identifier (BT-31).")
    if profile != "MINIMUM" and not facts.vat:
        yield reason("BR-CO-18", "The invoice has no VAT breakdown (BG-23).")
    if profile not in EXTENDED:
        yield from _decimals(facts)
    if profile == "XRECHNUNG":
        yield from _xrechnung(facts)
    if facts.type_code == "381" and facts.totals.payable is not None and facts.totals.payable < 0:
        yield reason("credit-note-sign", "A credit note (381) with a negative amount due "
                     "reverses the credit; issue an invoice (380) instead.")


def _xrechnung(facts: Facts) -> Iterable[Reason]:
    """The XRechnung CIUS rules that most often decide acceptance (BR-DE-1, -2, -15)."""
    if not facts.has_payment_means:
        yield reason("BR-DE-1", "An XRechnung invoice must carry payment instructions (BG-16).")
    if not facts.has_seller_contact:
        yield reason("BR-DE-2", "An XRechnung invoice must carry the seller contact (BG-6).")
    if not facts.has_buyer_reference:
        yield reason("BR-DE-15", "An XRechnung invoice must carry the buyer reference (BT-10).")


_DEC = {
    "LineTotalAmount": "BR-DEC-09", "LineExtensionAmount": "BR-DEC-09",
    "AllowanceTotalAmount": "BR-DEC-10", "ChargeTotalAmount": "BR-DEC-11",
    "TaxBasisTotalAmount": "BR-DEC-12", "TaxExclusiveAmount": "BR-DEC-12",
    "TaxTotalAmount": "BR-DEC-13", "TaxAmount": "BR-DEC-13",
    "GrandTotalAmount": "BR-DEC-14", "TaxInclusiveAmount": "BR-DEC-14",
    "TotalPrepaidAmount": "BR-DEC-16", "PrepaidAmount": "BR-DEC-16",
    "DuePayableAmount": "BR-DEC-18", "PayableAmount": "BR-DEC-18",
}


def _decimals(facts: Facts) -> Iterable[Reason]:
    for label, value in facts.amounts:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2 and value != r2(value):
            code = "BR-DEC-23" if label.startswith("line ") else _DEC.get(label, "BR-DEC")
            yield reason(code, f"The amount {label} = {value} has more than 2 decimals.")


def core_reasons(facts: Facts, profile: str, syntax: str = "CII") -> list[Reason]:
    """Mandatory-element (BR-01…BR-16), totals (BR-CO-10…16) and decimals (BR-DEC) rules."""
    return [*_mandatory(facts, profile), *_totals(facts, profile, syntax),
            *_other(facts, profile)]
