"""Status events as they come: a queue bound to ``efacture.status`` (``status.#``), in a thread.

For each submission id it keeps the arrival time (``time.perf_counter``) of the first event of
each kind, how many ``transmitted`` events came, and the reasons of a rejection.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from typing import Any

import pika

from shared.topology import STATUS

TERMINAL = ("transmitted", "rejected", "transmission_failed")


class Events:
    def __init__(self, amqp_url: str) -> None:
        self.first: dict[str, dict[str, float]] = {}
        self.transmitted: Counter[str] = Counter()
        self.rejections: dict[str, list[str]] = {}
        self.kinds: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        ch = self._conn.channel()
        ch.exchange_declare(STATUS, "topic", durable=True)
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(q, STATUS, "status.#")
        ch.basic_consume(q, self._on, auto_ack=True)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on(self, _ch: Any, _m: Any, _p: Any, body: bytes) -> None:
        now = time.perf_counter()
        event = json.loads(body)
        sid, kind = event.get("submission_id"), event.get("event")
        if not isinstance(sid, str) or not isinstance(kind, str):
            return
        with self._lock:
            self.kinds[kind] += 1
            self.first.setdefault(sid, {}).setdefault(kind, now)
            if kind == "transmitted":
                self.transmitted[sid] += 1
            elif kind == "rejected":
                self.rejections[sid] = [r.get("code", "?") for r in event.get("reasons") or []]

    def _run(self) -> None:
        while not self._stop:
            self._conn.process_data_events(time_limit=0.2)

    def finished(self, ids: list[str]) -> int:
        """How many of ``ids`` reached a terminal event."""
        with self._lock:
            return sum(1 for sid in ids
                       if any(k in self.first.get(sid, ()) for k in TERMINAL))

    def wait(self, ids: list[str], stall_s: float = 60.0,
             progress: Any = None) -> bool:
        """Until every id is terminal (True) or nothing progressed for ``stall_s`` (False).
        ``progress(done)`` is called as they finish."""
        last, last_change = -1, time.monotonic()
        while True:
            done = self.finished(ids)
            if progress is not None:
                progress(done)
            if done == len(ids):
                return True
            if done != last:
                last, last_change = done, time.monotonic()
            elif time.monotonic() - last_change > stall_s:
                return False
            time.sleep(0.2)

    def times(self, sid: str) -> dict[str, float]:
        with self._lock:
            return dict(self.first.get(sid, {}))

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)
        with contextlib.suppress(Exception):  # a dead connection needs no closing
            self._conn.close()
