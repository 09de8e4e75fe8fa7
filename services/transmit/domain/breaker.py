"""A circuit breaker for calls to the PA: stop hammering a platform that is down.

Pure state machine with an injectable monotonic clock (no I/O, no threads):

- **closed**: every call goes through; outcomes are kept over a sliding window
  (``window_s``, default 60 s). When the window holds at least ``min_calls`` (10) outcomes
  and more than ``failure_ratio`` (half) of them are failures, the breaker **opens**.
- **open**: :meth:`CircuitBreaker.allow` refuses every call until ``cooldown_s`` (30 s)
  has passed since it opened; :meth:`CircuitBreaker.retry_in` says how long is left.
- **half-open**: after the cool-down exactly one probe is let through. Its success closes
  the breaker (with an empty window); its failure re-opens it for another cool-down.

Only transient failures (5xx, 429, timeouts, connection errors) should be recorded as
failures: a permanent refusal proves the PA is up and answering.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """One breaker per remote endpoint. Not thread-safe: use it from one event loop."""

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        min_calls: int = 10,
        failure_ratio: float = 0.5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s <= 0 or cooldown_s < 0 or min_calls < 1 or not 0 <= failure_ratio < 1:
            raise ValueError("invalid circuit breaker parameters")
        self._window_s = window_s
        self._min_calls = min_calls
        self._failure_ratio = failure_ratio
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._failures = 0  # failures in _outcomes, kept so recording stays O(1) amortised
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose cool-down has passed reads half-open."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probe_in_flight or self._clock() - self._opened_at >= self._cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_in(self) -> float:
        """Seconds until a call may be let through again (0 when it may go now)."""
        if self._opened_at is None:
            return 0.0
        if self._probe_in_flight:
            # The probe's outcome is not known yet; a fresh cool-down is the worst case.
            return self._cooldown_s
        return max(0.0, self._opened_at + self._cooldown_s - self._clock())

    def allow(self) -> bool:
        """May a call go out now? In half-open, ``True`` only for the single probe.

        A caller that gets ``True`` must report the outcome with :meth:`record_success`
        or :meth:`record_failure`.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        if self._opened_at is not None:
            if self._probe_in_flight:
                self._close()
            # A late success from before the breaker opened does not close it.
            return
        self._record(ok=True)

    def record_failure(self) -> None:
        if self._opened_at is not None:
            if self._probe_in_flight:
                self._open()
            return
        self._record(ok=False)

    def _record(self, *, ok: bool) -> None:
        now = self._clock()
        self._outcomes.append((now, ok))
        self._failures += not ok
        horizon = now - self._window_s
        while self._outcomes and self._outcomes[0][0] <= horizon:
            _, good = self._outcomes.popleft()
            self._failures -= not good
        total = len(self._outcomes)
        if total >= self._min_calls and self._failures > self._failure_ratio * total:
            self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._probe_in_flight = False
        self._outcomes.clear()
        self._failures = 0

    def _close(self) -> None:
        self._opened_at = None
        self._probe_in_flight = False
        self._outcomes.clear()
        self._failures = 0
