"""Webhook subscriptions of the simulator and their signed notifications.

``POST /v1/webhooks`` stores ``WebhookParams`` for the calling client and returns a fresh
256-bit signing key (base64). Each flow event of that client matching the filters
(``flowTypes``, ``flowDirection``, ``ackStatus``) queues a notification whose body is the
``Flow`` JSON; :func:`sign` gives the ``Afnor-Signature`` headers. Delivery (an HTTP POST to
``callbackUrl``) is done by the server's ticker, outside the store's lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from services.transmit.pa_sim.flow import Flow, iso, utc_now

Pending = tuple[str, bytes, bytes]  # (callback URL, signing key, payload)

MAX_PENDING = 10_000


@dataclass(frozen=True)
class Subscription:
    webhook_id: str
    owner: str
    params: dict[str, Any]
    signing_key: bytes
    created_at: datetime

    def as_json(self, *, with_key: bool) -> dict[str, Any]:
        body = {"webhookId": self.webhook_id, "createdAt": iso(self.created_at), **self.params}
        if with_key:
            body["signingKey"] = base64.b64encode(self.signing_key).decode()
        return body

    def wants(self, flow: Flow) -> bool:
        p = self.params
        return (("flowTypes" not in p or flow.flow_type in p["flowTypes"])
                and ("flowDirection" not in p or flow.direction == p["flowDirection"])
                and ("ackStatus" not in p or flow.ack_status == p["ackStatus"]))


def sign(key: bytes, payload: bytes, timestamp: int) -> str:
    """``Afnor-Signature``: base64 HMAC-SHA-256 over ``payload + b"@" + timestamp``."""
    message = payload + b"@" + str(timestamp).encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


class Webhooks:
    """Subscriptions and the queue of notifications to deliver (bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, Subscription] = {}
        self._pending: list[Pending] = []
        self.delivered = {"accepted": 0, "refused": 0, "failed": 0}

    def create(self, owner: str, params: dict[str, Any]) -> Subscription:
        sub = Subscription(webhook_id=str(uuid4()), owner=owner, params=dict(params),
                           signing_key=secrets.token_bytes(32), created_at=utc_now())
        with self._lock:
            self._subs[sub.webhook_id] = sub
        return sub

    def owned(self, owner: str) -> list[Subscription]:
        with self._lock:
            return [s for s in self._subs.values() if s.owner == owner]

    def delete(self, owner: str, webhook_id: str) -> bool:
        with self._lock:
            sub = self._subs.get(webhook_id)
            if sub is None or sub.owner != owner:
                return False
            del self._subs[webhook_id]
            return True

    def count(self) -> int:
        with self._lock:
            return len(self._subs)

    def clear(self) -> None:
        with self._lock:
            self._subs.clear()
            self._pending.clear()
            self.delivered = dict.fromkeys(self.delivered, 0)

    def notify(self, flow: Flow) -> None:
        payload = json.dumps(flow.as_json(), separators=(",", ":")).encode()
        with self._lock:
            for sub in self._subs.values():
                if sub.owner == flow.owner and sub.wants(flow) and len(
                        self._pending) < MAX_PENDING:
                    self._pending.append((str(sub.params["callbackUrl"]), sub.signing_key,
                                          payload))

    def record(self, status: int | None) -> None:
        """One delivery's outcome: a 2xx answer, another answer, or no answer (``None``)."""
        key = "failed" if status is None else "accepted" if 200 <= status < 300 else "refused"
        with self._lock:
            self.delivered[key] += 1

    def drain(self) -> list[Pending]:
        with self._lock:
            pending, self._pending = self._pending, []
            return pending
