"""Generated invoices, valid by construction: a valid base with new lines, VAT and totals.

Each scenario states its lines (VAT category, rate, quantity, unit price) and its document
level allowances and charges; :func:`generated` rewrites each base (CII and UBL, French and
foreign sellers: the bases of :mod:`mutants`) with them, then computes what EN 16931 demands:
line net amounts, the VAT breakdown per category and rate (basis, tax rounded half-up to the
cent, the exemption reason where the category needs one) and the document totals. The parties,
references and payment terms stay the base's, so the French requirements (BR-FR) keep holding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from tests.conformance.invoice_builder import Scenario, cii_invoice, ubl_invoice
from tests.conformance.mutants import BASES, NS, base_xml

# Bases whose seller is French (BR-FR applies): the akretion samples.
FRENCH_BASES = frozenset(path for path, _ in BASES if "akretion" in path)
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("S20", (("S", "20", "3", "10.00"), ("S", "20", "1", "99.99"))),
    Scenario("S20-S5.5", (("S", "20", "2", "12.50"), ("S", "5.5", "7", "3.33"))),
    Scenario("S10-Z", (("S", "10", "1", "100.00"), ("Z", "0", "5", "2.20"))),
    Scenario("S20-E", (("S", "20", "1", "50.00"), ("E", "0", "2", "30.00"))),
    Scenario("S20-allowance", (("S", "20", "4", "25.00"),), ((False, "S", "20", "5.00"),)),
    Scenario("S-charge-allowance", (("S", "20", "2", "19.99"), ("S", "5.5", "3", "7.10")),
             ((True, "S", "5.5", "2.50"), (False, "S", "20", "1.99"))),
    Scenario("many-lines", tuple(("S", rate, str(q), f"{q * 1.37:.2f}")
                                 for q, rate in zip(range(1, 13), ("20", "10", "5.5") * 4,
                                                    strict=True))),
    Scenario("E-only", (("E", "0", "1", "120.00"),)),
    Scenario("rounding", (("S", "20", "3", "0.35"), ("S", "5.5", "7", "0.13"),
                          ("S", "10", "1", "0.05"))),
    # IGIC (L) and IPSI (M), Canary Islands and Ceuta/Melilla: not French VAT categories.
    Scenario("L-M", (("L", "7", "2", "15.50"), ("S", "20", "1", "40.00"), ("L", "3", "1", "9.99"),
                     ("M", "4", "3", "12.00")), ((False, "L", "7", "1.00"),), foreign=True),
    Scenario("M-L", (("M", "4", "3", "12.00"), ("L", "7", "1", "8.00")),
             ((True, "M", "4", "2.00"),), foreign=True),
)


@dataclass(frozen=True)
class Generated:
    """One generated invoice."""

    base: str
    scenario: str
    body: bytes

    @property
    def label(self) -> str:
        return f"{self.base}::{self.scenario}"


def generated(corpus: Path) -> Iterator[Generated]:
    """Every scenario on every base."""
    for path, fix in BASES:
        xml = base_xml(corpus, path, fix)
        cii = b"CrossIndustryInvoice" in xml[:400]
        for s in SCENARIOS:
            root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False))
            if s.foreign and path in FRENCH_BASES:
                continue
            if cii and root.find("rsm:SupplyChainTradeTransaction/"
                                 "ram:IncludedSupplyChainTradeLineItem", NS) is None:
                continue  # BASIC WL carries no lines
            (cii_invoice if cii else ubl_invoice)(root, s)
            yield Generated(path, s.name, etree.tostring(root, xml_declaration=True,
                                                         encoding="UTF-8"))
