"""Later lifecycle statuses (201 Émise … 212 Encaissée, 214 …) reported by the PA.

The PA reports them as inbound CDAR flows (``flowDirection: In``) carrying the
invoice's ``trackingId`` and a ``lifecycleCode``. A periodic job asks each
tenant's PA for flows updated after its cursor (``POST /v1/flows/search``), turns
each into a ``lifecycle`` status event, and moves the cursor in the same
transaction. Event ids are derived from (invoice, code), and the outbox keeps
one row per id, so re-reading a flow publishes nothing twice; the cursor
survives restarts (``transmit.lifecycle_cursor``).
"""

from __future__ import annotations

import uuid
from typing import Any

from services.transmit.domain.breaker import BreakerState
from services.transmit.service import TransmitService
from shared import outbox
from shared.errors import EfactureError
from shared.logging import get_logger
from shared.messages.status import LIFECYCLE_LABELS, EventReason, make_event
from shared.outbox import Outgoing

log = get_logger(__name__)

EPOCH = "1970-01-01T00:00:00+00:00"


class LifecycleFollower:
    def __init__(self, transmit: TransmitService) -> None:
        self.t = transmit
        self.rt = transmit.rt

    async def follow(self) -> int:
        """One pass over every tenant with transmitted invoices; returns events added."""
        async with self.rt.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT DISTINCT t.tenant, COALESCE(c.updated_after, %s)"
                " FROM transmit.transmission t"
                " LEFT JOIN transmit.lifecycle_cursor c ON c.tenant = t.tenant"
                " WHERE t.state IN ('uploaded', 'accepted')",
                (EPOCH,),
            )
            tenants = await cur.fetchall()
        added = 0
        for tenant, cursor in tenants:
            try:
                added += await self._follow_tenant(tenant, cursor)
            except EfactureError as exc:
                log.warning("lifecycle-follow-failed", tenant=tenant, error=str(exc))
        return added

    async def _follow_tenant(self, tenant: str, cursor: str) -> int:
        creds = await self.t.credentials(tenant)
        if self.t.pa.breaker_state(creds.endpoint) is not BreakerState.CLOSED:
            # The half-open probe belongs to a waiting upload, not to this background read.
            return 0
        results = await self.t.pa.search(creds, {"flowDirection": "In", "updatedAfter": cursor})
        results = [r for r in results if r.get("lifecycleCode") and r.get("trackingId")]
        if not results:
            return 0
        items, newest = await self._events(tenant, results, cursor)
        if newest == cursor:
            return 0
        async with self.rt.pool.connection() as conn, conn.transaction():
            ids = await outbox.add(conn, items)
            await conn.execute(
                "INSERT INTO transmit.lifecycle_cursor (tenant, updated_after) VALUES (%s, %s)"
                " ON CONFLICT (tenant) DO UPDATE SET updated_after = EXCLUDED.updated_after",
                (tenant, newest),
            )
        await outbox.flush(self.rt.pool, self.rt.publish, ids)
        return len(ids)

    async def _events(
        self, tenant: str, results: list[dict[str, Any]], cursor: str
    ) -> tuple[list[Outgoing], str]:
        """Events in the PA's order, stopping before an invoice whose acknowledgement (200/213)
        is not yet published, so events stay in causal order; returns them and the new cursor."""
        ids = []
        for r in results:
            try:
                ids.append(uuid.UUID(str(r["trackingId"])))
            except ValueError:
                continue
        async with self.rt.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT a.invoice_id, a.submission_id, a.invoice_number, t.state"
                " FROM archive.invoice a JOIN transmit.transmission t USING (invoice_id)"
                " WHERE a.tenant = %s AND a.invoice_id = ANY(%s)",
                (tenant, ids),
            )
            known = {row[0]: (row[1], row[2], row[3]) for row in await cur.fetchall()}
        items: list[Outgoing] = []
        newest = cursor
        for r in sorted(results, key=lambda r: str(r.get("updatedAt"))):
            try:
                invoice_id = uuid.UUID(str(r["trackingId"]))
            except ValueError:
                newest = max(newest, str(r.get("updatedAt") or newest))
                continue
            if invoice_id in known and known[invoice_id][2] == "uploaded":
                break  # its 200/213 comes first: read this flow again next pass
            newest = max(newest, str(r.get("updatedAt") or newest))
            if invoice_id not in known:
                continue  # another tenant's or an unknown invoice: never leak it
            code = int(r["lifecycleCode"])
            if code not in LIFECYCLE_LABELS:
                continue
            submission_id, number, _state = known[invoice_id]
            reasons = [
                EventReason(code=str(x.get("code")), message=str(x.get("message", "")))
                for x in r.get("reasons", [])
                if isinstance(x, dict)
            ]
            items.append(
                Outgoing.status(
                    make_event(
                        "lifecycle",
                        tenant=tenant,
                        submission_id=submission_id,
                        invoice_id=invoice_id,
                        invoice_number=number,
                        lifecycle_code=code,
                        reasons=reasons,
                        detail={"flow_id": r.get("flowId"), "source": "cdar"},
                    )
                )
            )
        return items, newest
