"""CEN syntax-binding rules of the CII syntax that the XSD does not express."""

from __future__ import annotations

from lxml import etree

from services.ingest.domain.cii import all_nodes
from services.ingest.domain.reasons import Reason, reason

_CURRENCY_ALLOWED = frozenset({"TaxTotalAmount"})
_CURRENCY_PATH = "//ram:*[@currencyID]"


def cii_syntax_reasons(root: etree._Element, profile: str) -> list[Reason]:
    """CEN CII syntax binding rules; for now CII-DT-031 (currencyID only on BT-110/111)."""
    # The CEN schematron binds EN 16931 and its CIUS/BASIC subset, not MINIMUM/BASIC WL/EXTENDED.
    if profile not in ("BASIC", "EN16931", "XRECHNUNG", "PEPPOL"):
        return []
    found: list[Reason] = []
    for element in all_nodes(root, _CURRENCY_PATH):
        local = etree.QName(element).localname
        if local.endswith("Amount") and local not in _CURRENCY_ALLOWED:
            found.append(reason("CII-DT-031", f"The amount {local} must not carry a currencyID.",
                                root.getroottree().getpath(element)))
    return found[:20]
