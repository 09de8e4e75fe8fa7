"""Fixtures of the three-node RabbitMQ cluster (``efacture.bench.cluster``): one cluster per
test session, started on first use and stopped (with its directory) at the end, and per test
module a vhost on it plus a PostgreSQL database of its own, as an :class:`Infra` whose AMQP URL
lists the three nodes (what ``EFACTURE_AMQP_URL`` holds on a cluster).

The machine's own RabbitMQ node (5672) is not used and not touched by any of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from efacture.bench.cluster import RabbitCluster
from tests.support.infra import Infra, base_urls


@pytest.fixture(scope="session")
def rabbit_cluster() -> Iterator[RabbitCluster]:
    cluster = RabbitCluster().start()
    print(f"\nRabbitMQ cluster of {len(cluster.nodes)} nodes started in "
          f"{cluster.start_seconds} s")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster_infra(rabbit_cluster: RabbitCluster) -> Iterator[Infra]:
    """A vhost on the cluster and a database on the local PostgreSQL, both removed after."""
    name = f"efacture_cluster_{uuid.uuid4().hex[:10]}"
    rabbit_cluster.add_vhost(name)
    _amqp, admin_pg = base_urls()
    with psycopg.connect(admin_pg, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(admin_pg)
    db_url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    try:
        yield Infra(rabbit_cluster.amqp_url(name), db_url, name, name, admin_pg)
    finally:
        rabbit_cluster.delete_vhost(name)
        with psycopg.connect(admin_pg, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def queues(cluster: RabbitCluster, vhost: str) -> dict[str, dict[str, Any]]:
    """Every queue of ``vhost`` as a live node reports it: type, messages, leader, members,
    online members (one ``rabbitmqctl list_queues`` call)."""
    out = cluster.ctl(None, "list_queues", "-p", vhost, "name", "type", "messages", "leader",
                      "members", "online", "--formatter", "json")
    return {q["name"]: q for q in json.loads(out or "[]")}
