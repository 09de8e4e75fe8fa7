"""Later lifecycle statuses (202 Reçue … 212 Encaissée, 214 …) reported by the PA as CDARs.

The PA reports them as inbound flows (``flowSyntax: CDAR``, ``flowType:
CustomerInvoiceLC``, ``flowDirection: In``). A periodic job asks each tenant's PA for
those updated after its cursor (``POST /v1/flows/search``, every page), downloads each
one (``docType=Original``), validates it against the CDAR D22B schema and reads the
status code (``ram:ProcessConditionCode``), the referenced invoice (its number, within the
tenant) and the reasons. Each becomes a ``lifecycle`` status event; the cursor moves in
the same transaction. Event ids are derived from (invoice, code) and the outbox keeps one
row per id, so re-reading a flow publishes nothing twice; the cursor survives restarts
(``transmit.lifecycle_cursor``) and only moves forward. With several transmit processes, only
the leader (``shared/leadership.py``, wired in ``app.py``) follows; a pass that lost its
leadership mid-way cannot move the cursor back.

Causal order: a pass stops before the first flow about an invoice whose acknowledgement
(200/213) is not yet published (it reads that acknowledgement itself first, since the
flow poll gives up after an hour), and before a flow it could not download (read again next
pass). A CDAR that fails the schema is logged with its reason and skipped: it never stops
the follower, and each tenant is followed on its own (one tenant's failure is logged).
A tenant whose PA pushes webhooks (``webhooks.py``) is read when woken by one, and polled
every ``POLL_WITH_WEBHOOKS_S`` otherwise.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from services.transmit.adapters import repository as repo
from services.transmit.adapters.cdar_schema import CdarInvalid, read_statuses
from services.transmit.domain.breaker import BreakerState
from services.transmit.lifecycle import MAX_POLLS, LifecycleService
from services.transmit.service import TransmitService
from shared import outbox
from shared.errors import EfactureError, PermanentError
from shared.logging import get_logger
from shared.messages.status import LIFECYCLE_LABELS, EventReason, make_event
from shared.outbox import Outgoing
from shared.topology import POLL_DELAY_SECONDS

log = get_logger(__name__)

EPOCH = "1970-01-01T00:00:00+00:00"
POLL_WITH_WEBHOOKS_S = 30.0  # a tenant whose PA pushes webhooks is still polled this often
# Past this age an upload's acknowledgement poll has given up (with a margin for its delays).
POLLS_GIVE_UP_S = MAX_POLLS * POLL_DELAY_SECONDS * 1.5
WHERE_LIFECYCLE = {"flowDirection": ["In"], "flowType": ["CustomerInvoiceLC"]}


class LifecycleFollower:
    def __init__(self, transmit: TransmitService) -> None:
        self.t = transmit
        self.rt = transmit.rt
        self.acks = LifecycleService(transmit)
        self.pushed: Callable[[str], bool] = lambda tenant: False  # has a live webhook
        self._woken: set[str] = set()
        self._last: dict[str, float] = {}

    def wake(self, tenant: str) -> None:
        """A webhook named a flow of ``tenant``: read it on the next pass."""
        self._woken.add(tenant)

    async def follow(self) -> int:
        """One pass over every tenant with transmitted invoices; returns events added."""
        async with self.rt.pool.connection() as conn:
            # From the tenants (a few rows) with one index probe each, not a DISTINCT over
            # every transmission ever accepted: a pass costs the same at 1,000 or 1,000,000.
            cur = await conn.execute(
                "SELECT t.siret, COALESCE(c.updated_after, %s)"
                " FROM core.tenant t"
                " LEFT JOIN transmit.lifecycle_cursor c ON c.tenant = t.siret"
                " WHERE EXISTS (SELECT 1 FROM transmit.transmission x WHERE x.tenant = t.siret"
                " AND x.state IN ('uploaded', 'accepted'))",
                (EPOCH,),
            )
            tenants = await cur.fetchall()
        added = 0
        now = time.monotonic()
        for tenant, cursor in tenants:
            if (self.pushed(tenant) and tenant not in self._woken
                    and now - self._last.get(tenant, -POLL_WITH_WEBHOOKS_S) < POLL_WITH_WEBHOOKS_S):
                continue  # the PA pushes: poll at the lower rate only
            self._woken.discard(tenant)
            self._last[tenant] = now
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
        results = await self.t.pa.search(creds, {**WHERE_LIFECYCLE, "updatedAfter": cursor})
        results = [r for r in results if r.get("flowId") and r.get("updatedAt")]
        if not results:
            return 0
        items, newest = await self._events(tenant, creds, results, cursor)
        if newest == cursor:
            return 0
        async with self.rt.pool.connection() as conn, conn.transaction():
            ids = await outbox.add(conn, items)
            await conn.execute(
                "INSERT INTO transmit.lifecycle_cursor (tenant, updated_after) VALUES (%s, %s)"
                " ON CONFLICT (tenant) DO UPDATE SET updated_after = EXCLUDED.updated_after"
                # Never backwards: a pass that read an older cursor (a follower that lost its
                # leadership mid-pass) leaves a newer one as it is. Compared as Python does.
                ' WHERE transmit.lifecycle_cursor.updated_after COLLATE "C"'
                ' < EXCLUDED.updated_after COLLATE "C"',
                (tenant, newest),
            )
        # Each invoice's pending rows in id order, not just the new ones: a pass killed
        # between its commit and its flush left a 202 pending (for the sweep, 10 s later),
        # and publishing this pass's 205 alone would overtake it.
        for invoice_id in dict.fromkeys(i.invoice_id for i in items if i.invoice_id):
            await outbox.flush_for(self.rt.pool, self.rt.publish, invoice_id=invoice_id)
        return len(ids)

    async def _known(self, tenant: str, number: str, tracking: Any
                     ) -> tuple[uuid.UUID, str, str | None, str] | None:
        """(invoice_id, submission_id, number, transmission state) of the tenant's invoice
        with this number (else with this trackingId), or ``None``: never another tenant's."""
        try:
            tracked = uuid.UUID(str(tracking)) if tracking else None
        except ValueError:
            tracked = None
        async with self.rt.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT a.invoice_id, a.submission_id, a.invoice_number, t.state"
                " FROM archive.invoice a JOIN transmit.transmission t USING (invoice_id)"
                " WHERE a.tenant = %s AND (a.invoice_number = %s OR a.invoice_id = %s)"
                " ORDER BY (a.invoice_number = %s) DESC, a.invoice_id = %s DESC LIMIT 1",
                (tenant, number, tracked, number, tracked),
            )
            row = await cur.fetchone()
        return (row[0], row[1], row[2], row[3]) if row else None

    async def _acknowledged(self, tenant: str, creds: Any, invoice_id: uuid.UUID) -> bool:
        """Whether the invoice's 200/213 is out now: read here when its flow poll gave up
        (``MAX_POLLS``, e.g. while the PA was down for an hour), which would otherwise block
        this tenant's later statuses for good. ``Pending`` or a failed read: not yet."""
        async with self.rt.pool.connection() as conn:
            row = await repo.get(conn, invoice_id)
            given_up = row is not None and await repo.uploaded_before(
                conn, invoice_id, POLLS_GIVE_UP_S)
        if row is None or row.state != "uploaded" or row.flow_id is None:
            return row is not None and row.state != "uploaded"
        if not given_up:
            return False  # its poll is still running: that one publishes the 200/213
        try:
            status = await self.t.pa.get_flow(creds, row.flow_id)
        except EfactureError as exc:
            log.info("lifecycle-ack-unread", tenant=tenant, flow_id=row.flow_id, error=str(exc))
            return False
        if status.ack_status not in ("Ok", "Error"):
            return False
        await self.acks.acknowledge(tenant, invoice_id, row.flow_id, status)
        return True

    async def _events(self, tenant: str, creds: Any, results: list[dict[str, Any]],
                      cursor: str) -> tuple[list[Outgoing], str]:
        """Events in the PA's order and the new cursor (see the module's causal order).

        ``updatedAfter`` is strict (``updatedAt > updatedAfter``): when a pass stops at a flow,
        the cursor stays below that flow's ``updatedAt`` even if flows settled before it share
        that instant (a platform stamping whole seconds), or the next pass would never see it.
        Those flows are read again; their events have derived ids and add nothing."""
        items: list[Outgoing] = []
        settled: list[str] = []  # updatedAt of each flow this pass is done with
        stopped_at: str | None = None
        for r in sorted(results, key=lambda r: (str(r["updatedAt"]), str(r["flowId"]))):
            flow_id, stamp = str(r["flowId"]), str(r["updatedAt"])
            try:
                data = await self.t.pa.download(creds, flow_id, "Original")
                statuses = read_statuses(data)
            except CdarInvalid as exc:
                log.warning("lifecycle-cdar-invalid", tenant=tenant, flow_id=flow_id,
                            code=exc.code, reason=str(exc))
                settled.append(stamp)
                continue
            except PermanentError as exc:  # e.g. 404: the PA will never give this file
                log.warning("lifecycle-cdar-unreadable", tenant=tenant, flow_id=flow_id,
                            code=exc.code, reason=str(exc))
                settled.append(stamp)
                continue
            except EfactureError as exc:
                log.warning("lifecycle-cdar-unreadable", tenant=tenant, flow_id=flow_id,
                            error=str(exc))
                stopped_at = stamp
                break  # transient: read it again next pass, keeping the order
            pending: list[Outgoing] = []
            blocked = False
            for status in statuses:
                known = await self._known(tenant, status.invoice_number, r.get("trackingId"))
                if known is None or status.code not in LIFECYCLE_LABELS:
                    continue  # another tenant's or an unknown invoice: never leak it
                invoice_id, submission_id, number, state = known
                if state == "uploaded" and not await self._acknowledged(tenant, creds,
                                                                         invoice_id):
                    blocked = True  # its 200/213 comes first: read this flow again next pass
                    break
                pending.append(Outgoing.status(make_event(
                    "lifecycle", tenant=tenant, submission_id=submission_id,
                    invoice_id=invoice_id, invoice_number=number, lifecycle_code=status.code,
                    reasons=[EventReason(code=x.code, message=x.message)
                             for x in status.reasons],
                    detail={"flow_id": flow_id, "source": "cdar", "direction": "received",
                            "cdar_id": status.document_id},
                )))
            if blocked:
                stopped_at = stamp
                break
            items.extend(pending)
            settled.append(stamp)
        done = [x for x in settled if stopped_at is None or x < stopped_at]
        return items, max([cursor, *done])
