"""Every metric name, declared once (after arroyo's metric_defs), and the health/metrics endpoint.

Each service serves ``GET /metrics`` (Prometheus text) and ``GET /health`` (200 once it
consumes, 503 otherwise) on ``EFACTURE_METRICS_PORT_BASE`` + its offset.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Literal

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
    "efacture_amqp_published_total",       # confirmed AMQP publishes, per service
    "efacture_http_requests_total",        # HTTP requests sent, per peer (pa, tsa)
]

PROCESSED = Counter("efacture_messages_processed_total", "Messages acked", ["service"])
REJECTED = Counter("efacture_messages_rejected_total", "Submissions rejected", ["code"])
RETRIED = Counter("efacture_messages_retried_total", "Messages retried", ["service"])
DEAD_LETTERED = Counter("efacture_messages_dead_lettered_total", "Messages dead-lettered",
                        ["service"])
HANDLER_SECONDS = Histogram("efacture_handler_seconds", "Handler latency", ["service"],
                            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
BREAKER_OPEN = Gauge("efacture_breaker_open", "PA circuit breaker open", ["endpoint"])
AMQP_PUBLISHED = Counter("efacture_amqp_published_total", "Confirmed AMQP publishes", ["service"])
HTTP_REQUESTS = Counter("efacture_http_requests_total", "HTTP requests sent", ["peer"])


def http_request_counter(peer: str) -> Callable[[Any], Awaitable[None]]:
    """An httpx ``event_hooks["request"]`` hook counting each request sent to ``peer``
    (retries and token fetches included: what the benchmark's requests per invoice count)."""
    child = HTTP_REQUESTS.labels(peer)

    async def count(_request: Any) -> None:
        child.inc()

    return count

SERVICE_PORT_OFFSET = {"ingest": 0, "archive": 1, "transmit": 2, "metering": 3}
REPLICA_PORT_STEP = 10  # replica i of a service listens REPLICA_PORT_STEP * i above replica 0


def service_port(metrics_port_base: int, service: str, replica: int = 0) -> int:
    """A service's health/metrics port: ``EFACTURE_METRICS_PORT_BASE`` + its offset, plus
    ``REPLICA_PORT_STEP`` per replica index (several processes of a service on one host)."""
    return metrics_port_base + SERVICE_PORT_OFFSET.get(service, 9) + REPLICA_PORT_STEP * replica


# The endpoint reads one request line and answers; anything else is refused cheaply. A request
# line longer than this is answered 414, a line that is not HTTP 400, without reading on.
MAX_REQUEST_LINE = 4096
MAX_CONNECTIONS = 32        # concurrent clients; more are closed at once (a scraper needs one)
READ_TIMEOUT_SECONDS = 5.0  # a client that sends nothing is dropped after this long
_DRAIN_BYTES = 1 << 20      # read (and discard) at most this much after refusing, so the
                            # client gets the answer rather than a reset


def _response(status: bytes, ctype: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype
            + b"\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n" + body)


def answer(request_line: bytes, healthy: Callable[[], bool]) -> bytes:
    """The whole HTTP response to one request line (pure: no I/O, never raises).

    ``GET /metrics`` -> Prometheus text; ``GET /health`` -> 200 or 503; another path -> 404;
    another method -> 405; a line that is not ``METHOD SP PATH SP HTTP/x.y`` -> 400.
    """
    parts = request_line.rstrip(b"\r\n").split(b" ")
    if (len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or not parts[1].startswith(b"/")
            or not parts[0].isalpha()):
        return _response(b"400 Bad Request", b"text/plain", b"bad request")
    method, target = parts[0], parts[1].split(b"?", 1)[0]
    if method not in (b"GET", b"HEAD"):
        return _response(b"405 Method Not Allowed", b"text/plain", b"method not allowed")
    if target == b"/metrics":
        return _response(b"200 OK", CONTENT_TYPE_LATEST.encode(), generate_latest())
    if target == b"/health":
        ok = healthy()
        return _response(b"200 OK" if ok else b"503 Service Unavailable", b"application/json",
                         b'{"status":"%s"}' % (b"ok" if ok else b"down"))
    return _response(b"404 Not Found", b"text/plain", b"not found")


async def _read_request_line(reader: asyncio.StreamReader) -> bytes | None:
    """The request line, or None when it is longer than :data:`MAX_REQUEST_LINE`."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        return None
    except asyncio.IncompleteReadError as exc:  # the client closed before a newline
        return exc.partial


async def _drain(reader: asyncio.StreamReader) -> None:
    """Discard what the client still sends (bounded), so closing does not reset the answer."""
    left = _DRAIN_BYTES
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        while left > 0:
            chunk = await asyncio.wait_for(reader.read(min(left, 65536)), timeout=1.0)
            if not chunk:
                return
            left -= len(chunk)


async def serve(host: str, port: int, healthy: Callable[[], bool]) -> asyncio.AbstractServer | None:
    """Start the tiny HTTP endpoint; a busy port is logged, not fatal here (``efacture up``
    checks the ports itself before it starts anything).

    Hostile clients cannot take it down: an oversized or binary request line gets a 414 or 400
    and the connection is closed, a silent client is dropped after
    :data:`READ_TIMEOUT_SECONDS`, and at most :data:`MAX_CONNECTIONS` are served at once.
    """
    slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if slots.locked():
            writer.close()
            return
        async with slots:
            try:
                line = await asyncio.wait_for(_read_request_line(reader),
                                              timeout=READ_TIMEOUT_SECONDS)
                if line is None:
                    response = _response(b"414 URI Too Long", b"text/plain",
                                         b"request line too long")
                else:
                    response = answer(line, healthy)
                writer.write(response)
                await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
                await _drain(reader)
            except (TimeoutError, ConnectionError, OSError):
                pass
            except Exception as exc:  # one client's request never ends the endpoint
                log.warning("metrics-request-failed", error=repr(exc)[:200])
            finally:
                with contextlib.suppress(Exception):
                    writer.close()

    try:
        return await asyncio.start_server(handle, host, port, limit=MAX_REQUEST_LINE)
    except OSError as exc:
        log.warning("metrics-endpoint-unavailable", port=port, error=str(exc))
        return None
