"""The simulator's in-memory state: flows, access tokens and counters.

Thread-safe (one lock, no awaits inside): the Starlette handlers call it from the event
loop, tests may call it from another thread. Time is injectable (``now``) and the flows'
later states are materialised lazily: a flow is Pending until ``ack_at``, then Ok or Error;
after an Ok, one inbound CDAR flow per configured lifecycle code appears at its own time.
Every read first applies what is due, so the answers are as if a background job had run.
"""

from __future__ import annotations

import heapq
import random
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from services.transmit.pa_sim.config import SimConfig
from services.transmit.pa_sim.flow import Flow, utc_now

ACK_ERROR_REASONS = ({"code": "REJ_SEMAN", "message": "Rejet sémantique simulé par le PA"},)


@dataclass(order=True)
class _Due:
    at: datetime
    seq: int
    flow_id: str = field(compare=False)
    outcome: str = field(compare=False)  # "Ok", "Error" or "lifecycle"
    code: int | None = field(compare=False, default=None)
    later_codes: tuple[int, ...] = field(compare=False, default=())
    interval_s: float = field(compare=False, default=0.0)


class DuplicateFlow(Exception):
    """The trackingId is already held (the PA answers 409 AlreadyExistingFlow)."""


class FlowStore:
    """Flows, tokens and counters of one simulator instance."""

    def __init__(self, *, now: Callable[[], datetime] = utc_now, seed: int | None = None) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._seq = 0
        self._flows: dict[str, Flow] = {}
        self._by_tracking: dict[str, str] = {}
        self._due: list[_Due] = []
        self._tokens: dict[str, datetime] = {}
        self._uploads_attempted = 0
        self._accepted: Counter[str] = Counter()
        self._duplicates = 0
        self._tokens_issued = 0

    # --- dice and tokens -------------------------------------------------------------

    def roll(self, probability: float) -> bool:
        """``True`` with the given probability (shared, seedable dice)."""
        with self._lock:
            return probability > 0 and self._rng.random() < probability

    def issue_token(self, lifetime_s: int) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._now()
            # Forget expired tokens so a long run does not grow without bound.
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + timedelta(seconds=lifetime_s)
            self._tokens_issued += 1
        return token

    def token_valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
            return expires is not None and expires > self._now()

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # --- flows -----------------------------------------------------------------------

    def count_upload_attempt(self) -> None:
        with self._lock:
            self._uploads_attempted += 1

    def add_outbound(self, info: dict[str, str], config: SimConfig) -> Flow:
        """Accept an upload; its fate (delay, Ok/Error, lifecycle codes) is fixed now.

        Raises :class:`DuplicateFlow` when the trackingId is already held.
        """
        with self._lock:
            tracking_id = info["trackingId"]
            if tracking_id in self._by_tracking:
                self._duplicates += 1
                raise DuplicateFlow(tracking_id)
            now = self._now()
            flow = Flow(
                flow_id=str(uuid4()), tracking_id=tracking_id, direction="Out",
                syntax=info["flowSyntax"], submitted_at=now, updated_at=now,
                name=info["name"], profile=info["flowProfile"], sha256=info["sha256"],
            )
            self._flows[flow.flow_id] = flow
            self._by_tracking[tracking_id] = flow.flow_id
            self._accepted[tracking_id] += 1
            failed = config.ack_error_rate > 0 and self._rng.random() < config.ack_error_rate
            self._schedule(
                now + timedelta(seconds=config.ack_delay_s), flow.flow_id,
                "Error" if failed else "Ok",
                later_codes=config.lifecycle_codes, interval_s=config.lifecycle_interval_s,
            )
            self._advance()
            return flow

    def get(self, flow_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._advance()
            flow = self._flows.get(flow_id)
            return None if flow is None else flow.as_json()

    def search(
        self,
        *,
        tracking_id: str | None = None,
        updated_after: datetime | None = None,
        direction: str | None = None,
    ) -> list[dict[str, Any]]:
        """Flows matching every given criterion, oldest ``updatedAt`` first."""
        with self._lock:
            self._advance()
            found = [
                flow for flow in self._flows.values()
                if (tracking_id is None or flow.tracking_id == tracking_id)
                and (updated_after is None or flow.updated_at > updated_after)
                and (direction is None or flow.direction == direction)
            ]
            found.sort(key=lambda flow: (flow.updated_at, flow.flow_id))
            return [flow.as_json() for flow in found]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            outbound = sum(1 for flow in self._flows.values() if flow.direction == "Out")
            return {
                "uploads_attempted": self._uploads_attempted,
                "flows": outbound,
                "inbound_flows": len(self._flows) - outbound,
                "duplicates_refused": self._duplicates,
                "tokens_issued": self._tokens_issued,
                "by_tracking_id": dict(self._accepted),
            }

    def reset(self) -> None:
        """Forget flows and counters; issued tokens stay valid (clients keep working)."""
        with self._lock:
            self._flows.clear()
            self._by_tracking.clear()
            self._due.clear()
            self._uploads_attempted = 0
            self._accepted.clear()
            self._duplicates = 0
            self._tokens_issued = 0

    # --- lazy state machine (call with the lock held) ----------------------------------

    def _schedule(self, at: datetime, flow_id: str, outcome: str, *, code: int | None = None,
                  later_codes: tuple[int, ...] = (), interval_s: float = 0.0) -> None:
        self._seq += 1
        heapq.heappush(self._due, _Due(at, self._seq, flow_id, outcome, code, later_codes,
                                       interval_s))

    def _advance(self) -> None:
        now = self._now()
        while self._due and self._due[0].at <= now:
            due = heapq.heappop(self._due)
            flow = self._flows.get(due.flow_id)
            if flow is None:
                continue
            if due.outcome == "lifecycle" and due.code is not None:
                self._add_inbound(flow, due.code, due.at)
            else:
                flow.ack_status = due.outcome
                flow.updated_at = due.at
                if due.outcome == "Error":
                    flow.reasons = [dict(reason) for reason in ACK_ERROR_REASONS]
                    continue
            if due.later_codes:
                head, *rest = due.later_codes
                self._schedule(due.at + timedelta(seconds=due.interval_s), flow.flow_id,
                               "lifecycle", code=head, later_codes=tuple(rest),
                               interval_s=due.interval_s)

    def _add_inbound(self, origin: Flow, code: int, at: datetime) -> None:
        inbound = Flow(
            flow_id=str(uuid4()), tracking_id=origin.tracking_id, direction="In",
            syntax="CDAR", submitted_at=at, updated_at=at, ack_status="Ok",
            name=f"CDAR-{code}-{origin.tracking_id}", lifecycle_code=code,
        )
        self._flows[inbound.flow_id] = inbound
