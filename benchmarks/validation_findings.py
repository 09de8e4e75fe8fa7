"""Every finding of ingest's analysis, for a differential check of a speed change.

Usage: ``python benchmarks/validation_findings.py OUT.json`` writes, for every corpus file,
every conformance mutant (targeted ones included), generated invoice and mutant of a
generated invoice: the analysis's errors, warnings and strict findings (code, message,
location) and the hits of *every* rule set of the document's syntax run on it (rule, flag,
message, location), not only the sets that apply.
``python benchmarks/validation_findings.py --compare A.json B.json`` prints the
documents whose findings differ (exit 1 when any).

To compare a change with the code before it, run this script once from a copy of the old
tree (``git archive HEAD | tar -x -C /tmp/base``, with ``../shared`` beside it, and this
script copied in: it imports the modules of the tree it lives in) and once from the
working tree.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CORPUS = REPO.parent / "shared" / "corpus"
LIMIT = 10 * 1024 * 1024


def documents() -> Iterator[tuple[str, bytes]]:
    """(label, body) of every document judged."""
    from tests.conformance.generated import generated
    from tests.conformance.mutants import mutants, mutate
    from tests.conformance.mutants_fr import TARGETS as FR_TARGETS
    from tests.conformance.mutants_targeted import targeted
    from tests.conformance.mutants_ubl import TARGETS as UBL_TARGETS

    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.suffix.lower() in (".xml", ".pdf"):
            yield f"corpus/{path.relative_to(CORPUS)}", path.read_bytes()
    for m in mutants(CORPUS):
        yield f"mutant/{m.label}", m.body
    for _target, m in targeted(CORPUS, FR_TARGETS + UBL_TARGETS):
        yield f"targeted/{m.label}", m.body
    for g in generated(CORPUS):
        yield f"generated/{g.label}", g.body
        for m in mutate(g.base, g.body):
            yield f"generated-mutant/{m.label}@{g.scenario}", m.body


def findings(body: bytes) -> dict[str, object]:
    """The analysis's reasons and the hits of every set of the syntax."""
    from services.ingest.domain import sch_engine, sch_rules
    from services.ingest.domain.analysis import analyse
    from services.ingest.domain.syntax import detect
    from services.ingest.domain.xmlsafe import parse_xml

    out: dict[str, object] = {}
    for sandbox in (False, True):
        a = analyse(body, None, sandbox=sandbox, max_bytes=LIMIT)
        out[f"analysis sandbox={sandbox}"] = {
            kind: [r.model_dump(mode="json") for r in reasons]
            for kind, reasons in (("errors", a.errors), ("warnings", a.warnings),
                                  ("strict", a.strict))}
        out[f"invoice sandbox={sandbox}"] = a.invoice.model_dump(mode="json") \
            if a.invoice is not None else None
        xml = a.xml
    if xml is None:
        return out
    root, _ = parse_xml(xml)
    detected = detect(root)[0] if root is not None else None
    if root is None or detected is None:
        return out
    ubl = detected.syntax == "UBL"
    indexed = sch_engine.index_document(root)
    for name in sch_rules.RULES:
        if name.endswith("-UBL") == ubl:
            out[f"set {name}"] = [[h.rule, h.flag, h.message, h.location]
                                  for h in sch_engine.run(name, root, indexed)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Every finding of ingest's analysis, for a differential check.")
    parser.add_argument("out", nargs="?", help="the JSON file to write")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="print the documents whose findings differ (exit 1 if any)")
    args = parser.parse_args()
    if args.compare:
        a = json.loads(Path(args.compare[0]).read_text())
        b = json.loads(Path(args.compare[1]).read_text())
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        for key in differ:
            print("DIFFERS:", key)
        print(f"{len(a)} / {len(b)} documents, {len(differ)} differ")
        return 1 if differ else 0
    if not args.out:
        parser.error("give OUT.json, or --compare A B")
    result = {label: findings(body) for label, body in documents()}
    Path(args.out).write_text(json.dumps(result, sort_keys=True, indent=0))
    hits = sum(len(v) for d in result.values() for k, v in d.items()
               if k.startswith("set ") and isinstance(v, list))
    print(f"{len(result)} documents, {hits} set hits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
