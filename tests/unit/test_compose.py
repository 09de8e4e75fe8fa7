"""docker-compose.yml and the Dockerfile stay consistent with the code (no Docker engine needed).

Each check reads the files as Docker would and compares them with what the project defines: the
`efacture serve` targets, the fields of `shared.settings.Settings`, the services the file declares.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared.settings import Settings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SERVE_TARGETS = {"ingest", "archive", "transmit", "metering", "pa-sim", "tsa"}
CONSUMERS = ("ingest", "archive", "transmit", "metering")
RABBIT_NODES = ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3")
INFRASTRUCTURE = {*RABBIT_NODES, "seaweedfs", "postgres"}
MIGRATE = ["efacture", "db", "migrate"]
# ${NAME}, ${NAME:?message}, ${NAME:-default}: compose fills these in from .env.
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[?-][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def _argv(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def _interpolated(value: str) -> str:
    """``value`` as compose passes it on, each ``${VAR...}`` replaced by a stand-in value."""
    return INTERPOLATION.sub(lambda m: f"x{m.group(1).lower()}", value)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    else:
        pairs = {str(key): str(value) for key, value in raw.items()}
    return {key: _interpolated(value) for key, value in pairs.items()}


def _efacture_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The long-running ``efacture serve NAME`` containers."""
    return {name: svc for name, svc in _efacture_containers(services).items()
            if _argv(svc["command"]) != MIGRATE}


def _efacture_containers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every container running the efacture image (the services and the one-shot migration)."""
    return {name: svc for name, svc in services.items()
            if "command" in svc and _argv(svc["command"])[0] == "efacture"}


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {name: {"condition": "service_started"} for name in raw}
    return {str(name): dict(spec or {}) for name, spec in raw.items()}


def test_each_serve_target_runs_in_exactly_one_service(
    services: dict[str, dict[str, Any]],
) -> None:
    targets = []
    for name, service in _efacture_services(services).items():
        argv = _argv(service["command"])
        assert argv[:2] == ["efacture", "serve"], f"{name}: {argv}"
        assert len(argv) == 3, f"{name}: {argv}"
        assert argv[2] in SERVE_TARGETS, f"{name} serves unknown target {argv[2]!r}"
        targets.append(argv[2])
    assert sorted(targets) == sorted(SERVE_TARGETS)


def test_one_migration_job_runs_before_the_consumers(
    services: dict[str, dict[str, Any]],
) -> None:
    jobs = [name for name, svc in services.items()
            if "command" in svc and _argv(svc["command"]) == MIGRATE]
    assert jobs == ["migrate"]
    assert services["migrate"].get("restart") == "no"
    for name in CONSUMERS:
        assert _depends_on(services[name])["migrate"] == {
            "condition": "service_completed_successfully"}, name


def test_every_efacture_variable_set_is_a_settings_field(
    services: dict[str, dict[str, Any]],
) -> None:
    fields = {f"EFACTURE_{field.upper()}" for field in Settings.model_fields}
    for name, service in services.items():
        unknown = {key for key in _environment(service) if key.startswith("EFACTURE_")} - fields
        assert not unknown, f"{name} sets variables Settings does not read: {sorted(unknown)}"


def test_efacture_services_get_broker_database_data_dir_pa_and_tsa(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in _efacture_containers(services).items():
        required = {"EFACTURE_DATA_DIR", "EFACTURE_PA_URL", "EFACTURE_TSA_URL"}
        if name in (*CONSUMERS, "migrate"):  # the simulator and the TSA use neither
            required |= {"EFACTURE_AMQP_URL", "EFACTURE_DATABASE_URL"}
        environment = _environment(service)
        assert required <= environment.keys(), f"{name} misses {required - environment.keys()}"
        # The settings must parse: a bad value would only show when the container starts.
        Settings.model_validate(
            {key.removeprefix("EFACTURE_").lower(): environment[key] for key in required}
        )


def test_the_simulator_and_the_tsa_hold_no_broker_database_or_store_credential(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("pa-sim", "tsa"):
        environment = _environment(services[name])
        held = {key for key in environment if key in {"EFACTURE_AMQP_URL", "EFACTURE_BLOB_URL"}
                or "DATABASE_URL" in key or key.startswith("AWS_")}
        assert not held, f"{name} is given {sorted(held)} it never uses"


def test_urls_point_at_services_of_this_file(services: dict[str, dict[str, Any]]) -> None:
    for name, service in _efacture_containers(services).items():
        for key, value in _environment(service).items():
            if key.endswith("_URL"):
                for url in value.split(","):  # EFACTURE_AMQP_URL lists every node
                    if url.startswith("s3://"):
                        continue  # s3://BUCKET/prefix: a bucket, reached at EFACTURE_S3_ENDPOINT
                    host = urlsplit(url).hostname
                    assert host in services, f"{name}: {key}={url} names no service"


def test_pa_and_tsa_urls_use_the_ports_their_simulators_listen_on(
    services: dict[str, dict[str, Any]],
) -> None:
    defaults = Settings.model_fields
    for name, service in _efacture_services(services).items():
        environment = _environment(service)
        assert urlsplit(environment["EFACTURE_PA_URL"]).port == defaults["pa_sim_port"].default
        tsa = urlsplit(environment["EFACTURE_TSA_URL"])
        assert tsa.port == defaults["tsa_port"].default, name
        assert tsa.path == "/tsa", name


def test_every_dependency_names_a_defined_service_that_reports_health(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for dependency, spec in _depends_on(service).items():
            assert dependency in services, f"{name} depends on undefined {dependency!r}"
            if dependency == "migrate":  # a job: waited for until it exits successfully
                assert spec.get("condition") == "service_completed_successfully", name
                continue
            assert spec.get("condition") == "service_healthy", f"{name} -> {dependency}"
            # compose refuses service_healthy on a service without a healthcheck.
            assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"


def test_consumers_wait_for_healthy_broker_and_database(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in CONSUMERS:
        assert _depends_on(services[name]).keys() >= INFRASTRUCTURE, name


def test_rabbitmq_and_postgres_have_their_readiness_checks(
    services: dict[str, dict[str, Any]],
) -> None:
    for node in RABBIT_NODES:
        rabbit = _argv(services[node]["healthcheck"]["test"])
        assert "rabbitmq-diagnostics" in rabbit
        assert "ping" in rabbit
        assert re.match(r"rabbitmq:(3\.13|4\.\d+)[.\w-]*-management", services[node]["image"])
    postgres = _argv(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in postgres
    assert re.match(r"postgres:1[67]\b", services["postgres"]["image"])


def test_each_efacture_service_checks_its_own_health(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in _efacture_services(services).items():
        target = _argv(service["command"])[2]
        test = _argv(service["healthcheck"]["test"])
        assert test[-3:] == ["efacture", "health", target], f"{name}: {test}"


def _mount_sources(service: dict[str, Any]) -> dict[str, str]:
    """Mount target → source (a named volume or a host path), short and long syntax."""
    found = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found[str(volume["target"])] = str(volume.get("source", ""))
        else:
            source, target = str(volume).split(":")[:2]
            found[target] = source
    return found


def test_no_two_efacture_containers_share_a_volume_and_none_mounts_the_data_dir(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """Issue 14, item 2: no service needs another's disk. The documents are in the object
    store, the keys are docker secrets; what a service writes stays in its own container."""
    owners: dict[str, str] = {}
    for name, service in _efacture_containers(services).items():
        mounts = _mount_sources(service)
        data_dir = _environment(service)["EFACTURE_DATA_DIR"]
        assert data_dir not in mounts, f"{name} mounts a volume at the data dir {data_dir}"
        for source in mounts.values():
            assert owners.setdefault(source, name) == name, (
                f"{name} and {owners[source]} both mount {source}")
    assert "efacture-data" not in (compose.get("volumes") or {}), "the shared volume is back"


def test_efacture_services_build_from_the_repository_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in _efacture_services(services).items():
        build = service["build"]
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (REPO / context / dockerfile).resolve() == REPO / "Dockerfile", name


def test_dockerfile_installs_the_project_from_pyproject_on_python_311_slim() -> None:
    dockerfile = REPO / "Dockerfile"
    assert dockerfile.is_file()
    instructions = [
        line.strip()
        for line in dockerfile.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert instructions[0] == "FROM python:3.11-slim"
    copies = [line.split()[1:-1] for line in instructions if line.startswith("COPY ")]
    copied = {source for sources in copies for source in sources}
    assert "pyproject.toml" in copied
    # Every top-level package setuptools is told to find must be in the image.
    for package in ("efacture", "shared", "services"):
        assert package in copied, package
        assert (REPO / package).is_dir(), package
    assert any(re.match(r"RUN pip install (--\S+ )*\.(\s|$)", line) for line in instructions)


def test_the_file_is_a_valid_compose_document(compose: dict[str, Any]) -> None:
    """The Compose Specification's own parser (Rust ``compose_spec``, PyPI ``compose-spec``)
    on the file with its YAML merge keys resolved, as compose resolves them: it refuses an
    unknown key anywhere (a misspelt ``create_host_path`` would be ignored by the tests
    above). Skipped where the package is not installed."""
    spec = pytest.importorskip("compose_spec")
    resolved = {key: value for key, value in compose.items() if not key.startswith("x-")}
    parsed = spec.PyCompose.from_yaml(yaml.safe_dump(resolved, sort_keys=False))
    assert parsed.service_names() == list(compose["services"])
