"""Publishes the PA circuit breakers' states: a Prometheus gauge, a log line on change, and a
row per platform in ``transmit.breaker`` that ``efacture status`` shows."""

from __future__ import annotations

from services.transmit.domain.breaker import BreakerState
from services.transmit.service import TransmitService
from shared.logging import get_logger
from shared.metrics import BREAKER_OPEN

log = get_logger(__name__)


class BreakerReport:
    def __init__(self, transmit: TransmitService) -> None:
        self.t = transmit
        self._last: dict[str, BreakerState] = {}

    async def report(self) -> None:
        states = self.t.pa.breaker_states()
        for url, state in states.items():
            BREAKER_OPEN.labels(url).set(1 if state is BreakerState.OPEN else 0)
            if self._last.get(url, BreakerState.CLOSED) is not state:
                log.warning("pa-breaker-changed", endpoint=url, state=state.value)
        if not states:
            return
        async with self.t.rt.pool.connection() as conn, conn.transaction():
            for url, state in states.items():
                await conn.execute(
                    "INSERT INTO transmit.breaker (endpoint, state) VALUES (%s, %s)"
                    " ON CONFLICT (endpoint) DO UPDATE"
                    " SET state = EXCLUDED.state, updated_at = now()",
                    (url, state.value),
                )
        self._last = dict(states)
