"""The broker's ceiling alone: messages per second through empty FastStream handlers.

Usage: ``python benchmarks/broker.py [--n N] [--threads T] [--json]``

On a vhost of its own (dropped at the end): the raw single hop (publish with confirms to one
quorum queue, consume with an empty handler) and the three-hop chain the pipeline has
(each empty handler republishes with confirms to the next quorum queue, then acks). The
bodies are the benchmark's invoice mix (corpus XML and the synthetic ~30 KB Factur-X).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from efacture.bench import ceiling, infra
from efacture.bench.runner import default_corpus
from efacture.bench.workload import Workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--mix", choices=["corpus", "synthetic", "both"], default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workload = Workload.build(default_corpus(), args.mix, args.n)
    made = infra.create()
    try:
        single, dup1 = ceiling.measure(made.amqp_url, args.n, workload.item, chain=False,
                                 threads=args.threads)
        chain, dup2 = ceiling.measure(made.amqp_url, args.n, workload.item, chain=True,
                                threads=args.threads)
    finally:
        infra.destroy(made)
    result = {"n": args.n, "single_hop_per_s": single, "chain_per_s": chain,
              "hops": len(ceiling.CHAIN), "duplicates": dup1 + dup2}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"raw single hop      {single:10.1f} msg/s")
        print(f"{len(ceiling.CHAIN)}-hop empty chain    {chain:10.1f} msg/s")


if __name__ == "__main__":
    main()
