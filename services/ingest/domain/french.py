"""French rules for French sellers: SIREN/SIRET check digits and invoice number syntax (G1.05)."""

from __future__ import annotations

import re

from services.ingest.domain.invoice import Invoice, Party
from services.ingest.domain.reasons import Reason, reason
from services.ingest.domain.siret import siren_ok, siret_ok

_NUMBER = re.compile(r"[A-Za-z0-9 +_/-]{1,35}")


def is_french_seller(invoice: Invoice) -> bool:
    """A seller is French when it has a SIREN/SIRET or an FR VAT number."""
    seller = invoice.seller
    return bool(
        seller.siren or seller.siret or (seller.vat_id or "").upper().startswith("FR")
    )


def _id_reasons(party: Party, role: str, path: str) -> list[Reason]:
    found: list[Reason] = []
    if party.siret is not None and not siret_ok(party.siret):
        found.append(reason("FR-SIRET-checksum",
                            f"The {role} SIRET {party.siret} fails its check digit.", path))
    elif party.siret is None and party.siren is not None and not siren_ok(party.siren):
        found.append(reason("FR-SIREN-checksum",
                            f"The {role} SIREN {party.siren} fails its check digit.", path))
    return found


def french_reasons(invoice: Invoice, *, sandbox: bool) -> tuple[list[Reason], list[Reason]]:
    """``(errors, warnings)`` of the French rules; empty when the seller is not French.

    A failed check digit is an error, or a warning for a sandbox tenant (public samples carry
    fake identifiers); a malformed invoice number is always an error.
    """
    if not is_french_seller(invoice):
        return [], []
    digits = _id_reasons(invoice.seller, "seller", "seller/legal-id")
    digits += _id_reasons(invoice.buyer, "buyer", "buyer/legal-id")
    errors: list[Reason] = []
    if not _NUMBER.fullmatch(invoice.number):
        errors.append(reason(
            "FR-invoice-number",
            f"The invoice number {invoice.number[:50]!r} must be at most 35 letters, digits, "
            "spaces and - + _ /.",
            "invoice/number",
        ))
    if sandbox:
        return errors, digits
    return errors + digits, []
