"""Wiring of the recipient notifications into a portal process.

The portal's web process attaches them to its :class:`~shared.runtime.Runtime`::

    Notifier(settings, links=MyEnrolmentLinks(...)).attach(rt)

which subscribes the ``efacture.portal.notify`` consumer (``notify_consumer``: archived
invoices are notified, purged ones lose their cached renderings) and runs the
sender (``notify_sender``) every :data:`POLL_SECONDS`. :func:`create_app` is the same thing as
a FastStream app of its own (``python -m services.portal.notify_app``), for a deployment that
runs the notifications apart from the web pages, and for the tests.
"""

from __future__ import annotations

import asyncio

from faststream import FastStream

from services.portal.adapters.mailer import Mailer
from services.portal.notify import InvoicePageLinks, RecipientLinks
from services.portal.notify_consumer import make_handler
from services.portal.notify_sender import Sender
from shared.runtime import Runtime
from shared.settings import Settings, get_settings
from shared.topology import Q_PORTAL_NOTIFY
from shared.vault.blob_factory import blob_store_from_settings
from shared.vault.blobstore import BlobStore

POLL_SECONDS = 1.0


class BlobStoreOnce:
    """The blob store, made on first use (not at wiring time: no I/O before the start)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: BlobStore | None = None

    def get(self) -> BlobStore:
        if self._store is None:
            self._store = blob_store_from_settings(self._settings)
        return self._store


class Notifier:
    """The consumer and the sender, bound to a runtime by :meth:`attach`."""

    def __init__(self, settings: Settings, *, links: RecipientLinks | None = None,
                 mailer: Mailer | None = None) -> None:
        self.settings = settings
        self.links = links if links is not None else InvoicePageLinks(settings.portal_url)
        self.mailer = mailer if mailer is not None else Mailer(settings)
        self._rt: Runtime | None = None
        self.sender = Sender(lambda: self.runtime.pool, self.mailer, self.links,
                             lease_seconds=settings.notify_lease_seconds)

    @property
    def runtime(self) -> Runtime:
        if self._rt is None:
            raise RuntimeError("notifier not attached")
        return self._rt

    def attach(self, rt: Runtime) -> None:
        self._rt = rt
        blobs = BlobStoreOnce(self.settings)
        rt.consume(Q_PORTAL_NOTIFY, make_handler(lambda: rt.pool, self.settings.mail_from,
                                                 blobs.get),
                   title="portal.notify",
                   description="archived invoices: notify the recipient once")
        rt.every(POLL_SECONDS, self.sender.drain)


def create_app(settings: Settings) -> FastStream:
    rt = Runtime(settings, "portal")
    Notifier(settings).attach(rt)
    return rt.app()


if __name__ == "__main__":
    asyncio.run(create_app(get_settings()).run())
