"""EN 16931 VAT rules: breakdown consistency (BR-CO-17) and per-category rules.

Categories: S (standard, BR-S-*), Z (zero, BR-Z-*), E (exempt, BR-E-*), AE (reverse charge,
BR-AE-*), K (intra-community, BR-IC-*), G (export, BR-G-*), O (not subject, BR-O-*); for
L (IGIC, BR-AF-*) and M (IPSI, BR-AG-*) the category sums only.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from services.ingest.domain.facts import Facts
from services.ingest.domain.reasons import Reason, reason
from services.ingest.domain.rules import NO_LINES, ZERO, r2

_PREFIX = {"S": "BR-S", "Z": "BR-Z", "E": "BR-E", "AE": "BR-AE", "K": "BR-IC", "G": "BR-G",
           "O": "BR-O"}
# IGIC (L) and IPSI (M): only their category sums (BR-AF-08, BR-AG-08) are written here, for
# UBL (the CEN rules check them; the Factur-X CII ones, measured by the conformance tests, do
# not); the other BR-AF/BR-AG rules run from the generated tables.
_SUMMED = {**_PREFIX, "L": "BR-AF", "M": "BR-AG"}
_PER_RATE = {"S", "L", "M"}
_ZERO_RATED = {"Z", "E", "AE", "K", "G"}
_NEEDS_EXEMPTION = {"E", "AE", "K", "G", "O"}
_NO_EXEMPTION = {"S", "Z"}
# The CEN schematron allows one unit either way (currencies such as HUF round to units).
_TOLERANCE = Decimal(1)


def _used(facts: Facts) -> set[str]:
    used = {ln.category for ln in facts.lines if ln.category}
    used |= {a.category for a in facts.allowances_charges if a.category}
    return used


def _seller_vat(facts: Facts) -> bool:
    seller = facts.seller
    return bool(
        (seller and (seller.party.vat_id or seller.tax_registration))
        or facts.tax_representative_vat
    )


def _breakdowns(facts: Facts) -> Iterable[Reason]:
    for vat in facts.vat:
        if vat.rate is None or vat.taxable is None or vat.tax is None:
            continue
        expected = r2(vat.taxable * vat.rate / 100)
        if abs(expected - vat.tax) > _TOLERANCE:
            yield reason("BR-CO-17", f"VAT {vat.category} {vat.rate}%: {vat.taxable} x rate is "
                         f"{expected}, but the breakdown tax amount is {vat.tax}.")
        category = vat.category or ""
        prefix = _PREFIX.get(category)
        if prefix is None:
            continue
        if category in _ZERO_RATED and vat.tax != 0:
            yield reason(f"{prefix}-09", f"VAT category {category} must carry a zero tax amount.")
        if category in _NEEDS_EXEMPTION and not vat.exemption:
            yield reason(f"{prefix}-10", f"VAT category {category} needs an exemption reason "
                         "(BT-120 or BT-121).")
        if category in _NO_EXEMPTION and vat.exemption:
            yield reason(f"{prefix}-10", f"VAT category {category} must not carry an exemption "
                         "reason.")


def _outside(total: Decimal, taxable: Decimal, slack: Decimal) -> bool:
    """The Factur-X (CII) rules want the rounded sum exactly; the CEN UBL ones accept it
    strictly within a unit, computing ``BT-116 ± 1`` in xs:double (untyped arithmetic in
    XPath 2.0), whose binary value is then compared as a decimal: reproduced here."""
    if not slack:
        return r2(total) != taxable
    low = Decimal(float(taxable) - float(slack))
    high = Decimal(float(taxable) + float(slack))
    return not (low < total < high)


def _category_sums(facts: Facts, profile: str, slack: Decimal,
                   ubl: bool) -> Iterable[Reason]:
    if profile in NO_LINES:
        return
    for vat in facts.vat:
        prefix = (_SUMMED if ubl else _PREFIX).get(vat.category or "")
        if prefix is None or vat.taxable is None:
            continue
        if ubl and vat.category in _PER_RATE and vat.rate is None:
            # The official UBL test is ``every $rate in xs:decimal(cbc:Percent) satisfies …``:
            # true for a breakdown without a rate (BR-48 reports the missing rate).
            continue
        # S, L and M are summed per rate; the other categories have one breakdown each.
        def same(category: str | None, rate: Decimal | None, c: str | None = vat.category,
                 r: Decimal | None = vat.rate) -> bool:
            return category == c and (c not in _PER_RATE or (rate or ZERO) == (r or ZERO))
        total = sum((ln.net or ZERO for ln in facts.lines if same(ln.category, ln.rate)), ZERO)
        for ac in facts.allowances_charges:
            if same(ac.category, ac.rate):
                total += (ac.amount or ZERO) * (1 if ac.charge else -1)
        if _outside(total, vat.taxable, slack):
            yield reason(f"{prefix}-08", f"VAT category {vat.category} {vat.rate or ''}: lines, "
                         f"allowances and charges add up to {r2(total)}, but the taxable amount "
                         f"(BT-116) is {vat.taxable}.")


def _per_category(facts: Facts) -> Iterable[Reason]:
    used = _used(facts)
    broken_down = {v.category for v in facts.vat}
    for category in sorted(c for c in used if c):
        prefix = _PREFIX.get(category)
        if prefix is None:
            continue
        if category not in broken_down:
            yield reason(f"{prefix}-01", f"VAT category {category} is used but has no VAT "
                         "breakdown.")
        if category in {"S", "Z", "E"} and not _seller_vat(facts):
            yield reason(f"{prefix}-02", f"VAT category {category} requires the seller VAT "
                         "identifier, tax registration or tax representative.")
        buyer = facts.buyer.party if facts.buyer else None
        # Reverse charge accepts the buyer's legal registration instead of its VAT id.
        buyer_id = buyer and (buyer.vat_id or (category == "AE" and buyer.legal_id))
        if category in {"AE", "K"} and not (_seller_vat(facts) and buyer_id):
            yield reason(f"{prefix}-02", f"VAT category {category} requires the seller and the "
                         "buyer VAT identifiers.")
    rates = [(ln.category, ln.rate) for ln in facts.lines]
    rates += [(ac.category, ac.rate) for ac in facts.allowances_charges]
    for code, rate in rates:
        if code == "S" and rate is not None and rate <= 0:
            yield reason("BR-S-05", "A line or allowance/charge of category S has a rate of 0.")
        elif code in _ZERO_RATED and rate not in (None, ZERO):
            yield reason(f"{_PREFIX[code]}-05", f"VAT category {code} must have rate 0.")
    if "K" in used | broken_down:
        if not (facts.has_delivery_date or facts.has_invoicing_period):
            yield reason("BR-IC-11", "An intra-community supply needs the actual delivery date "
                         "(BT-72) or the invoicing period (BG-14).")
        if not facts.deliver_to_country:
            yield reason("BR-IC-12", "An intra-community supply needs the deliver-to country "
                         "code (BT-80).")


def vat_reasons(facts: Facts, profile: str, syntax: str = "CII") -> list[Reason]:
    """All VAT rule violations of ``facts`` (deduplicated, in a stable order)."""
    slack = _TOLERANCE if syntax == "UBL" else ZERO
    found = [*_breakdowns(facts), *_category_sums(facts, profile, slack, syntax == "UBL"),
             *_per_category(facts)]
    return list(dict.fromkeys(found))
