"""Property 8 (the compose stack): nothing is published on all interfaces, no password is written
in the file, and only the migration job holds PostgreSQL's admin password — each service
connects as its own role with its own password.

Reads docker-compose.yml as compose would (no Docker engine on this machine).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from shared import db, db_roles
from shared.settings import Settings

pytestmark = pytest.mark.security

REPO = Path(__file__).resolve().parents[2]
CONSUMERS = ("ingest", "archive", "transmit", "metering")
LOOPBACK = {"127.0.0.1", "::1", "[::1]", "localhost"}
VARIABLE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[?-][^}]*)?\}$")
VARIABLE_ANYWHERE = re.compile(r"\$\{[^}]*\}")
SECRET_KEYS = re.compile(r"(PASS|PASSWORD|SECRET|TOKEN)$")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    found = document["services"]
    assert isinstance(found, dict)
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {str(key): str(value) for key, value in raw.items()}


def _host_ip(port: Any) -> str | None:
    """The address a ``ports`` entry publishes on (None: every interface)."""
    if isinstance(port, dict):
        return port.get("host_ip")
    text = str(port)
    if text.startswith("["):  # [::1]:5672:5672
        return text[: text.index("]") + 1]
    parts = text.split(":")
    return parts[0] if len(parts) == 3 else None


def _password_variable(value: str) -> str | None:
    """The compose variable a password is taken from; fails on a password written literally."""
    match = VARIABLE.match(unquote(value))
    assert match, f"a password is written in docker-compose.yml: {value!r}"
    return match.group(1)


def _db_credentials(url: str) -> tuple[str, str | None]:
    """(user, variable holding the password) of a postgresql:// URL in the file."""
    # The password is a ${VAR:?message} that may hold '/' or '?': cut it out before parsing.
    rest = url.partition("://")[2]
    userinfo, _, hostpart = rest.rpartition("@")
    user, _, password = userinfo.partition(":")
    assert hostpart.split("/")[0].split(":")[0] == "postgres", url
    return user, (_password_variable(password) if password else None)


def test_no_port_is_published_on_all_interfaces(services: dict[str, dict[str, Any]]) -> None:
    published = 0
    for name, service in services.items():
        for port in service.get("ports") or []:
            published += 1
            assert _host_ip(port) in LOOPBACK, f"{name} publishes {port!r} on every interface"
    assert published, "the broker must stay reachable from the host, on loopback"
    assert not services["postgres"].get("ports"), "PostgreSQL is published"


def test_no_password_is_written_in_the_file(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET_KEYS.search(key) and not key.endswith("_FILE"):
                _password_variable(value)
            for url in value.split(",") if "://" in value else []:  # one URL per node
                userinfo = url.partition("://")[2].rpartition("@")[0]
                if ":" in userinfo:
                    _password_variable(userinfo.partition(":")[2])
        assert name  # every service was read


def test_only_the_migration_job_holds_the_admin_password(
    services: dict[str, dict[str, Any]],
) -> None:
    admin_user = _environment(services["postgres"]).get("POSTGRES_USER", "postgres")
    admin_password = _password_variable(_environment(services["postgres"])["POSTGRES_PASSWORD"])
    holders = set()
    passwords: dict[str, str] = {}
    for name, service in services.items():
        for key, value in _environment(service).items():
            if value.startswith("postgresql://"):
                user, variable = _db_credentials(value)
                if user == admin_user or variable == admin_password:
                    holders.add(name)
                elif key != "EFACTURE_DATABASE_URL" and name == "migrate":
                    continue  # the job sets each role's password from the service's own URL
                else:
                    assert variable, f"{name}: {key} has no password"
                    assert passwords.setdefault(variable, name) == name, (
                        f"{name} and {passwords[variable]} share the password {variable}")
    assert holders == {"migrate"}, holders


@pytest.mark.parametrize("service", CONSUMERS)
def test_each_service_connects_as_its_own_role(
    services: dict[str, dict[str, Any]], service: str,
) -> None:
    environment = _environment(services[service])
    own = environment[f"EFACTURE_{service.upper()}_DATABASE_URL"]
    assert _db_credentials(own)[0] == db_roles.role_name(service)
    assert _db_credentials(environment["EFACTURE_DATABASE_URL"]) == _db_credentials(own)
    # The migration job sets this role's password from the same variable.
    job = _environment(services["migrate"])[f"EFACTURE_{service.upper()}_DATABASE_URL"]
    assert _db_credentials(job) == _db_credentials(own)
    # And the service really uses it: the settings as compose passes them, then its pool URL.
    stand_in = {key.removeprefix("EFACTURE_").lower(): VARIABLE_ANYWHERE.sub("pw", value)
                for key, value in environment.items() if key.startswith("EFACTURE_")}
    settings = Settings(_env_file=None, **stand_in)  # type: ignore[arg-type,call-arg]
    assert urlsplit(db.service_url(settings, service)).username == db_roles.role_name(service)


def _rabbit_hash_matches(password: str, encoded: str) -> bool:
    raw = base64.b64decode(encoded)
    return hashlib.sha256(raw[:4] + password.encode()).digest() == raw[4:]


def test_compose_secrets_gives_every_account_its_own_password(
    services: dict[str, dict[str, Any]], tmp_path: Path,
) -> None:
    env_file, definitions = tmp_path / "env", tmp_path / "definitions.json"
    subprocess.run([str(REPO / "scripts" / "compose-secrets"), str(env_file), str(definitions)],
                   check=True, capture_output=True, timeout=60)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    secrets = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    needed = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)",
                            (REPO / "docker-compose.yml").read_text(encoding="utf-8")))
    assert needed <= secrets.keys(), needed - secrets.keys()
    assert len(set(secrets.values())) == len(secrets), "two accounts share a password"
    assert all(len(value) >= 32 for value in secrets.values())
    # The broker: operators' administrator and the services' plain user, hashes only.
    users = {u["name"]: u for u in json.loads(definitions.read_text())["users"]}
    for value in secrets.values():
        assert value not in definitions.read_text()
    assert users["admin"]["tags"] == "administrator"
    assert _rabbit_hash_matches(secrets["RABBITMQ_ADMIN_PASSWORD"], users["admin"]["password_hash"])
    amqp_user = urlsplit(VARIABLE_ANYWHERE.sub(
        "pw", _environment(services["ingest"])["EFACTURE_AMQP_URL"])).username
    assert amqp_user in users
    assert users[amqp_user]["tags"] == "", "the services use the broker's administrator"
    assert _rabbit_hash_matches(secrets["RABBITMQ_PASSWORD"], users[amqp_user]["password_hash"])
    for node in ("rabbitmq-1", "rabbitmq-2", "rabbitmq-3"):  # every node loads the same users
        rabbit = services[node]
        assert "RABBITMQ_DEFAULT_PASS" not in _environment(rabbit)
        mounts = [str(v).split(":")[:2] for v in rabbit.get("volumes", [])]
        assert ["./var/compose/rabbitmq-definitions.json",
                "/etc/rabbitmq/definitions.json"] in mounts
    # SeaweedFS's identities: the services' S3 credentials, in a 0600 file, never in compose.
    s3 = json.loads((tmp_path / "seaweedfs-s3.json").read_text())
    assert stat.S_IMODE((tmp_path / "seaweedfs-s3.json").stat().st_mode) == 0o600
    assert s3["identities"][0]["credentials"] == [
        {"accessKey": secrets["S3_ACCESS_KEY_ID"], "secretKey": secrets["S3_SECRET_ACCESS_KEY"]}]
