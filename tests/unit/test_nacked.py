"""A publish the broker nacks is retried in the publisher until confirmed (no requeue of the
input, so no delivery-limit burn), within a patience; everything else is raised at once."""

from __future__ import annotations

import asyncio

import pytest
from aiormq import spec
from aiormq.exceptions import DeliveryError

from shared.nacked import is_nack, publish_confirmed

pytestmark = pytest.mark.unit


class Broker:
    """Nacks the first ``nacks`` publishes, then confirms; counts what it was sent."""

    def __init__(self, nacks: int, error: Exception | None = None) -> None:
        self.left, self.error, self.sent = nacks, error, 0

    async def publish(self) -> None:
        self.sent += 1
        if self.error is not None:
            raise self.error
        if self.left > 0:
            self.left -= 1
            raise DeliveryError(None, spec.Basic.Nack(delivery_tag=self.sent))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def _run(broker: Broker, clock: Clock, patience: float) -> int:
    return asyncio.run(publish_confirmed(broker.publish, patience=patience, clock=clock,
                                         sleep=clock.sleep))


def test_nacks_are_waited_out_until_the_broker_confirms() -> None:
    broker, clock = Broker(nacks=4), Clock()
    assert _run(broker, clock, patience=60) == 4
    assert broker.sent == 5, "the message was not sent again after each nack"
    assert clock.pauses == [0.2, 0.4, 0.8, 1.6], "the pauses do not grow"


def test_nacks_beyond_the_patience_reach_the_handler() -> None:
    broker, clock = Broker(nacks=1000), Clock()
    with pytest.raises(DeliveryError) as raised:
        _run(broker, clock, patience=30)
    assert is_nack(raised.value)
    assert 30 <= clock.now <= 31, "it gave up before, or long after, its patience"


def test_a_confirmed_publish_is_sent_once() -> None:
    broker, clock = Broker(nacks=0), Clock()
    assert _run(broker, clock, patience=60) == 0
    assert broker.sent == 1
    assert clock.pauses == []


@pytest.mark.parametrize("error", [
    DeliveryError(None, spec.Basic.Return(reply_code=312, reply_text="NO_ROUTE")),
    ConnectionResetError("gone"),
])
def test_other_failures_are_raised_at_once(error: Exception) -> None:
    broker, clock = Broker(nacks=0, error=error), Clock()
    with pytest.raises(type(error)):
        _run(broker, clock, patience=60)
    assert broker.sent == 1, "a failure that is not a nack was retried"
    assert not is_nack(error)
