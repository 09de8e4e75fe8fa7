"""Publishing with publisher confirms from several threads (one pika connection each).

A confirmed ``basic_publish`` on a ``BlockingConnection`` waits for its confirm, so
``threads`` connections keep that many messages in flight. Two ways to feed them:
:meth:`Publisher.burst` (as fast as confirms allow) and :meth:`Publisher.paced` (open loop:
item ``i`` is due at ``start + i / rate`` whatever the earlier ones did; its submit time
is the due time, so a publisher falling behind shows as latency, not hides it).

``amqp_url`` may list several nodes (comma-separated): each thread connects to the first that
answers, and a publish that gets no confirm (its node died, or the broker nacked it) is sent
again under the same ``message_id`` on a fresh connection, as an ERP should (ingest treats
the repeat as the same submission); only after ``REPUBLISH_S`` of failures is it an error.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions

from efacture.bench.workload import Item
from shared.amqp_nodes import pika_parameters

ItemSource = Callable[[int], Item]
REPUBLISH_S = 120.0  # how long a publish is retried through node failures


class Publisher:
    """Publishes items to ``exchange``/``routing_key``; ``submitted[i]`` is item i's submit time
    (``time.perf_counter``). Errors in a thread are kept in ``errors`` and stop nothing else."""

    def __init__(self, amqp_url: str, *, exchange: str, routing_key: str, threads: int = 8) -> None:
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.routing_key = routing_key
        self.threads = threads
        self.submitted: dict[str, float] = {}
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def _connect(self) -> tuple[pika.BlockingConnection, Any]:
        conn = pika.BlockingConnection(pika_parameters(self.amqp_url))
        ch = conn.channel()
        ch.confirm_delivery()
        return conn, ch

    def _worker(self, work: queue.Queue[tuple[Item, float] | None]) -> None:
        conn, ch = self._connect()
        try:
            while (job := work.get()) is not None:
                item, due = job
                with self._lock:
                    self.submitted[item.message_id] = due if due else time.perf_counter()
                deadline = time.monotonic() + REPUBLISH_S
                while True:
                    try:
                        if not conn.is_open:
                            conn, ch = self._connect()
                        ch.basic_publish(
                            self.exchange, self.routing_key, item.body,
                            pika.BasicProperties(
                                message_id=item.message_id, content_type=item.content_type,
                                delivery_mode=2,
                                headers={"tenant": item.tenant, "transmit": True}),
                            mandatory=True)
                        break
                    except pika.exceptions.UnroutableError as exc:  # permanent: no queue bound
                        self._failed(item, exc)
                        break
                    except pika.exceptions.AMQPError as exc:  # no confirm: send it again
                        if time.monotonic() > deadline:
                            self._failed(item, exc)
                            break
                        with contextlib.suppress(pika.exceptions.AMQPError):
                            if conn.is_open:
                                conn.close()
                        time.sleep(0.5)
        finally:
            if conn.is_open:
                conn.close()

    def _failed(self, item: Item, exc: Exception) -> None:
        with self._lock:
            self.errors.append(f"{item.message_id}: {type(exc).__name__}")

    def _run(self, count: int, source: ItemSource, due: Callable[[int], float] | None,
             on_sent: Callable[[], None] | None) -> None:
        work: queue.Queue[tuple[Item, float] | None] = queue.Queue(maxsize=self.threads * 4)
        workers = [threading.Thread(target=self._worker, args=(work,), daemon=True)
                   for _ in range(self.threads)]
        for w in workers:
            w.start()
        for i in range(count):
            at = 0.0
            if due is not None:
                at = due(i)
                pause = at - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            work.put((source(i), at))
            if on_sent:
                on_sent()
        for _ in workers:
            work.put(None)
        for w in workers:
            w.join()

    def burst(self, count: int, source: ItemSource,
              on_sent: Callable[[], None] | None = None) -> None:
        """Publish items 0..count-1 as fast as the confirms come back; returns when all are."""
        self._run(count, source, None, on_sent)

    def paced(self, count: int, source: ItemSource, rate: float,
              on_sent: Callable[[], None] | None = None) -> None:
        """Publish item i at ``start + i / rate`` (open loop); returns when all are confirmed."""
        start = time.perf_counter() + 0.1
        self._run(count, source, lambda i: start + i / rate, on_sent)
