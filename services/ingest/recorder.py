"""Group commit of decided submissions: many handler calls, one transaction, one flush.

Each handler call hands in a first-seen submission it has analysed (:meth:`Recorder.record`)
and waits until the batch holding it is done:

1. ONE transaction for the batch claims the invoice keys (DOUBLON rule: a claim that finds
   its number held, by another invoice or by an earlier one of the same batch, turns that
   verdict into ``duplicate-invoice``), inserts the verdict rows and their status events
   into the outbox;
2. the status events are published (all sent, confirms awaited together), then the accepted
   invoices are forwarded to the archive the same way;
3. ONE autocommit statement marks the events published and the invoices forwarded.

``record`` returns once its submission went through all three, or raises: the handler acks
only then and retries its message otherwise. A crash or failure after the commit leaves the
verdict stored and the rest pending: the redelivery finds the verdict and finishes it
(``IngestService._again``), never decides it twice.

Failure semantics, per submission: a row the database refuses (a ``UniqueViolation`` when a
concurrent consumer recorded the same (tenant, message_id) first, a data error) aborts the
transaction; the batch is then split until that submission is alone, and only its caller
sees the error (:class:`shared.batcher.Batcher`'s ``isolate``). The same (tenant,
message_id) twice in one batch is recorded once: the later copies come back ``lost`` and
read the stored outcome. A forward the broker refuses fails that submission only
(``failure``). Anything else after the commit (broker or database gone) fails the whole
batch as a :class:`RetryableError`, never as a row error: nothing is re-committed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.ingest import forwarding
from services.ingest.adapters import repository as repo
from services.ingest.domain.analysis import Analysis
from services.ingest.domain.reasons import Reason
from services.ingest.domain.submission import Submission
from shared import outbox
from shared.batcher import Batcher
from shared.errors import RetryableError
from shared.messages.status import EventReason, make_event
from shared.outbox import Outgoing
from shared.pooled import ROW_ERRORS, autocommit
from shared.runtime import Runtime
from shared.topology import STATUS


@dataclass(eq=False)
class Decided:
    """A first-seen submission and its analysis, waiting for its batch.

    ``claim_key`` is the seller key to reserve ``number`` under, or None when the verdict is
    a rejection already (or the document has no number). Set by the batch: ``accepted`` and
    ``reasons`` (``errors``, plus ``duplicate-invoice`` when the number was held), ``lost``
    when an earlier copy in the batch was recorded instead, ``failure`` when its forward
    alone failed (after its verdict was committed and its event published).
    """

    body: bytes
    sub: Submission
    sha: str
    invoice_id: uuid.UUID
    number: str | None
    analysis: Analysis
    errors: list[Reason]
    warnings: list[Reason]
    claim_key: str | None
    accepted: bool = field(default=False)
    reasons: list[Reason] = field(default_factory=list)
    lost: bool = field(default=False)
    failure: Exception | None = field(default=None)


class Recorder:
    """Records decided submissions in batches of at most ``max_size``; :meth:`close` at stop.

    ``workers`` batches may be in flight at once: one publishes while the next commits."""

    def __init__(self, rt: Runtime, *, max_size: int = 64, workers: int = 2) -> None:
        self.rt = rt
        self._batcher: Batcher[Decided] = Batcher(
            self._commit, max_size=max_size, workers=workers, isolate=ROW_ERRORS)

    @property
    def batches(self) -> int:
        """Batches committed so far (each one transaction)."""
        return self._batcher.batches

    async def record(self, decided: Decided) -> None:
        """Return once ``decided`` is committed, its event confirmed and, if accepted, its
        forward confirmed (or ``lost`` / ``failure`` set); raises what its batch raised."""
        await self._batcher.submit(decided)

    async def close(self) -> None:
        await self._batcher.close()

    async def _commit(self, batch: Sequence[Decided]) -> None:
        fresh: list[Decided] = []
        seen: set[tuple[str, str | None]] = set()
        for d in batch:  # a split batch comes here again: every outcome is decided anew
            d.lost, d.failure = (d.sub.tenant, d.sub.message_id) in seen, None
            if not d.lost:
                seen.add((d.sub.tenant, d.sub.message_id))
                fresh.append(d)
        # Keys and rows taken in sorted order: two batches (two processes) never wait on each
        # other in a cycle. The sort is stable: of two claims of one number, the first wins.
        claims = sorted(((d.claim_key, d.number, d.invoice_id) for d in fresh
                         if d.claim_key is not None and d.number is not None),
                        key=lambda c: (c[0], c[1]))
        async with self.rt.pool.connection() as conn, conn.transaction():
            won = await repo.claim_many(conn, claims)
            for d in fresh:
                d.reasons = list(d.errors)
                if d.claim_key is not None and d.invoice_id not in won:
                    d.reasons.append(Reason(
                        code="duplicate-invoice",
                        message=f"Invoice {d.number} of seller {d.claim_key} is already "
                        "archived under another message_id."))
                d.accepted = not d.reasons
            ordered = sorted(fresh, key=lambda d: (d.sub.tenant, d.sub.message_id or ""))
            await repo.insert_many(conn, [_row(d) for d in ordered])
            ids = await outbox.add(conn, [_event(d) for d in fresh])
        try:
            await self._send(fresh, ids)
        except Exception as exc:  # committed: a retry must read the verdict, not split
            raise RetryableError(f"a recorded batch was not sent ({type(exc).__name__}: {exc})",
                                 code="ingest-send-failed") from exc

    async def _send(self, fresh: Sequence[Decided], ids: outbox.Added) -> None:
        # Every status event confirmed before the first forward: a partner reads ``received``
        # before anything the archive says about the invoice.
        await asyncio.gather(*(
            self.rt.publish(exchange=m.exchange, routing_key=m.routing_key, body=m.body,
                            message_id=str(m.event_id), content_type=m.content_type,
                            mandatory=m.exchange != STATUS, headers=m.headers or None)
            for m in (ids.items[i] for i in ids)))
        accepted = [d for d in fresh if d.accepted]
        results = await asyncio.gather(*(
            forwarding.publish(self.rt, forwarding.accepted_message(
                d.body, d.sub, d.sha, d.invoice_id, d.analysis)) for d in accepted),
            return_exceptions=True)
        forwarded = []
        for d, result in zip(accepted, results, strict=True):
            if isinstance(result, BaseException):  # this one is retried alone
                d.failure = result if isinstance(result, Exception) else RuntimeError(
                    "forward cancelled")
            else:
                forwarded.append(d.invoice_id)
        if ids or forwarded:
            async with autocommit(self.rt.pool) as conn:  # one statement for both marks
                await repo.mark_sent(conn, list(ids), forwarded)


def _row(d: Decided) -> repo.Row:
    assert d.sub.message_id is not None
    return repo.Row(
        tenant=d.sub.tenant, message_id=d.sub.message_id, invoice_id=d.invoice_id,
        state="accepted" if d.accepted else "rejected", sha256=d.sha,
        invoice_number=d.number, reasons=[r.model_dump() for r in d.reasons],
        warnings=[r.model_dump() for r in d.warnings])


def _event(d: Decided) -> Outgoing:
    return Outgoing.status(make_event(
        "received" if d.accepted else "rejected",
        tenant=d.sub.tenant,
        submission_id=d.sub.message_id,
        invoice_id=d.invoice_id if d.accepted else None,
        invoice_number=d.number,
        reasons=[EventReason(code=r.code, message=r.message, path=r.path) for r in d.reasons],
        detail={
            "kind": d.analysis.kind,
            "syntax": d.analysis.syntax,
            "profile": d.analysis.profile,
            "sha256": d.sha,
            "transmit": d.sub.transmit,
            "warnings": [r.model_dump() for r in d.warnings],
        },
    ))
