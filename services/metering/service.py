"""Metering's service layer: each archived invoice counts once, in the period of its archiving.

The ledger row (unique invoice id) and the counter updates commit in one
transaction, so a redelivered or replayed event changes nothing. An event for
a tenant that is not registered, or archived before the subscription date,
is counted in the first period (the subscription is what the tenant pays by).
"""

from __future__ import annotations

from services.metering.adapters import counters
from services.metering.domain.period import day_of, period_containing
from shared import tenants
from shared.logging import get_logger
from shared.messages.internal import InvoiceArchived, InvoicePurged
from shared.runtime import Runtime

log = get_logger(__name__)


class MeteringService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def archived(self, msg: InvoiceArchived) -> bool:
        async with self.rt.pool.connection() as conn, conn.transaction():
            tenant = await tenants.get(conn, msg.tenant)
            subscribed = tenant.subscribed_on if tenant else day_of(msg.archived_at)
            day = max(day_of(msg.archived_at), subscribed)
            period = period_containing(subscribed, day)
            counted = await counters.count_archived(
                conn, msg.invoice_id, msg.tenant, msg.archived_at, period)
        log.info("invoice-metered" if counted else "metering-repeated", period_start=str(period.start))
        return counted

    async def purged(self, msg: InvoicePurged) -> bool:
        async with self.rt.pool.connection() as conn, conn.transaction():
            return await counters.count_purged(conn, msg.invoice_id, msg.tenant, msg.purged_at)
