"""The simulator's in-memory state: flows, access tokens, webhooks and counters.

Thread-safe (one lock, no awaits inside): the Starlette handlers call it from the event
loop, tests may call it from another thread. Time is injectable (``now``) and the flows'
later states are materialised lazily: a flow is Pending until ``ack_at``, then Ok or Error;
after an Ok, one inbound CDAR flow per configured lifecycle code appears at its own time.
Every read first applies what is due, so the answers are as if a background job had run.

Every flow belongs to the OAuth client whose token uploaded it (inbound lifecycle flows to
the client of the invoice they are about): another client neither finds nor reads it.
"""

from __future__ import annotations

import heapq
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from services.transmit.pa_sim import search
from services.transmit.pa_sim.cdar_emit import lifecycle_cdar
from services.transmit.pa_sim.config import SimConfig
from services.transmit.pa_sim.flow import Flow, utc_now
from services.transmit.pa_sim.invoice_facts import read_facts
from services.transmit.pa_sim.webhooks import Webhooks

ACK_ERROR_DETAILS = ({"level": "Error", "item": "BR-FR-01", "reasonCode": "InvalidSchema",
                      "reasonMessage": "Rejet sémantique simulé par le PA"},)
_LC_TYPE = {"Out": "CustomerInvoice"}


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
    """The trackingId is already held for this client (answered 409 AlreadyExistingFlow)."""


class FlowStore:
    """Flows, tokens, webhooks and counters of one simulator instance."""

    def __init__(self, *, now: Callable[[], datetime] = utc_now, seed: int | None = None) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._seq = 0
        self._flows: dict[str, Flow] = {}
        self._by_tracking: dict[tuple[str, str], str] = {}
        self._due: list[_Due] = []
        self._tokens: dict[str, tuple[datetime, str]] = {}
        self.webhooks = Webhooks()
        self._uploads_attempted = 0
        self._attempt_times: list[float] = []  # monotonic, the last 100 upload attempts
        self._accepted: Counter[str] = Counter()
        self._duplicates = 0
        self._tokens_issued = 0

    # --- dice and tokens -------------------------------------------------------------

    def roll(self, probability: float) -> bool:
        """``True`` with the given probability (shared, seedable dice)."""
        with self._lock:
            return probability > 0 and self._rng.random() < probability

    def issue_token(self, lifetime_s: int, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._now()
            # Forget expired tokens so a long run does not grow without bound.
            self._tokens = {t: v for t, v in self._tokens.items() if v[0] > now}
            self._tokens[token] = (now + timedelta(seconds=lifetime_s), client_id)
            self._tokens_issued += 1
        return token

    def token_client(self, token: str) -> str | None:
        """The client a live token was issued to, or ``None``."""
        with self._lock:
            entry = self._tokens.get(token)
            return entry[1] if entry is not None and entry[0] > self._now() else None

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # --- flows -----------------------------------------------------------------------

    def count_upload_attempt(self) -> None:
        with self._lock:
            self._uploads_attempted += 1
            self._attempt_times.append(time.monotonic())
            del self._attempt_times[:-100]

    def add_outbound(self, owner: str, info: dict[str, str | None], content: bytes,
                     sha256: str, config: SimConfig, *, ack_error: list[dict[str, str]] | None
                     ) -> Flow:
        """Accept an upload; its fate (delay, Ok/Error, lifecycle codes) is fixed now.

        ``ack_error`` (details) forces an Error acknowledgement (a file the PA cannot read).
        Raises :class:`DuplicateFlow` when this client already holds the trackingId.
        """
        with self._lock:
            tracking_id = info["trackingId"] or None
            if tracking_id is not None and (owner, tracking_id) in self._by_tracking:
                self._duplicates += 1
                raise DuplicateFlow(tracking_id)
            now = self._now()
            syntax = str(info["flowSyntax"])
            flow = Flow(
                flow_id=str(uuid4()), owner=owner, tracking_id=tracking_id, direction="Out",
                syntax=syntax, flow_type="CustomerInvoiceLC" if syntax == "CDAR"
                else "CustomerInvoice", submitted_at=now, updated_at=now,
                name=str(info["name"]), processing_rule=info["processingRule"] or "B2B",
                processing_rule_source="Input" if info["processingRule"] else "Computed",
                profile=info["flowProfile"] or "Undefined", sha256=sha256, content=content,
            )
            self._flows[flow.flow_id] = flow
            if tracking_id is not None:
                self._by_tracking[(owner, tracking_id)] = flow.flow_id
                self._accepted[tracking_id] += 1
            failed = ack_error is not None or (
                config.ack_error_rate > 0 and self._rng.random() < config.ack_error_rate)
            flow.details = list(ack_error or ACK_ERROR_DETAILS) if failed else []
            later = () if syntax == "CDAR" else config.lifecycle_codes
            self._schedule(now + timedelta(seconds=config.ack_delay_s), flow.flow_id,
                           "Error" if failed else "Ok", later_codes=later,
                           interval_s=config.lifecycle_interval_s)
            self._advance()
            return flow

    def get(self, owner: str, flow_id: str) -> Flow | None:
        with self._lock:
            self._advance()
            flow = self._flows.get(flow_id)
            return flow if flow is not None and flow.owner == owner else None

    def search(self, owner: str, query: search.Query) -> dict[str, Any]:
        with self._lock:
            self._advance()
            return search.run((f for f in self._flows.values() if f.owner == owner), query)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            self._advance()
            outbound = sum(1 for flow in self._flows.values() if flow.direction == "Out")
            return {
                "uploads_attempted": self._uploads_attempted,
                "upload_attempt_times": list(self._attempt_times),
                "flows": outbound,
                "inbound_flows": len(self._flows) - outbound,
                "duplicates_refused": self._duplicates,
                "tokens_issued": self._tokens_issued,
                "by_tracking_id": dict(self._accepted),
                "webhooks": self.webhooks.count(),
                "webhook_deliveries": dict(self.webhooks.delivered),
            }

    def reset(self) -> None:
        """Forget flows, webhooks and counters; issued tokens stay valid."""
        with self._lock:
            self._flows.clear()
            self._by_tracking.clear()
            self._due.clear()
            self.webhooks.clear()
            self._uploads_attempted = 0
            self._attempt_times.clear()
            self._accepted.clear()
            self._duplicates = 0
            self._tokens_issued = 0

    def add_inbound_raw(self, owner: str, name: str, content: bytes,
                        tracking_id: str | None = None) -> Flow:
        """An inbound lifecycle flow with arbitrary bytes (tests: a CDAR failing the schema)."""
        with self._lock:
            now = self._now()
            flow = Flow(flow_id=str(uuid4()), owner=owner, tracking_id=tracking_id,
                        direction="In", syntax="CDAR", flow_type="CustomerInvoiceLC",
                        submitted_at=now, updated_at=now, ack_status="Ok", name=name,
                        processing_rule_source="Computed", content=content)
            self._flows[flow.flow_id] = flow
            self.webhooks.notify(flow)
            return flow

    def advance(self) -> None:
        """Apply what is due now (the webhook ticker calls it)."""
        with self._lock:
            self._advance()

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
                self.webhooks.notify(flow)
                if due.outcome == "Error":
                    continue
                flow.details = []
            if due.later_codes:
                head, *rest = due.later_codes
                self._schedule(due.at + timedelta(seconds=due.interval_s), flow.flow_id,
                               "lifecycle", code=head, later_codes=tuple(rest),
                               interval_s=due.interval_s)

    def _add_inbound(self, origin: Flow, code: int, at: datetime) -> None:
        facts = read_facts(origin.content, origin.name, origin.submitted_at.date())
        flow_id = str(uuid4())
        inbound = Flow(
            flow_id=flow_id, owner=origin.owner, tracking_id=origin.tracking_id,
            direction="In", syntax="CDAR", flow_type="CustomerInvoiceLC", submitted_at=at,
            updated_at=at, ack_status="Ok", name=f"CDAR-{code}-{facts.number}.xml",
            processing_rule=origin.processing_rule, processing_rule_source="Computed",
            content=lifecycle_cdar(code, facts, document_id=flow_id, at=at),
            lifecycle_code=code,
        )
        self._flows[inbound.flow_id] = inbound
        self.webhooks.notify(inbound)
