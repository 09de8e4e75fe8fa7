"""EFACTURE_AMQP_URL with several nodes (issue 14 item 3, client side): connect to the first
that answers, move on when the node dies — for FastStream consumers and for pika publishers.

The "nodes" are TCP forwarders on loopback in front of the one real RabbitMQ (the three-node
cluster is another fixture's job): killing one cuts every connection through it and refuses
new ones, which is what a client sees of a node that dies. The first URL names a port where
nothing listens at all.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest
from faststream.rabbit import RabbitQueue

from efacture.cli.submit import Submitter
from shared.amqp_nodes import amqp_urls, rabbit_broker
from shared.topology import INBOUND
from tests.distributed.tcp_proxy import TcpProxy
from tests.support.infra import Infra, free_port

pytestmark = pytest.mark.distributed

WAIT = 60.0


def _via(infra: Infra, port: int) -> str:
    parts = urlsplit(infra.amqp_url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit((parts.scheme, f"{user}@127.0.0.1:{port}", parts.path, "", ""))


@pytest.fixture
def nodes(infra: Infra) -> Iterator[tuple[str, TcpProxy, TcpProxy]]:
    """(comma-separated URL: a dead port, node one, node two; node one; node two)."""
    real = urlsplit(infra.amqp_url).port or 5672
    one, two = TcpProxy(real), TcpProxy(real)
    url = ",".join((_via(infra, free_port()), _via(infra, one.port), _via(infra, two.port)))
    try:
        yield url, one, two
    finally:
        one.close()
        two.close()


def test_the_url_list_is_split_and_checked() -> None:
    assert amqp_urls(" amqp://a/ , amqp://b/ ") == ["amqp://a/", "amqp://b/"]
    with pytest.raises(ValueError, match="no RabbitMQ node"):
        amqp_urls(" , ")
    with pytest.raises(ValueError, match="not an amqp"):
        amqp_urls("amqp://a/,http://b/")


def test_a_consumer_starts_on_the_first_answering_node_and_moves_on(nodes) -> None:
    url, one, two = nodes
    queue = f"nodes-{uuid.uuid4().hex[:8]}"
    got: list[bytes] = []

    async def run() -> None:
        arrived = asyncio.Event()
        broker = rabbit_broker(url, logger=None)

        @broker.subscriber(RabbitQueue(queue, auto_delete=True))
        async def on(body: bytes) -> None:
            got.append(body)
            arrived.set()

        await broker.start()
        try:
            assert one.live >= 1, "did not start on the first node that answers"
            assert two.accepted == 0
            await broker.publish(b"before", queue=queue)
            await _until(lambda: b"before" in got, arrived)
            one.kill()  # the node dies under the consumer
            deadline = time.monotonic() + WAIT
            while True:  # publishes fail while the connection moves to the next node
                try:
                    await broker.publish(b"after", queue=queue)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            await _until(lambda: b"after" in got, arrived)
            assert two.live >= 1, "the consumer did not move to the next node"
        finally:
            await broker.stop()

    asyncio.run(run())


def test_a_publisher_moves_on_when_its_node_dies(infra: Infra, nodes) -> None:
    url, one, two = nodes
    probe = pika.BlockingConnection(pika.URLParameters(infra.amqp_url))
    ch = probe.channel()
    ch.exchange_declare(INBOUND, "topic", durable=True)
    queue = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(queue, INBOUND, "#")
    try:
        sub = Submitter(url)
        assert one.live == 1
        assert two.accepted == 0
        sub.publish(b"<first/>", tenant="99999999800010", message_id="n-1",
                    content_type="application/xml")
        one.kill()
        sub.publish(b"<second/>", tenant="99999999800010", message_id="n-2",
                    content_type="application/xml")
        assert two.live == 1
        sub.close()
        ids = []
        for _ in range(2):
            method, props, _body = ch.basic_get(queue, auto_ack=True)
            assert method is not None, "a confirmed publish is missing"
            ids.append(props.message_id)
        assert ids == ["n-1", "n-2"]
    finally:
        probe.close()


async def _until(condition, arrived: asyncio.Event) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            arrived.clear()
            await arrived.wait()
