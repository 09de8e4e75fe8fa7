"""Ports ``efacture up`` listens on: checked free before anything starts, and checked to be held
by the child that ``up`` started before ``up`` trusts what answers there.

A local process that took the PA simulator's or the TSA's port first would otherwise receive
every invoice and sign every proof; ``up`` refuses to start instead (issue 10, property 5).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from efacture.replicas import child_key
from shared.metrics import service_port
from shared.settings import Settings

LABELS = {"pa-sim": "the built-in PA simulator", "tsa": "the built-in TSA",
          "portal-web": "the portal"}


def label(name: str) -> str:
    return LABELS.get(name, f"the {name} metrics and health endpoint")


def planned_ports(settings: Settings, aux: Sequence[str], services: Sequence[str],
                  replicas: Mapping[str, int] | None = None) -> dict[str, int]:
    """Which port each helper and service process ``up`` runs will listen on
    (``settings.bind_host``); replica ``i`` of a service is keyed ``NAME#i`` (0: ``NAME``)."""
    ports: dict[str, int] = {}
    if "pa-sim" in aux:
        ports["pa-sim"] = settings.pa_sim_port
    if "tsa" in aux:
        ports["tsa"] = settings.tsa_port
    for name in services:
        for i in range((replicas or {}).get(name, 1)):
            ports[child_key(name, i)] = service_port(settings.metrics_port_base, name, i)
    if "portal" in (*aux, *services):  # it listens on its public URL's port (contract section 1)
        ports["portal-web"] = urlsplit(settings.portal_url).port or 443
    return ports


def listen_host(settings: Settings, name: str) -> str:
    """Where the helper ``name`` of :func:`planned_ports` listens."""
    if name == "portal-web":
        return urlsplit(settings.portal_url).hostname or "localhost"
    return settings.bind_host


def of_child(name: str, planned: dict[str, int]) -> dict[str, int]:
    """The planned ports the child process ``name`` listens on."""
    return {key: port for key, port in planned.items()
            if key == name or key.startswith(f"{name}-")}


def bind_problem(host: str, port: int) -> str | None:
    """Why ``port`` cannot be listened on at ``host`` now (None when it can).

    SO_REUSEADDR as the servers themselves set it, so a socket in TIME_WAIT is no obstacle but a
    listener (on this address or on the wildcard) is.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "is already in use by another process"
            return f"cannot be bound ({exc.strerror or exc})"
    return None


def first_conflict(settings: Settings, aux: Sequence[str], services: Sequence[str],
                   replicas: Mapping[str, int] | None = None) -> str | None:
    """One sentence naming the first port ``up`` could not own, or None when all are free."""
    seen: dict[int, str] = {}
    for name, port in planned_ports(settings, aux, services, replicas).items():
        if port in seen:
            return (f"port {port} is configured for both {label(seen[port])} and {label(name)};"
                    " give each its own port.")
        seen[port] = name
        host = listen_host(settings, name)
        problem = bind_problem(host, port)
        if problem:
            return (f"port {port} on {host} for {label(name)} {problem}; "
                    "stop it or choose another port, efacture up will not trust whoever "
                    "answers there.")
    return None


def _listening_inodes(port: int) -> set[str] | None:
    """Inodes of the sockets listening on ``port`` (None when /proc cannot tell)."""
    inodes: set[str] = set()
    found_table = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            lines = Path(table).read_text().splitlines()[1:]
            found_table = True
            for line in lines:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1],
                                                                   16) == port:
                    inodes.add(fields[9])
    return inodes if found_table else None


def held_by(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds a socket listening on ``port`` (None: cannot tell here)."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return None
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    return False
