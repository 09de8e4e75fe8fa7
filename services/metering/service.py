"""Metering's service layer: each archived invoice counts once, in the period of its archiving.

The ledger row (unique invoice id) and the counter updates commit in one
transaction, so a redelivered or replayed event changes nothing. An event for
a tenant that is not registered, or archived before the subscription date,
is counted in the first period (the subscription is what the tenant pays by).

:meth:`MeteringService.count` is the hot path: one transaction for a whole batch of
events (see :mod:`shared.batcher`), one tenant lookup per batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any

import psycopg

from services.metering.adapters import counters
from services.metering.adapters.counters import ArchivedRow, PurgedRow
from shared.billing import Period, day_of, period_containing
from shared.logging import get_logger
from shared.messages.internal import InvoiceArchived, InvoicePurged
from shared.runtime import Runtime

log = get_logger(__name__)

MeteringEvent = InvoiceArchived | InvoicePurged


@lru_cache(maxsize=4096)
def period_for(subscribed_on: date | None, archived_day: date) -> Period:
    """The period an invoice archived on ``archived_day`` counts in.

    Unknown tenant: a subscription starting that day; archived before the subscription: the
    first period. Reconciliation applies the same rule.
    """
    subscribed = subscribed_on if subscribed_on is not None else archived_day
    return period_containing(subscribed, max(archived_day, subscribed))


async def _subscriptions(
    conn: psycopg.AsyncConnection[Any], sirets: set[str]
) -> dict[str, date]:
    cur = await conn.execute(
        "SELECT siret::text, subscribed_on FROM core.tenant WHERE siret = ANY(%s::bpchar[])",
        (sorted(sirets),))
    return {row[0].strip(): row[1] for row in await cur.fetchall()}


SUBSCRIPTION_TTL_S = 5.0
"""How long a tenant's subscription date is reused without asking the database again."""


class MeteringService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        # siret -> (subscribed_on or None when unknown, monotonic time read); a re-registration
        # with another date is seen within SUBSCRIPTION_TTL_S.
        self._subs: dict[str, tuple[date | None, float]] = {}

    async def _subscribed(
        self, conn: psycopg.AsyncConnection[Any], sirets: set[str]
    ) -> dict[str, date | None]:
        now = time.monotonic()
        stale = {s for s in sirets
                 if s not in self._subs or now - self._subs[s][1] > SUBSCRIPTION_TTL_S}
        if stale:
            found = await _subscriptions(conn, stale)
            for siret in stale:
                self._subs[siret] = (found.get(siret), now)
        return {s: self._subs[s][0] for s in sirets}

    async def count(self, events: Sequence[MeteringEvent]) -> int:
        """Count a batch of events in one transaction; returns how many changed a counter.

        Raises what the database raises (nothing is then committed: the caller retries).
        """
        archived = [e for e in events if isinstance(e, InvoiceArchived)]
        purged = [e for e in events if isinstance(e, InvoicePurged)]
        async with self.rt.pool.connection() as conn:
            # Autocommit: the counting statement is atomic by itself, so no BEGIN/COMMIT
            # round trips; the subscription lookup needs no transaction either.
            await conn.set_autocommit(True)
            try:
                subs = await self._subscribed(conn, {e.tenant for e in archived})
                rows = [ArchivedRow(e.invoice_id, e.tenant, e.archived_at,
                                    period_for(subs.get(e.tenant), day_of(e.archived_at)))
                        for e in archived]
                gone = [PurgedRow(e.invoice_id, e.tenant, e.purged_at) for e in purged]
                new_archived, new_purged = await counters.count_batch(conn, rows, gone)
            finally:
                await conn.set_autocommit(False)
        changed = len(new_archived) + len(new_purged)
        if changed != len(events):
            log.info("metering-repeated", events=len(events), counted=changed)
        return changed

    async def archived(self, msg: InvoiceArchived) -> bool:
        """Count one archived invoice; False when it was counted before."""
        return await self.count([msg]) == 1

    async def purged(self, msg: InvoicePurged) -> bool:
        """Record one purge; False when it was recorded before."""
        return await self.count([msg]) == 1
