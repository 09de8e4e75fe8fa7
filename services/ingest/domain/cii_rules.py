"""The currencyID restriction of the Factur-X profiles, as a rejection whatever the tenant.

The Factur-X BASIC and EN16931 stylesheets refuse ``@currencyID`` on any amount but BT-110/111
("Attribute @currencyID marked as not used in the given context", reported here under the id
the oracle harness gives those unnamed assertions, ``FX-NOT-USED``). Ingest has always
refused it for every tenant (it was CII-DT-031 of the CEN CII binding), so it stays an error,
while the rest of the generated Factur-X rules bind only transmissions (:mod:`admission`).
"""

from __future__ import annotations

from lxml import etree

from services.ingest.domain.cii import all_nodes
from services.ingest.domain.reasons import Reason, reason

_CURRENCY_ALLOWED = frozenset({"TaxTotalAmount"})
_CURRENCY_PATH = "//ram:*[@currencyID]"


def cii_syntax_reasons(root: etree._Element, profile: str) -> list[Reason]:
    """``FX-NOT-USED`` for each amount but BT-110/111 carrying a currencyID (BASIC, EN16931)."""
    if profile not in ("BASIC", "EN16931"):
        return []
    found: list[Reason] = []
    for element in all_nodes(root, _CURRENCY_PATH):
        local = etree.QName(element).localname
        if local.endswith("Amount") and local not in _CURRENCY_ALLOWED:
            found.append(reason("FX-NOT-USED", "Attribute @currencyID' marked as not used in "
                                f"the given context ({local}).",
                                root.getroottree().getpath(element)))
    return found[:20]
