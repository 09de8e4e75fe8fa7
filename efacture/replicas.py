"""How many processes of each service ``efacture up`` runs, and where each one listens.

``--replicas ingest=2,archive=2`` (or ``EFACTURE_REPLICAS``) names a count per service; a
service not named runs once. The portal runs once: it listens on its public URL's port.
Replica ``i`` of a service is ``efacture serve NAME`` with ``EFACTURE_REPLICA=i`` in its
environment; its health/metrics port is the service's port plus ``REPLICA_PORT_STEP * i``
(:func:`shared.metrics.service_port`), so replica 0 keeps the port of a single process.
"""

from __future__ import annotations

from collections.abc import Mapping

REPLICABLE = ("ingest", "archive", "transmit", "metering")
MAX_REPLICAS = 16


class ReplicasError(ValueError):
    """A ``--replicas`` value that cannot be used; the message is one sentence for the user."""


def parse_replicas(text: str | None) -> dict[str, int]:
    """``"ingest=2,archive=3"`` → ``{"ingest": 2, "archive": 3}`` (only the services named).

    Raises :class:`ReplicasError` for an unknown service, a count that is not an integer
    between 1 and ``MAX_REPLICAS``, or a service named twice.
    """
    counts: dict[str, int] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep or name not in REPLICABLE:
            raise ReplicasError(
                f"{part!r} is not SERVICE=COUNT with SERVICE one of {', '.join(REPLICABLE)}.")
        if name in counts:
            raise ReplicasError(f"{name} is named twice in the replicas.")
        try:
            count = int(raw.strip())
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_REPLICAS:
            raise ReplicasError(
                f"the replica count of {name} must be a whole number from 1 to {MAX_REPLICAS}.")
        counts[name] = count
    return counts


def plan(services: tuple[str, ...], counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Every (service, replica index) ``up`` runs, services in order, replicas in order."""
    return [(name, i) for name in services for i in range(counts.get(name, 1))]


def child_key(name: str, replica: int) -> str:
    """The name a replica goes by in ``up``'s output and port plan (``archive``, ``archive#1``)."""
    return name if replica == 0 else f"{name}#{replica}"
