"""docker-compose.yml describes the distributed shape (issue 14, item 6): three RabbitMQ nodes
forming one cluster, SeaweedFS as the S3 store of the documents, PostgreSQL, two processes of
each consuming service; secrets only from ./.env or docker secrets; ports on loopback only;
each key only in the services that use it (issue 14, item 2), none on a shared volume.

Read as compose would (no Docker engine on this machine): what is checked is the file.
"""

from __future__ import annotations

import re
import subprocess
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
EFACTURE = ("migrate", "pa-sim", "tsa", *CONSUMERS)
# Who reads or writes documents in the object store (ingest and metering never do).
DOCUMENT_USERS = ("archive", "transmit", "migrate")
# Who may hold each key (docker secret name → services). migrate is the operators' container
# (`docker compose run --rm migrate efacture export|proof|tenant …`): it holds archive's keys.
KEY_HOLDERS = {
    "master_key": {"archive", "transmit", "migrate", "portal"},
    "log_signing_key": {"archive", "migrate"},
}
# Settings that name a file with key material (none of them may hold the material inline).
FILE_SETTINGS = ("EFACTURE_MASTER_KEY_FILE", "EFACTURE_LOG_SIGNING_KEY_FILE")
INLINE_KEYS = ("EFACTURE_MASTER_KEY", "EFACTURE_LOG_SIGNING_KEY")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (service.get("environment") or {}).items()}


def _volumes(service: dict[str, Any]) -> dict[str, str]:
    """Mount target → source, short (``src:dst[:ro]``) and long (``type: bind``) syntax."""
    found = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found[str(volume["target"])] = str(volume["source"])
        else:
            found[str(volume).split(":")[1]] = str(volume).split(":")[0]
    return found


def _names(entries: list[Any] | None, default_dir: str = "/run/secrets/") -> dict[str, str]:
    """A service's ``secrets:`` (or, with ``default_dir="/"``, ``configs:``) as source → path in
    the container: the target when it is absolute, else ``default_dir`` + target or name."""
    found = {}
    for entry in entries or []:
        source = str(entry if isinstance(entry, str) else entry["source"])
        target = source if isinstance(entry, str) else str(entry.get("target", source))
        found[source] = target if target.startswith("/") else default_dir + target
    return found


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
        if name not in DOCUMENT_USERS:  # the store's credentials can delete every document
            assert not {k for k in env if k.startswith("AWS_") or "BLOB" in k}, name
            continue
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


def test_each_key_is_given_only_to_the_services_that_use_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    holders: dict[str, set[str]] = {}
    for name, svc in services.items():
        for secret in _names(svc.get("secrets")):
            holders.setdefault(secret, set()).add(name)
    assert holders["log_signing_key"] == {"archive", "migrate"}, "the log key left archive"
    assert "archive" in holders["master_key"]
    assert "transmit" in holders["master_key"]
    for secret, allowed in KEY_HOLDERS.items():
        assert holders[secret] <= allowed, f"{secret} given to {holders[secret] - allowed}"
    for name in ("ingest", "metering", "pa-sim", "tsa"):
        svc = services[name]
        assert not svc.get("secrets"), f"{name} holds {svc.get('secrets')}"
        env = _env(svc)
        assert not {*FILE_SETTINGS, "EFACTURE_TSA_CA", "EFACTURE_TSA_CHAIN_FILE"} & env.keys(), (
            f"{name} is pointed at a key it does not use")
    assert holders["seaweedfs-s3"] == {"seaweedfs"}


def test_key_settings_point_at_the_secrets_and_configs_each_service_mounts(
        compose: dict[str, Any]) -> None:
    for name in EFACTURE:
        svc = compose["services"][name]
        env = _env(svc)
        secrets = _names(svc.get("secrets"))
        configs = _names(svc.get("configs"), "/")
        assert secrets.keys() <= compose["secrets"].keys(), f"{name}: undefined secret"
        assert configs.keys() <= compose["configs"].keys(), f"{name}: undefined config"
        for key in INLINE_KEYS:
            assert key not in env, f"{name}: {key} would put key material in the file"
        for key in FILE_SETTINGS:
            if key in env:
                assert env[key] in secrets.values(), f"{name}: {key}={env[key]} is not mounted"
                assert env[key].startswith("/run/secrets/")
        # Every secret a service mounts is one its settings read (no key lying around unused).
        wanted = {env.get(key) for key in FILE_SETTINGS}
        assert set(secrets.values()) <= wanted, f"{name} mounts secrets it never reads"
        for key in ("EFACTURE_TSA_CA", "EFACTURE_TSA_CHAIN_FILE"):
            if key in env:
                assert env[key] in configs.values(), f"{name}: {key}={env[key]} is not mounted"
    archive = _env(compose["services"]["archive"])
    assert archive["EFACTURE_MASTER_KEY_FILE"] == "/run/secrets/master_key"
    assert archive["EFACTURE_LOG_SIGNING_KEY_FILE"] == "/run/secrets/log_signing_key"
    # archive trusts the TSA through its public certificates, never through the key directory.
    assert {"EFACTURE_TSA_CA", "EFACTURE_TSA_CHAIN_FILE"} <= archive.keys()
    assert _env(compose["services"]["transmit"])["EFACTURE_MASTER_KEY_FILE"] == (
        "/run/secrets/master_key")


def test_the_tsa_key_directory_is_mounted_in_the_tsa_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    tsa = services["tsa"]
    key_dir = _env(tsa)["EFACTURE_TSA_KEY_DIR"]
    source = _volumes(tsa)[key_dir]
    assert source == "./var/compose/tsa"
    (bind,) = [v for v in tsa["volumes"] if isinstance(v, dict) and v["target"] == key_dir]
    assert bind["type"] == "bind"
    # compose must not create an empty directory where the TSA would invent an authority
    # that archive's EFACTURE_TSA_CA does not name.
    assert bind["bind"]["create_host_path"] is False
    for name, svc in services.items():
        if name != "tsa":
            assert source not in _volumes(svc).values(), f"{name} mounts the TSA's keys"
            assert "EFACTURE_TSA_KEY_DIR" not in _env(svc), name


def test_the_public_tsa_certificates_are_configs_not_secrets(compose: dict[str, Any]) -> None:
    """The only material two services both mount: the TSA's root and chain, public by nature
    (auditors get the same from `efacture keys export-trust`), read-only as every config."""
    configs = compose["configs"]
    assert set(configs) == {"tsa_ca", "tsa_chain"}
    for name, svc in compose["services"].items():
        for source, target in _names(svc.get("configs"), "/").items():
            assert source in configs, f"{name} mounts an undefined config {source}"
            assert target.startswith("/etc/efacture/"), f"{name}: {target}"


def test_every_secret_and_config_file_is_generated_under_the_ignored_var_compose(
        compose: dict[str, Any]) -> None:
    sources = [spec["file"] for section in ("secrets", "configs")
               for spec in compose[section].values()]
    sources += [src for svc in compose["services"].values()
                for src in _volumes(svc).values() if src.startswith("./var/")]
    assert {"./var/compose/master.key", "./var/compose/log.key", "./var/compose/tsa"} <= set(
        sources)
    for source in sources:
        assert source.startswith("./var/compose/"), f"{source} is not a generated file"
        ignored = subprocess.run(["git", "check-ignore", "-q", source.removeprefix("./")],
                                 cwd=REPO, check=False, timeout=30)
        assert ignored.returncode == 0, f"{source} is not git-ignored"
    # And none of them is tracked (an ignored file can still have been added by hand).
    tracked = subprocess.run(["git", "ls-files", "var/compose"], cwd=REPO, check=True,
                             capture_output=True, text=True, timeout=30).stdout
    assert not tracked.strip(), f"tracked under var/compose: {tracked.split()}"
