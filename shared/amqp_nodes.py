"""``EFACTURE_AMQP_URL`` naming several RabbitMQ nodes (comma-separated URLs), for every client.

Contract: clients connect to the first node that answers, in the order given, and when the node
they are on dies they move on to the next one (round robin), for as long as they run:

- FastStream consumers and their publishers (:func:`rabbit_broker`): aio-pika's robust
  connection with :class:`NodeRotatingConnection`, which starts on the first node that
  answers and takes the next node at every reconnection attempt. Start still fails fast when
  no node answers (the supervisor restarts the service), as with one URL.
- pika clients (:func:`pika_parameters`): pika's own list of connection parameters, tried in
  order at connect; a publisher that loses its node connects again and republishes (see
  ``efacture.cli.submit.Submitter``: the same ``message_id`` makes that safe).

Each URL carries its own credentials and vhost; they are normally the same on every node.
"""

from __future__ import annotations

import itertools
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pika
from aio_pika import RobustConnection
from yarl import URL

if TYPE_CHECKING:
    from faststream.rabbit import RabbitBroker


def amqp_urls(value: str) -> list[str]:
    """The node URLs of ``value``, in order; ValueError with a sentence if there is none."""
    urls = [part.strip() for part in value.split(",") if part.strip()]
    if not urls:
        raise ValueError("EFACTURE_AMQP_URL names no RabbitMQ node")
    for url in urls:
        if urlsplit(url).scheme not in ("amqp", "amqps"):
            raise ValueError(f"EFACTURE_AMQP_URL: {_safe(url)!r} is not an amqp:// URL")
    return urls


def amqp_user(value: str) -> str:
    """The user the clients log in as (that of the first node; pika's default is guest)."""
    return unquote(urlsplit(amqp_urls(value)[0]).username or "guest")


def pika_parameters(value: str) -> list[pika.URLParameters]:
    """Parameters for ``pika.BlockingConnection``: it tries them in order."""
    return [pika.URLParameters(url) for url in amqp_urls(value)]


class NodeRotatingConnection(RobustConnection):
    """A robust connection over several nodes: every connection attempt after the first takes
    the next node, so a dead node is left at the next reconnect (aio-pika retries every
    ``reconnect_interval`` seconds). Subclass it with :attr:`nodes` set (:func:`rabbit_broker`
    does); with no nodes it is a plain :class:`RobustConnection`.
    """

    nodes: tuple[str, ...] = ()

    def __init__(self, url: Any, loop: Any = None, **kwargs: Any) -> None:
        self._given = URL(url)
        self._cycle = itertools.cycle(range(len(self.nodes))) if self.nodes else None
        self._node = next(self._cycle) if self._cycle else 0
        self._attempts = -1  # Connection.__init__ clears the transport once, before any try
        super().__init__(url, loop=loop, **kwargs)

    @property  # type: ignore[override]
    def url(self) -> URL:
        if not self.nodes:
            return self._given
        # The query carries what connect_robust folded into the URL (timeouts, fail_fast…).
        return URL(self.nodes[self._node]).update_query(self._given.query)

    @url.setter
    def url(self, value: Any) -> None:
        self._given = URL(value)

    @property  # type: ignore[override]
    def transport(self) -> Any:
        return self._transport

    @transport.setter
    def transport(self, value: Any) -> None:
        # RobustConnection clears the transport at the start of every connection attempt:
        # the moment to move on from the node that failed or was lost.
        if value is None and self._cycle is not None and not self._close_requested():
            self._attempts += 1
            if self._attempts > 1:
                self._node = next(self._cycle)
        self._transport = value

    def _close_requested(self) -> bool:
        return bool(getattr(self, "_close_called", False))

    @property
    def node(self) -> str:
        """The node URL in use (password masked), for logs."""
        return _safe(str(self.url.with_query(None)))


def rabbit_broker(amqp_url: str, **kwargs: Any) -> RabbitBroker:
    """A FastStream ``RabbitBroker`` over the node(s) of ``amqp_url`` (kwargs as RabbitBroker's).

    One node: exactly ``RabbitBroker(url, **kwargs)``. Several: the nodes are taken from the
    first that accepts a TCP connection now (else from the first, and start fails fast as with
    one node), and each reconnection attempt afterwards moves on to the next node.
    """
    from faststream.rabbit import RabbitBroker  # lazily: the CLI starts without FastStream

    urls = amqp_urls(amqp_url)
    if len(urls) == 1:
        return RabbitBroker(urls[0], **kwargs)
    start = first_answering(urls)
    ordered = (*urls[start:], *urls[:start])
    kwargs.setdefault("reconnect_interval", 1.0)
    broker = RabbitBroker(ordered[0], **kwargs)
    bound = type("NodeRotatingConnectionOf", (NodeRotatingConnection,), {"nodes": ordered})
    # FastStream hands these to aio_pika.connect_robust, which builds the connection with
    # ``connection_class``; RabbitBroker has no argument for it.
    broker._connection_kwargs["connection_class"] = bound
    return broker


def first_answering(urls: list[str], timeout: float = 2.0) -> int:
    """Index of the first URL whose host accepts a TCP connection (0 when none does)."""
    for i, url in enumerate(urls):
        parts = urlsplit(url)
        port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
        try:
            with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout):
                return i
        except OSError:
            continue
    return 0


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", ":******@", 1)
    return url
