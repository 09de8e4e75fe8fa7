"""Real infrastructure for integration and end-to-end tests: a RabbitMQ vhost and a
PostgreSQL database of their own, created before and removed after.

Where they come from, in order: ``EFACTURE_AMQP_URL`` / ``EFACTURE_DATABASE_URL``
when set (their server, with a fresh vhost and database on it); else the local
services when they answer; else testcontainers when a Docker engine answers.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

# One copy of the port pickers: the installed package cannot import the tests, the tests can.
from efacture.bench.infra import free_port as free_port
from efacture.bench.infra import listen_ports as listen_ports

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0


def base_urls() -> tuple[str, str]:
    """(amqp url, postgres admin url) of the servers the tests use."""
    amqp = os.environ.get("EFACTURE_AMQP_URL")
    pg = os.environ.get("EFACTURE_DATABASE_URL")
    if amqp and pg:
        return amqp, pg
    if answers("127.0.0.1", 5672) and answers("127.0.0.1", 5432):
        return amqp or LOCAL_AMQP, pg or LOCAL_PG
    if _docker_answers():  # pragma: no cover - no Docker engine on the CI machine
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        rabbit = RabbitMqContainer("rabbitmq:4.1-management").start()
        postgres = PostgresContainer("postgres:17").start()
        host = rabbit.get_container_host_ip()
        return (f"amqp://guest:guest@{host}:{rabbit.get_exposed_port(5672)}/",
                postgres.get_connection_url().replace("+psycopg2", ""))
    raise RuntimeError("no RabbitMQ/PostgreSQL reachable: set EFACTURE_AMQP_URL and "
                       "EFACTURE_DATABASE_URL, start the local services, or run a Docker engine")


@dataclass
class Infra:
    amqp_url: str
    database_url: str
    vhost: str
    database: str
    admin_pg: str

    def env(self, data_dir: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EFACTURE_")}
        env.update({
            "EFACTURE_AMQP_URL": self.amqp_url,
            "EFACTURE_DATABASE_URL": self.database_url,
            "EFACTURE_DATA_DIR": data_dir,
            "EFACTURE_PA_SIM_PORT": str(listen_ports()),
            "EFACTURE_TSA_PORT": str(listen_ports()),
            "EFACTURE_METRICS_PORT_BASE": str(listen_ports(10)),  # base + 0..9
            # The portal listens on its public URL's port: one of its own per system.
            "EFACTURE_PORTAL_URL": f"https://127.0.0.1:{listen_ports()}",
            "EFACTURE_TRANSMIT_RETRY_DELAYS": "1,2",
            "EFACTURE_CHECKPOINT_INTERVAL_SECONDS": "1",
            "EFACTURE_BREAKER_COOLDOWN_SECONDS": "3",
            "EFACTURE_LOG_LEVEL": "WARNING",
        })
        return env


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def create(prefix: str = "efacture_test") -> Infra:
    amqp, pg = base_urls()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", name)
    user = urlsplit(amqp).username or "guest"
    _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    parts = urlsplit(amqp)
    amqp_url = urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), "", ""))
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    pparts = urlsplit(pg)
    db_url = urlunsplit((pparts.scheme, pparts.netloc, "/" + name, pparts.query, ""))
    return Infra(amqp_url, db_url, name, name, pg)


def destroy(infra: Infra) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", infra.vhost], capture_output=True,
                   timeout=60)
    with psycopg.connect(infra.admin_pg, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(infra.database)))
