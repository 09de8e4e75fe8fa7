"""A RabbitMQ vhost and a PostgreSQL database of the benchmark's own, created and dropped.

The servers are those of ``EFACTURE_AMQP_URL`` / ``EFACTURE_DATABASE_URL`` when set (a fresh
vhost and database on them), else the local ones. ``rabbitmqctl`` must run on this machine.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def listen_ports(span: int = 1) -> int:
    """The first of ``span`` consecutive ports free to listen on, below the ephemeral range.

    ``efacture up`` refuses a port someone else holds (issue 10), and a port the kernel picks
    for bind(0) sits in the ephemeral range, where any outgoing connection may take it (or
    its neighbours, the metrics ports) before the service listens.
    """
    import random

    for _ in range(200):
        base = random.randrange(20000, 32000 - span)
        try:
            for port in range(base, base + span):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {span} consecutive free ports found between 20000 and 32000")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Infra:
    amqp_url: str
    database_url: str
    name: str
    admin_pg: str

    def env(self, data_dir: Path, latency_ms: int) -> dict[str, str]:
        """The environment of ``efacture up`` (and of CLI calls) against this infrastructure."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EFACTURE_")}
        env.update({
            "EFACTURE_AMQP_URL": self.amqp_url,
            "EFACTURE_DATABASE_URL": self.database_url,
            "EFACTURE_DATA_DIR": str(data_dir),
            "EFACTURE_PA_SIM_PORT": str(listen_ports()),
            "EFACTURE_TSA_PORT": str(listen_ports()),
            "EFACTURE_METRICS_PORT_BASE": str(listen_ports(10)),  # base + 0..9
            # The portal listens on its public URL's port: one of the run's own, not 8443.
            "EFACTURE_PORTAL_URL": f"https://127.0.0.1:{listen_ports()}",
            "EFACTURE_PA_SIM_LATENCY_MS": str(latency_ms),
            "EFACTURE_LOG_LEVEL": "WARNING",
        })
        return env


def create(prefix: str = "efacture_bench") -> Infra:
    """A new vhost (guest given every permission) and database; raises if either fails."""
    amqp = os.environ.get("EFACTURE_AMQP_URL") or LOCAL_AMQP
    pg = os.environ.get("EFACTURE_DATABASE_URL") or LOCAL_PG
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", name)
    parts = urlsplit(amqp)
    _rabbitmqctl("set_permissions", "-p", name, parts.username or "guest", ".*", ".*", ".*")
    amqp_url = urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), "", ""))
    pparts = urlsplit(pg)
    admin = urlunsplit((pparts.scheme, pparts.netloc, "/postgres", pparts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db_url = urlunsplit((pparts.scheme, pparts.netloc, "/" + name, pparts.query, ""))
    return Infra(amqp_url, db_url, name, admin)


def destroy(infra: Infra) -> None:
    """Drop the vhost and the database; never raises (cleanup after a failure too)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", infra.name], capture_output=True,
                       timeout=120)
    try:
        with psycopg.connect(infra.admin_pg, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(infra.name)))
    except psycopg.Error:
        pass
