"""Reading and settling a dead-letter queue without ever losing a message (pika, blocking).

A :class:`DeadLetterQueue` takes every message the queue held when it was
opened (``basic_get`` with manual ack, so nothing is removed by reading) and
keeps them unacked. :meth:`DeadLetterQueue.replay` publishes a copy with
publisher confirms and only THEN acks the dead copy; :meth:`DeadLetterQueue.drop`
acks it. Closing returns every message not settled to the queue, and so does
a crash at any point: a replayed letter may then be present twice (its copy
and its dead original), never zero times.

The same dead letter may sit in the queue more than once (the outbox publishes
at least once): copies are grouped under one :attr:`DeadLetter.id` and
settled together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from shared.amqp_nodes import pika_parameters
from shared.topology import INBOUND, INTERNAL, Q_TRANSMIT, RK_SUBMIT, RK_TRANSMIT_RETRY, dlq_name

REPLAY_HEADER = "x-efacture-replay-count"
TRANSMIT_DLQ = dlq_name(Q_TRANSMIT)
# Set by the broker when it dead-letters or redelivers: a replay starts without them.
_BROKER_HEADERS = frozenset({
    "x-death", "x-delivery-count", "x-first-death-exchange", "x-first-death-queue",
    "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue",
    "x-last-death-reason",
    # Sender-selected routing is the original publisher's, never replayed by an operator.
    "CC", "BCC",
})


@dataclass
class DeadLetter:
    """One dead letter (possibly several identical copies in the queue)."""

    id: str
    queue: str
    body: bytes
    properties: pika.BasicProperties
    tags: list[int] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.properties.headers or {})

    @property
    def deaths(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self.headers.get("x-death") or []]

    @property
    def payload(self) -> dict[str, Any]:
        """The body as a JSON object, or ``{}`` when it is not one."""
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def replay_count(self) -> int:
        value = self.headers.get(REPLAY_HEADER, 0)
        return value if isinstance(value, int) else 0

    def summary(self) -> dict[str, Any]:
        """The contract's ``dlq list`` row (section 4), from the service's headers, else
        from the broker's ``x-death`` (a message dead-lettered by its delivery limit)."""
        h, p, deaths = self.headers, self.payload, self.deaths
        first_death = deaths[-1] if deaths else {}
        attempts = h.get("x-efacture-attempts")
        if attempts is None:
            attempts = sum(int(d.get("count", 0)) for d in deaths)
        error = h.get("x-efacture-error")
        if error is None and deaths:
            error = f"{deaths[0].get('reason', 'dead-lettered')} from {deaths[0].get('queue', '?')}"
        failed_at = h.get("x-efacture-first-failed-at") or _iso(first_death.get("time"))
        return {
            "id": self.id,
            "tenant": self.submitted_for() or h.get("x-efacture-tenant") or p.get("tenant")
            or h.get("tenant"),
            "invoice_id": p.get("invoice_id"),
            "invoice_number": h.get("x-efacture-invoice-number") or p.get("invoice_number"),
            "attempts": int(attempts),
            "last_error": _text(error),
            "permanent": bool(h.get("x-efacture-permanent", False)),
            "first_failed_at": _text(failed_at),
        }

    def submitted_for(self) -> str | None:
        """For an ERP submission on ``invoice.submit.<SIRET>``: that SIRET, the tenant the
        broker authenticated (its ``tenant`` header is only a claim)."""
        exchange, key = self.target()
        prefix = RK_SUBMIT + "."
        if exchange == INBOUND and key.startswith(prefix):
            return key[len(prefix):]
        return None

    def target(self) -> tuple[str, str]:
        """Where a replay goes: transmit's retry key for transmissions (the service starts
        a new round when the replay count grows), else where the broker took it from."""
        deaths = self.deaths
        if self.queue == TRANSMIT_DLQ or not deaths:
            return INTERNAL, RK_TRANSMIT_RETRY
        last = deaths[0]  # the broker puts the latest death first
        keys = last.get("routing-keys") or []
        return _text(last.get("exchange")) or "", (_text(keys[0]) or "") if keys else ""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else _text(value)


def letter_id(props: pika.BasicProperties, body: bytes) -> str:
    """The message id (unique per dead-lettering), else a digest of the body."""
    if props.message_id:
        return str(props.message_id)
    return "sha256-" + hashlib.sha256(body).hexdigest()[:24]


class DeadLetterQueue:
    """A snapshot of one dead-letter queue, held unacked until :meth:`close`."""

    def __init__(self, amqp_url: str, queue: str = TRANSMIT_DLQ) -> None:
        self.queue = queue
        self._conn = pika.BlockingConnection(pika_parameters(amqp_url))  # first node answering
        self._ch: BlockingChannel = self._conn.channel()
        self._ch.confirm_delivery()
        self.letters: list[DeadLetter] = self._read()

    def _read(self) -> list[DeadLetter]:
        """Every message present now (not those dead-lettered while we read)."""
        count = self._ch.queue_declare(self.queue, passive=True).method.message_count
        by_id: dict[str, DeadLetter] = {}
        for _ in range(count):
            method, props, body = self._ch.basic_get(self.queue, auto_ack=False)
            if method is None:
                break
            lid = letter_id(props, body)
            fresh = DeadLetter(lid, self.queue, body, props)
            same = by_id.get(lid)
            if same is not None and (same.body, same.target()) != (body, fresh.target()):
                # Two tenants may use the same message_id: never settle one with the other.
                where = "\x00".join(fresh.target()).encode()
                lid = fresh.id = f"{lid}~{hashlib.sha256(where + body).hexdigest()[:12]}"
            letter = by_id.setdefault(lid, fresh)
            letter.tags.append(method.delivery_tag)
        return list(by_id.values())

    def find(self, ids: list[str]) -> list[DeadLetter]:
        """The letters with these ids (an unambiguous prefix is enough); raises KeyError."""
        found: list[DeadLetter] = []
        for wanted in ids:
            matches = [x for x in self.letters if x.id == wanted] or [
                x for x in self.letters if x.id.startswith(wanted)]
            if len(matches) != 1:
                raise KeyError(wanted)
            found.append(matches[0])
        return found

    def republish(self, letter: DeadLetter) -> int:
        """Publish a copy (replay count + 1) and wait for the broker's confirm.

        Returns the new replay count; raises ``pika.exceptions.UnroutableError`` /
        ``NackError`` when the broker does not take it. The dead copy stays until
        :meth:`remove`: a crash in between leaves both, never neither.
        """
        count = letter.replay_count + 1
        exchange, routing_key = letter.target()
        headers = {k: v for k, v in letter.headers.items() if k not in _BROKER_HEADERS}
        headers[REPLAY_HEADER] = count
        # An ERP submission keeps its message_id (the ERP's idempotency key) and its routing
        # key (exchange, routing_key above: the authenticated tenant, invoice.submit.<SIRET>).
        mid = (letter.properties.message_id if exchange == INBOUND and letter.properties.message_id
               else f"{letter.id}:replay-{count}")
        props = pika.BasicProperties(
            message_id=mid, delivery_mode=2, headers=headers,
            content_type=letter.properties.content_type or "application/json")
        self._ch.basic_publish(exchange, routing_key, letter.body, props, mandatory=True)
        return count

    def replay(self, letter: DeadLetter) -> int:
        """:meth:`republish`, then :meth:`remove`; returns the new replay count."""
        count = self.republish(letter)
        self.remove(letter)
        return count

    def remove(self, letter: DeadLetter) -> None:
        for tag in letter.tags:
            self._ch.basic_ack(tag)
        letter.tags.clear()

    def close(self) -> None:
        """Return every letter not settled to the queue."""
        if self._conn.is_open:
            self._conn.close()

    def __enter__(self) -> DeadLetterQueue:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
