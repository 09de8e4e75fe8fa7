"""The CDAR documents the simulator emits as inbound lifecycle flows (BR-FR-CDV valid).

The platform (role ``WK``) sends; a transmission-phase status (200–203, 213, 221, 501) is
issued by the platform itself, a processing-phase one (204–212 …) by the simulated buyer
(role ``BY``); the seller (``SE``, with its SIREN and electronic address) receives. Statuses
that need a reason (BR-FR-CDV-15) get one the rules allow for that code (CL-09); a 212 gets
one ``MEN`` amount (BR-FR-CDV-14).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from services.transmit.domain.cdar import (
    TRANSMISSION_CODES,
    CdarStatus,
    Party,
    Payment,
    Reason,
    build_cdar,
    to_bytes,
)
from services.transmit.pa_sim.invoice_facts import InvoiceFacts
from services.transmit.pa_sim.labels import lifecycle_label

BUYER_SIREN: Final = "552081317"  # the simulated buyer
DEFAULT_REASONS: Final[dict[int, str]] = {206: "AUTRE", 207: "AUTRE", 208: "JUSTIF_ABS",
                                          210: "DOUBLON", 213: "REJ_SEMAN", 221: "ROUTAGE_ERR",
                                          501: "IRR_SYNTAX"}


def lifecycle_cdar(code: int, facts: InvoiceFacts, *, document_id: str, at: datetime) -> bytes:
    """The CDAR bytes reporting ``code`` about the invoice described by ``facts``."""
    issuer = Party(role="WK") if code in TRANSMISSION_CODES else Party(role="BY",
                                                                       siren=BUYER_SIREN)
    reason = DEFAULT_REASONS.get(code)
    status = CdarStatus(
        document_id=document_id, issued_at=at, code=code, invoice_number=facts.number,
        invoice_date=facts.issue_date, seller_siren=facts.seller_siren,
        sender=Party(role="WK"), issuer=issuer,
        recipient=Party(role="SE", siren=facts.seller_siren, uri=facts.seller_siren),
        reasons=(Reason(reason, f"{lifecycle_label(code)} (simulé)"),) if reason else (),
        payments=(Payment(Decimal("1.00"), Decimal("20")),) if code == 212 else (),
    )
    return to_bytes(build_cdar(status))
