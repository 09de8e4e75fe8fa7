"""``scripts/rabbitmq-cluster start|stop|status [DIR]``: the test suite's three-node RabbitMQ
cluster (:class:`efacture.bench.cluster.RabbitCluster`) for a developer's shell.

``start`` boots it under DIR (default ``./var/rabbitmq-cluster``, which must not hold a running
cluster), saves its ports there and prints the ``EFACTURE_AMQP_URL`` that lists its nodes;
the nodes keep running after the command returns. ``stop`` stops those nodes and their epmd
(nothing else) and removes DIR. ``status`` prints the running nodes. Exit status 1 with one
sentence when something fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from efacture.bench.cluster import STATE, ClusterError, RabbitCluster

DEFAULT_DIR = Path("var/rabbitmq-cluster")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/rabbitmq-cluster")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--size", type=int, default=3, help="nodes (start only)")
    args = parser.parse_args(argv)
    base: Path = args.dir.resolve()
    try:
        if args.action == "start":
            if (base / STATE).exists():
                raise ClusterError(f"{base} already holds a cluster: stop it first")
            fresh = not base.exists()
            base.mkdir(parents=True, exist_ok=True)
            cluster = RabbitCluster(base=base, size=args.size)
            cluster._made_base = fresh  # stop removes what start made, nothing more
            cluster.start()
            cluster.save()
            print(f"RabbitMQ cluster of {cluster.size} nodes started in "
                  f"{cluster.start_seconds} s under {base}")
            print(f"EFACTURE_AMQP_URL={cluster.amqp_url()}")
        elif args.action == "stop":
            cluster = RabbitCluster.attach(base)
            cluster.stop()
            (base / STATE).unlink(missing_ok=True)
            print(f"stopped the cluster under {base}")
        else:
            cluster = RabbitCluster.attach(base)
            running = cluster.running_nodes()
            print(f"{len(running)} of {cluster.size} nodes running: {', '.join(running)}")
            print(f"EFACTURE_AMQP_URL={cluster.amqp_url()}")
            return 0 if len(running) == cluster.size else 1
    except ClusterError as exc:
        print(f"rabbitmq-cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
