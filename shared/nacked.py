"""Publishes the broker refuses (``Basic.Nack``): waited out in the publisher, not requeued.

A nack says the broker could not take the message *now*. Seen on RabbitMQ 3.10.8 after a
node is killed: one service's publishes are nacked for as long as that node stays away, even
on the fresh connection to a survivor (``docs/deployment.md``). Raised to the handler, each
nack requeued the input, and every requeue counts towards the quorum queue's delivery limit:
a two-minute outage then dead-letters healthy invoices. So :func:`publish_confirmed` sends
the same message again, after the project's growing pause (:mod:`shared.backoff`), until the
broker confirms it or ``patience`` seconds have passed; only then does it raise (the
handler's usual retry). A repeat is harmless: every message carries its idempotency key
(``message_id``), which consumers dedupe on. Returns (unroutable, ``mandatory``) and every
other error are raised at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiormq import spec
from aiormq.exceptions import DeliveryError

from shared import backoff
from shared.logging import get_logger

log = get_logger(__name__)

def is_nack(exc: BaseException) -> bool:
    """True for the broker's refusal of a publish (not a return of an unroutable one)."""
    return isinstance(exc, DeliveryError) and isinstance(exc.frame, spec.Basic.Nack)


async def publish_confirmed(
    send: Callable[[], Awaitable[object]], *, patience: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> int:
    """``send()`` until confirmed; returns the number of nacks waited out (0 normally).

    Raises the last nack after ``patience`` seconds of nacks, and anything else at once."""
    deadline = clock() + patience
    nacks = 0
    while True:
        try:
            await send()
            if nacks:
                log.info("publish-confirmed-after-nacks", nacks=nacks)
            return nacks
        except DeliveryError as exc:
            if not is_nack(exc) or clock() >= deadline:
                raise
            pause = backoff.pause(nacks)
            nacks += 1
            log.warning("publish-nacked", nacks=nacks, retry_in_s=pause)
            await sleep(min(pause, max(0.0, deadline - clock())))
