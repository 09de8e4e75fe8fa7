"""Paired cost benchmark: ``efacture bench`` of an older revision and of this tree, at once.

Usage: ``python benchmarks/speed_pair.py REV [--n 2000] [--out DIR] [-- BENCH ARGS...]``

On a machine shared with other work, CPU per invoice moves with the load (cache and
scheduler contention), so two runs minutes apart compare badly. Here both runs start together
on the same servers (each on its own vhost and database) and share whatever load there is:
the ratio between their columns is what a change did. ``REV`` is extracted with
``git archive`` into a temporary directory and run with ``PYTHONPATH`` pointing there; its
``efacture/bench`` is replaced by this tree's, so both measure the same way. Prints the two
``cost`` sections side by side (markdown) and writes both JSON documents to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EFACTURE = Path(sys.executable).parent / "efacture"


def _extract(rev: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    shutil.rmtree(into / "efacture" / "bench")
    shutil.copytree(REPO / "efacture" / "bench", into / "efacture" / "bench")
    shutil.copy(REPO / "efacture" / "cli" / "bench.py", into / "efacture" / "cli" / "bench.py")


def _start(tree: Path, args: list[str], out: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    corpus = REPO.parent / "shared" / "corpus"
    with open(out, "wb") as stdout:
        return subprocess.Popen([str(EFACTURE), "bench", "--corpus", str(corpus), *args,
                                 "--json"], cwd=tree, env=env, stdout=stdout,
                                stderr=subprocess.DEVNULL)


def table(docs: dict[str, dict[str, Any]]) -> str:
    """The cost sections of ``docs`` (label -> bench document) as one markdown table."""
    first = next(iter(docs.values()))["cost"]["cpu_ms_per_invoice"]
    names = sorted({n for d in docs.values() for n in d["cost"]["cpu_ms_per_invoice"]},
                   key=lambda n: -first.get(n, 0.0))
    lines = ["| process | " + " | ".join(docs) + " |", "|---|" + "---:|" * len(docs)]

    def row(label: str, cell: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(d) for d in docs.values()) + " |")

    for n in names:
        row(n, lambda d, n=n: f"{d['cost']['cpu_ms_per_invoice'].get(n, 0.0):.2f}")
    row("**sum, ms CPU per invoice**", lambda d: f"**{d['cost']['cpu_ms_per_invoice_sum']:.1f}**")
    row("AMQP publishes per invoice", lambda d: f"{d['cost']['amqp_publishes_per_invoice']:.2f}")
    row("DB transactions per invoice",
        lambda d: f"{d['cost']['db_transactions_per_invoice']:.2f}")
    for peer in ("pa", "tsa"):
        row(f"HTTP requests to {peer} per invoice",
            lambda d, p=peer: f"{d['cost']['http_requests_per_invoice'].get(p, 0.0):.2f}")
    row("throughput, inv/s", lambda d: f"{d['throughput']['invoices_per_s']:.1f}")
    row("load average begin → end", lambda d: " → ".join(
        f"{v[0]:.1f}" for v in d["cost"]["load_average"].values() if v))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("bench_args", nargs="*")
    opts = parser.parse_args()
    args = ["--n", str(opts.n), "--no-ceiling", *opts.bench_args]
    opts.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="efacture-pair-") as tmp:
        old = Path(tmp)
        _extract(opts.rev, old)
        outs = {opts.rev: opts.out / f"pair-{opts.rev}.json",
                "this tree": opts.out / "pair-new.json"}
        procs = [_start(old, args, outs[opts.rev]), _start(REPO, args, outs["this tree"])]
        codes = [p.wait() for p in procs]
    if any(codes):
        print(f"a run failed (exit codes {codes}); see {opts.out}", file=sys.stderr)
        return 1
    print(table({label: json.loads(path.read_text()) for label, path in outs.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
