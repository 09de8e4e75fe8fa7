"""docker-compose.yml describes the distributed shape (issue 14, item 6): three RabbitMQ nodes
forming one cluster, SeaweedFS as the S3 store of the documents, PostgreSQL, two processes of
each consuming service; secrets only from ./.env or docker secrets; ports on loopback only.

Read as compose would (no Docker engine on this machine): what is checked is the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared.settings import Settings

pytestmark = pytest.mark.security

REPO = Path(__file__).resolve().parents[2]
NODES = ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3")
CONSUMERS = ("ingest", "archive", "transmit", "metering")
VARIABLE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}$")
LOOPBACK = ("127.0.0.1:", "[::1]:")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def _volumes(service: dict[str, Any]) -> dict[str, str]:
    """Mount target → source."""
    return {str(v).split(":")[1]: str(v).split(":")[0] for v in service.get("volumes", [])}


def test_three_rabbitmq_nodes_form_one_cluster_with_a_cookie_from_the_env_file(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert [n for n in services if n.startswith("rabbitmq")] == list(NODES)
    conf_sources = set()
    data = set()
    for node in NODES:
        svc = services[node]
        assert svc["hostname"] == node, "a node's name must stay stable across restarts"
        for key in ("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "RABBITMQ_CTL_ERL_ARGS"):
            flag, cookie = _env(svc)[key].split(" ", 1)
            assert flag == "-setcookie"
            assert VARIABLE.match(cookie), f"{node}: the Erlang cookie is written in the file"
        mounts = _volumes(svc)
        conf_sources.add(mounts["/etc/rabbitmq/conf.d/30-efacture-cluster.conf"])
        data.add(mounts["/var/lib/rabbitmq"])
    assert len(data) == 3, "the nodes share a data volume"
    assert len(conf_sources) == 1
    conf = (REPO / conf_sources.pop()).read_text()
    listed = re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = rabbit@(\S+)$", conf,
                        re.M)
    assert listed == list(NODES)
    assert "peer_discovery_backend = classic_config" in conf


def test_every_service_knows_every_node_and_keeps_documents_in_seaweedfs(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["seaweedfs"]["image"].startswith("chrislusf/seaweedfs:")
    for name in (*CONSUMERS, "migrate"):
        env = _env(services[name])
        urls = re.sub(r"\$\{[^}]*\}", "pw", env["EFACTURE_AMQP_URL"]).split(",")
        hosts = [urlsplit(u).hostname for u in urls]
        assert hosts == list(NODES), f"{name} does not list every broker node"
        assert env["EFACTURE_BLOB_URL"].startswith("s3://"), f"{name} keeps blobs on a disk"
        assert urlsplit(env["EFACTURE_S3_ENDPOINT"]).hostname == "seaweedfs"
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert VARIABLE.match(env[key]), f"{name}: {key} is written in the file"
        deps = services[name].get("depends_on") or {}
        if name in CONSUMERS:
            assert {*NODES, "seaweedfs", "postgres"} <= set(deps), name


def test_seaweedfs_credentials_come_from_a_docker_secret(compose: dict[str, Any]) -> None:
    weed = compose["services"]["seaweedfs"]
    assert weed["secrets"] == ["seaweedfs-s3"]
    assert "-s3.config=/run/secrets/seaweedfs-s3" in weed["command"]
    source = compose["secrets"]["seaweedfs-s3"]["file"]
    assert source.startswith("./var/compose/"), "the secret must be a generated, ignored file"
    assert not weed.get("environment"), "SeaweedFS needs no secret in its environment"


def test_two_processes_of_each_consuming_service_within_the_databases_connections(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    processes = 0
    pool = int(Settings.model_fields["db_pool_size"].default)
    for name in CONSUMERS:
        svc = services[name]
        assert svc["deploy"]["replicas"] == 2, f"{name} runs once"
        assert "container_name" not in svc, f"{name}: a fixed container name forbids replicas"
        assert not svc.get("ports"), f"{name}: two replicas cannot publish one host port"
        pool = int(_env(svc).get("EFACTURE_DB_POOL_SIZE", pool))
        processes += svc["deploy"]["replicas"]
    command = services["postgres"]["command"]
    max_connections = int(next(c.split("=")[1] for c in command if "max_connections" in c))
    # Each process: its pool plus one leadership session; keep a quarter for operators.
    assert processes * (pool + 1) <= 0.75 * max_connections


def test_every_published_port_is_on_loopback(compose: dict[str, Any]) -> None:
    published = [(name, str(p)) for name, svc in compose["services"].items()
                 for p in svc.get("ports") or []]
    assert {name for name, _ in published} >= {*NODES, "seaweedfs"}
    for name, port in published:
        assert port.startswith(LOOPBACK), f"{name} publishes {port} beyond this host"
    host_ports = [p.rsplit(":", 2)[-2] for _, p in published]
    assert len(host_ports) == len(set(host_ports)), "two containers publish one host port"
