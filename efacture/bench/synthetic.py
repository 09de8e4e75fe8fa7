"""A synthetic ~30 KB EN 16931 CII invoice and its Factur-X PDF (the ideas of benchmarks/ingest.py).

The base is a corpus EN 16931 CII invoice (German seller, so no SIREN ties it to a tenant)
with its lines repeated and totals scaled; the PDF wraps it with ``facturx`` (~20 ms each,
so the benchmark builds a pool before timing).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

from lxml import etree

from services.ingest.domain.syntax import CII_NS, RAM_NS

BASE_XML = Path("cii") / "zfc-xmlrechnung__EN16931_Einfach.cii.xml"
BASE_PDF = Path("invalid") / "horstoeko__pdf_plain.pdf"
_SCALED = ("LineTotalAmount", "TaxBasisTotalAmount", "TaxTotalAmount", "GrandTotalAmount",
           "DuePayableAmount", "CalculatedAmount", "BasisAmount")


def synthetic_xml(corpus: Path, target: int = 30_000) -> bytes:
    """The base invoice with its lines repeated until it weighs about ``target`` bytes."""
    root = etree.fromstring((corpus / BASE_XML).read_bytes())
    ns = {"rsm": CII_NS, "ram": RAM_NS}
    tx = root.find("rsm:SupplyChainTradeTransaction", ns)
    assert tx is not None
    lines = tx.findall("ram:IncludedSupplyChainTradeLineItem", ns)
    copies = 1
    while len(etree.tostring(root)) < target:
        for line in lines:
            clone = copy.deepcopy(line)
            line_id = clone.find("ram:AssociatedDocumentLineDocument/ram:LineID", ns)
            if line_id is not None:
                line_id.text = f"{copies}-{line_id.text}"
            lines[-1].addnext(clone)
        copies += 1
    factor = Decimal(copies)
    settlement = tx.find("ram:ApplicableHeaderTradeSettlement", ns)
    assert settlement is not None
    for element in settlement.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname in _SCALED:
            element.text = str(Decimal(element.text or "0") * factor)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def synthetic_pdf(corpus: Path, xml: bytes) -> bytes:
    """``xml`` embedded as factur-x.xml in a small PDF."""
    import facturx

    return bytes(facturx.generate_from_binary(
        (corpus / BASE_PDF).read_bytes(), xml, flavor="factur-x", level="en16931",
        check_xsd=False))
