"""How a handler's outcome maps to ack / retry / dead-letter, in one place.

- the block returns → ack (the effect is committed and its messages confirmed);
- :class:`PermanentError` escapes → the message can never succeed: it is
  rejected without requeue, so the queue dead-letters it (at least once);
- anything else (``RetryableError``, a database or broker error, a bug) →
  requeued after a short pause that grows with the delivery count; the quorum
  queue's ``x-delivery-limit`` dead-letters it when the limit is reached.
The pause is a back-off on the consumer while a dependency is down, not a
per-message retry schedule (transmit's retries go through delay queues).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from faststream.rabbit.annotations import RabbitMessage

from shared import backoff
from shared.errors import PermanentError
from shared.logging import get_logger
from shared.metrics import DEAD_LETTERED, HANDLER_SECONDS, PROCESSED, RETRIED

log = get_logger(__name__)


async def raw_body(msg: Any) -> bytes:
    """FastStream decoder that hands handlers the body's bytes, whatever its content type
    (each handler validates them itself, so a malformed body is answered, never dropped)."""
    return bytes(msg.body)


def delivery_count(msg: RabbitMessage) -> int:
    headers = msg.raw_message.headers or {}
    value = headers.get("x-delivery-count", 0)
    return int(value) if isinstance(value, int) else 0


@asynccontextmanager
async def settle(msg: RabbitMessage, service: str) -> AsyncIterator[None]:
    started = time.perf_counter()
    try:
        yield
    except PermanentError as exc:
        log.error("message-dead-lettered", code=exc.code, error=str(exc))
        DEAD_LETTERED.labels(service).inc()
        await msg.reject(requeue=False)
    except Exception as exc:
        count = delivery_count(msg)
        log.warning("message-requeued", error=f"{type(exc).__name__}: {exc}", deliveries=count)
        RETRIED.labels(service).inc()
        await asyncio.sleep(backoff.pause(count))
        await msg.nack(requeue=True)
    else:
        await msg.ack()
        PROCESSED.labels(service).inc()
        HANDLER_SECONDS.labels(service).observe(time.perf_counter() - started)
