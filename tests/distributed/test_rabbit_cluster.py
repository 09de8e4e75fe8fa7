"""The three-node RabbitMQ cluster fixture, replicated quorum queues, and the operator commands
(``efacture status``, ``efacture dlq``) on the cluster's comma-separated EFACTURE_AMQP_URL.

- The fixture's three nodes are one cluster, all running; the machine's default node does not
  know them (it is left alone).
- ``efacture topology apply`` declares every quorum queue with three members, one per node;
  RabbitMQ 3.10 caps a larger group size at the cluster's node count.
- ``efacture status`` and ``efacture dlq list`` work with the node list, even when the first
  node listed is down (they take the first node that answers).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pika
import pytest

from efacture.bench.cluster import RabbitCluster
from shared.topology import Topology, dlq_name, work_queue
from tests.distributed.rabbit_cluster import queues
from tests.support.infra import Infra, free_port
from tests.support.system import EFACTURE

pytestmark = pytest.mark.distributed


def _efacture(infra: Infra, data_dir: Path, *args: str,
              amqp_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = infra.env(str(data_dir))
    if amqp_url is not None:
        env["EFACTURE_AMQP_URL"] = amqp_url
    return subprocess.run([EFACTURE, *args], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def applied(cluster_infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The topology declared on the cluster through the node list; the data dir used."""
    data = tmp_path_factory.mktemp("cluster-cli")
    res = _efacture(cluster_infra, data, "db", "migrate")
    assert res.returncode == 0, res.stderr
    res = _efacture(cluster_infra, data, "topology", "apply")
    assert res.returncode == 0, res.stderr
    return data


def test_the_three_nodes_form_one_running_cluster(rabbit_cluster: RabbitCluster) -> None:
    assert rabbit_cluster.running_nodes() == sorted(n.name for n in rabbit_cluster.nodes)
    assert len({n.amqp_port for n in rabbit_cluster.nodes}) == 3
    assert len({n.dist_port for n in rabbit_cluster.nodes}) == 3
    default = subprocess.run(["rabbitmqctl", "-q", "cluster_status", "--formatter", "json"],
                             capture_output=True, text=True, timeout=120)
    assert default.returncode == 0, "the machine's own RabbitMQ node stopped answering"
    running = json.loads(default.stdout)["running_nodes"]
    assert not any(n.name in running for n in rabbit_cluster.nodes), (
        "the cluster's nodes joined the machine's own node")


def test_every_queue_of_the_topology_has_three_members(
        rabbit_cluster: RabbitCluster, cluster_infra: Infra, applied: Path) -> None:
    expected = {b.queue.name for b in Topology.build((1, 2)).bindings}
    got = queues(rabbit_cluster, cluster_infra.vhost)
    assert expected <= set(got), f"not declared: {sorted(expected - set(got))}"
    names = sorted(n.name for n in rabbit_cluster.nodes)
    for name in expected:
        q = got[name]
        assert q["type"] == "quorum", name
        assert sorted(q["members"]) == names, f"{name} has members {q['members']}"
        assert sorted(q["online"]) == names, f"{name} has online members {q['online']}"


def test_a_group_larger_than_the_cluster_gets_one_member_per_node(
        rabbit_cluster: RabbitCluster, cluster_infra: Infra) -> None:
    node = rabbit_cluster.nodes[1]
    conn = pika.BlockingConnection(pika.URLParameters(
        rabbit_cluster.node_url(node, cluster_infra.vhost)))
    try:
        for size in (5, 1):
            q = work_queue(f"size-{size}", "unused", quorum_size=size)
            conn.channel().queue_declare(q.name, durable=True,
                                         arguments={"x-queue-type": "quorum", **q.arguments})
    finally:
        conn.close()
    got = queues(rabbit_cluster, cluster_infra.vhost)
    assert len(got["size-5"]["members"]) == 3
    assert got["size-1"]["members"] == [node.name]  # the leader: where the client declared it


def test_status_and_dlq_take_the_first_node_that_answers(
        rabbit_cluster: RabbitCluster, cluster_infra: Infra, applied: Path) -> None:
    # A node list whose first entry does not answer (a node that is down), then the cluster.
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/{cluster_infra.vhost}"
    url = f"{dead},{cluster_infra.amqp_url}"
    res = _efacture(cluster_infra, applied, "status", "--json", amqp_url=url)
    assert res.returncode == 0, res.stderr
    shown = {q["queue"]: q for q in json.loads(res.stdout)["queues"]}
    assert shown[dlq_name("efacture.transmit")]["messages"] == 0
    assert all(q["messages"] is not None for q in shown.values()), "a queue was not found"
    res = _efacture(cluster_infra, applied, "dlq", "list", "--json", amqp_url=url)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == []
    res = _efacture(cluster_infra, applied, "dlq", "list", "--queue", "archive", "--json",
                    amqp_url=url)
    assert res.returncode == 0, res.stderr
