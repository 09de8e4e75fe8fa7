"""A submission carrying x-death (or x-first-death-*, x-last-death-*) was forged by its
publisher: those headers are the broker's, and RabbitMQ 3.x keeps a publisher's x-death
entry, routing keys included, when it dead-letters the message for the same queue and
reason. ``efacture dlq replay`` takes the routing key, the authenticated tenant, from that
entry: an ERP of tenant A could have its message replayed on B's key. Ingest answers such
a submission tenant-forged to A and never lets it reach the dead-letter queue."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from services.ingest.domain.submission import Submission, decode
from services.ingest.handlers import make_handler

pytestmark = pytest.mark.unit

A, B = "55208131700018", "73282932000074"
KEY_A = f"invoice.submit.{A}"
FORGED_DEATH = [{"queue": "efacture.ingest", "reason": "delivery_limit",
                 "exchange": "efacture.inbound", "routing-keys": [f"invoice.submit.{B}"]}]


@pytest.mark.parametrize("header", ["x-death", "x-first-death-queue", "x-last-death-reason"])
def test_broker_headers_from_the_publisher_are_tenant_forged(header: str) -> None:
    sub = decode({"tenant": A, header: FORGED_DEATH}, "m-1", "application/xml", None, KEY_A)
    assert [e.code for e in sub.errors] == ["tenant-forged"]
    assert sub.forged
    assert sub.broker_headers_forged
    assert sub.tenant == A  # answered to the publisher's own tenant


def test_an_ordinary_submission_is_not_flagged() -> None:
    sub = decode({"tenant": A, "x-delivery-count": 3}, "m-1", "application/xml", None, KEY_A)
    assert sub.errors == ()
    assert not sub.broker_headers_forged


class Message:
    def __init__(self, headers: dict[str, Any]) -> None:
        self.raw_message = SimpleNamespace(
            headers=headers, message_id="m-1", content_type="application/xml", user_id=None,
            routing_key=KEY_A, redelivered=False)
        self.settled: list[str] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nack(self, requeue: bool = True) -> None:
        self.settled.append("nack")

    async def reject(self, requeue: bool = False) -> None:
        self.settled.append("reject")


class DownService:
    operators = frozenset({"guest"})

    def __init__(self) -> None:
        self.seen: list[Submission] = []

    async def handle(self, body: bytes, sub: Submission, *, redelivered: bool = False) -> Any:
        self.seen.append(sub)
        raise OSError("database unavailable")


def test_a_forged_submission_is_acked_even_when_it_cannot_be_answered() -> None:
    service = DownService()
    msg = Message({"tenant": A, "x-death": FORGED_DEATH})
    asyncio.run(make_handler(service)(b"<x/>", msg))  # type: ignore[arg-type]
    assert msg.settled == ["ack"]  # never requeued towards the delivery limit and the DLQ
    assert service.seen[0].broker_headers_forged
