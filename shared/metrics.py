"""Every metric name, declared once (after arroyo's metric_defs), and the health/metrics endpoint.

Each service serves ``GET /metrics`` (Prometheus text) and ``GET /health`` (200 once it
consumes, 503 otherwise) on ``EFACTURE_METRICS_PORT_BASE`` + its offset.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from shared.logging import get_logger

log = get_logger(__name__)

MetricName = Literal[
    "efacture_messages_processed_total",   # messages acked after their effect, per service
    "efacture_messages_rejected_total",    # submissions answered `rejected`, per reason code
    "efacture_messages_retried_total",     # messages requeued or parked for a later attempt
    "efacture_messages_dead_lettered_total",  # messages sent to a dead-letter queue
    "efacture_handler_seconds",            # handler latency, receive to ack
    "efacture_breaker_open",               # 1 while a PA's circuit breaker is open
]

PROCESSED = Counter("efacture_messages_processed_total", "Messages acked", ["service"])
REJECTED = Counter("efacture_messages_rejected_total", "Submissions rejected", ["code"])
RETRIED = Counter("efacture_messages_retried_total", "Messages retried", ["service"])
DEAD_LETTERED = Counter("efacture_messages_dead_lettered_total", "Messages dead-lettered",
                        ["service"])
HANDLER_SECONDS = Histogram("efacture_handler_seconds", "Handler latency", ["service"],
                            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
BREAKER_OPEN = Gauge("efacture_breaker_open", "PA circuit breaker open", ["endpoint"])

SERVICE_PORT_OFFSET = {"ingest": 0, "archive": 1, "transmit": 2, "metering": 3}


def service_port(metrics_port_base: int, service: str) -> int:
    """A service's health/metrics port: ``EFACTURE_METRICS_PORT_BASE`` + its offset."""
    return metrics_port_base + SERVICE_PORT_OFFSET.get(service, 9)


async def serve(host: str, port: int, healthy: Callable[[], bool]) -> asyncio.AbstractServer | None:
    """Start the tiny HTTP endpoint; a busy port is logged, not fatal (metrics are optional)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            path = request.split(b" ")[1] if request.count(b" ") >= 2 else b"/"
            if path == b"/metrics":
                status, ctype, body = b"200 OK", CONTENT_TYPE_LATEST.encode(), generate_latest()
            elif path == b"/health":
                ok = healthy()
                status = b"200 OK" if ok else b"503 Service Unavailable"
                ctype, body = b"application/json", b'{"status":"%s"}' % (b"ok" if ok else b"down")
            else:
                status, ctype, body = b"404 Not Found", b"text/plain", b"not found"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype
                         + b"\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    try:
        return await asyncio.start_server(handle, host, port)
    except OSError as exc:
        log.warning("metrics-endpoint-unavailable", port=port, error=str(exc))
        return None
