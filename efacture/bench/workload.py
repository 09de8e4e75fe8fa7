"""The invoices a run submits: every one valid, transmittable, and with its own number.

Mixes:
- ``corpus``: the corpus's valid files in MANIFEST order, each XML with its invoice number
  replaced; each corpus PDF slot is taken by the synthetic Factur-X (a PDF's embedded XML is
  compressed, so its number cannot be replaced in place). Files the broker would not transmit
  (MINIMUM profile) or whose number cannot be replaced safely are left out (``skipped``).
- ``synthetic``: the synthetic ~30 KB EN 16931 invoice as Factur-X PDF.
- ``both``: the two alternately.

French sellers are submitted under a sandbox tenant of their SIREN (``SIREN + 00010``); the
others under one generic sandbox tenant. The synthetic PDFs come from a pool built before
timing; pool entry ``k % P`` is sent under tenant ``k // P``, so (tenant, number), the
duplicate key of a seller without SIREN, never repeats.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from efacture.bench.synthetic import synthetic_pdf, synthetic_xml

GENERIC_TENANT = "99999999800010"
PDF_POOL = 200
LIMIT = 10 * 1024 * 1024
_PDF_SLOT = "synthetic-pdf"


@dataclass(frozen=True)
class Item:
    tenant: str
    body: bytes
    content_type: str
    message_id: str
    source: str


@dataclass(frozen=True)
class Template:
    """An XML invoice split around its number: ``head + number + tail``."""

    name: str
    head: bytes
    tail: bytes
    tenant: str

    def body(self, number: str) -> bytes:
        return self.head + number.encode() + self.tail


def _split(body: bytes, number: str) -> tuple[bytes, bytes] | None:
    """Cut ``body`` at the document's own number: the first ``>number<`` after the CII
    ExchangedDocument, or the UBL root's first one."""
    needle = b">" + number.encode() + b"<"
    start = body.find(b"ExchangedDocument>")
    at = body.find(needle, max(start, 0))
    if at < 0:
        return None
    return body[:at + 1], body[at + 1 + len(number.encode()):]


def _accepted_number(body: bytes, content_type: str, tenant: str) -> tuple[str | None, str | None]:
    """(number, seller SIREN) when ingest would accept ``body`` for transmission, else (None, _)."""
    from services.ingest.domain.admission import admission_reasons
    from services.ingest.domain.analysis import analyse

    analysis = analyse(body, content_type, sandbox=True, max_bytes=LIMIT)
    if analysis.invoice is None or analysis.errors:
        return None, None
    siren = analysis.invoice.seller.siren
    errors, _ = admission_reasons(analysis, tenant_siret=(siren + "00010") if siren else tenant,
                                  sandbox=True, transmit=True, headers={})
    return (None if errors else analysis.invoice.number), siren


@dataclass
class Workload:
    """``item(i)`` for i in [0, n): built lazily, so a large run holds only the templates."""

    mix: str
    n: int
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6].upper())
    slots: list[Template | str] = field(default_factory=list)
    pdf_pool: list[bytes] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, corpus: Path, mix: str, n: int) -> Workload:
        """Read and check the templates, build the PDF pool. Raises ``ValueError`` on a bad mix."""
        if mix not in ("corpus", "synthetic", "both"):
            raise ValueError(f"unknown mix {mix!r}")
        w = cls(mix, n)
        corpus_slots = w._corpus_slots(corpus) if mix != "synthetic" else []
        if mix == "corpus":
            w.slots = corpus_slots
        elif mix == "synthetic":
            w.slots = [_PDF_SLOT]
        else:
            w.slots = [s for slot in corpus_slots for s in (slot, _PDF_SLOT)]
        pdfs = w._pdf_count()
        if pdfs:
            xml = synthetic_xml(corpus)
            probe = _split(xml, "471102")
            assert probe is not None, "the synthetic invoice's number moved"
            head, tail = probe
            w.pdf_pool = [synthetic_pdf(corpus, head + f"{w.tag}-P{j:05d}".encode() + tail)
                          for j in range(min(pdfs, PDF_POOL))]
        return w

    def _corpus_slots(self, corpus: Path) -> list[Template | str]:
        slots: list[Template | str] = []
        with open(corpus / "MANIFEST.tsv", newline="") as f:
            rows = [r for r in csv.DictReader(f, delimiter="\t") if r["expected"] == "valid"]
        for row in rows:
            if row["path"].lower().endswith(".pdf"):
                slots.append(_PDF_SLOT)
                continue
            body = (corpus / row["path"]).read_bytes()
            number, _ = _accepted_number(body, "application/xml", GENERIC_TENANT)
            cut = _split(body, number) if number else None
            if number is None or cut is None:
                self.skipped.append(row["path"])
                continue
            probe = "PROBE-0000001"
            got, siren = _accepted_number(cut[0] + probe.encode() + cut[1], "application/xml",
                                          GENERIC_TENANT)
            if got != probe:
                self.skipped.append(row["path"])
                continue
            tenant = (siren + "00010") if siren else GENERIC_TENANT
            slots.append(Template(row["path"], cut[0], cut[1], tenant))
        return slots

    def _pdf_count(self, upto: int | None = None) -> int:
        """How many of the first ``upto`` (default n) items are synthetic PDFs."""
        upto = self.n if upto is None else upto
        per_cycle = sum(1 for s in self.slots if s == _PDF_SLOT)
        full, rest = divmod(upto, len(self.slots))
        return full * per_cycle + sum(1 for s in self.slots[:rest] if s == _PDF_SLOT)

    @staticmethod
    def pdf_tenant(k: int) -> str:
        return f"7{k:08d}00010"

    def tenants(self) -> list[str]:
        """Every SIRET this workload submits under (to register as sandbox tenants)."""
        found = {s.tenant for s in self.slots if isinstance(s, Template)}
        pdfs = 2 * self._pdf_count()  # the throughput phase, then at most n more for latency
        if pdfs:
            found.update(self.pdf_tenant(k) for k in range((pdfs - 1) // len(self.pdf_pool) + 1))
        return sorted(found)

    def message_id(self, i: int, phase: str = "t") -> str:
        return f"bench-{self.tag}-{phase}-{i:07d}"

    def item(self, i: int, phase: str = "t") -> Item:
        """Item ``i``; ``phase`` keeps the numbers of two phases of one run apart."""
        slot = self.slots[i % len(self.slots)]
        mid = self.message_id(i, phase)
        if isinstance(slot, Template):
            number = f"{self.tag}{phase.upper()}-{i:07d}"
            return Item(slot.tenant, slot.body(number), "application/xml", mid, slot.name)
        k = self._pdf_count(i) + (self._pdf_count() if phase != "t" else 0)
        pool = len(self.pdf_pool)
        return Item(self.pdf_tenant(k // pool), self.pdf_pool[k % pool], "application/pdf", mid,
                    _PDF_SLOT)
