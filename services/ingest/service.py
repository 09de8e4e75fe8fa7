"""Ingest's service layer: one submission in, one verdict out, exactly once.

Contract: for a (tenant, message_id) seen for the first time, record the
verdict and its status event in one transaction, publish them after commit,
then forward an accepted invoice to the archive. Concurrent submissions share
that work: their reads are one statement per batch (:mod:`services.ingest.lookups`),
their verdicts one transaction, one flush and one forwarding round per batch
(:mod:`services.ingest.recorder`). For one seen before, publish whatever is
still pending (a crash between commit and publish) and nothing new, forwarding
again only on a redelivery of the message whose handler died: the ERP reads
the outcome with ``efacture status``. Bad input never raises: it becomes a
``rejected`` event. Database or broker failures raise and the handler retries
the message; a row only one submission makes the database refuse fails that
submission alone.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import psycopg

from services.ingest import forwarding
from services.ingest.adapters import analyser
from services.ingest.adapters import repository as repo
from services.ingest.domain.admission import admission_reasons, seller_key
from services.ingest.domain.analysis import Analysis
from services.ingest.domain.dates import utc_today
from services.ingest.domain.reasons import Reason
from services.ingest.domain.submission import Submission, header_strings
from services.ingest.lookups import Lookups
from services.ingest.recorder import Decided, Recorder
from shared import outbox
from shared.amqp_nodes import amqp_user
from shared.errors import RetryableError
from shared.logging import get_logger
from shared.messages.base import derived_id
from shared.messages.status import EventReason, make_event
from shared.metrics import REJECTED
from shared.outbox import Outgoing
from shared.pooled import autocommit
from shared.runtime import Runtime
from shared.settings import Settings

log = get_logger(__name__)
# The analyser's answers when it could not look at the document (adapters/analyser.py).
_NO_ANALYSIS = frozenset({"analysis-timeout", "analysis-failed"})


@dataclass(frozen=True)
class Verdict:
    invoice_id: uuid.UUID
    accepted: bool
    duplicate_delivery: bool


def _reasons(items: tuple[Reason, ...] | list[Reason]) -> list[EventReason]:
    return [EventReason(code=r.code, message=r.message, path=r.path) for r in items]


class IngestService:
    def __init__(self, rt: Runtime, clock: Callable[[], date] = utc_today) -> None:
        self.rt = rt
        self.clock = clock  # today's date for the issue-date bounds (tests inject one)
        self.operators = operator_users(rt.settings)
        # Worker processes with a wall-clock limit per document: a slow or stuck document
        # is cut off and never holds the other tenants' submissions longer than that.
        self._analyser = analyser.pool_from(rt.settings)
        self.lookups = Lookups(rt)
        self.recorder = Recorder(rt)

    async def start(self) -> None:
        """Start the analysis workers (before consuming: no document waits for a spawn)."""
        await self._analyser.start()

    async def stop(self) -> None:
        """After the broker drained the in-flight messages: nothing is pending any more."""
        await self.lookups.close()
        await self.recorder.close()
        self._analyser.close()

    async def _analyse(self, body: bytes, content_type: str | None, *, sandbox: bool) -> Analysis:
        return await self._analyser.analyse(body, content_type, sandbox=sandbox)

    async def handle(self, body: bytes, sub: Submission, *, redelivered: bool = False) -> Verdict:
        """Decide ``sub``. ``redelivered`` is RabbitMQ's flag: only a redelivery of the very
        message whose handler died may forward an accepted invoice again (a second publish
        of the same message_id while the first is in flight must not)."""
        sha = hashlib.sha256(body).hexdigest()
        if sub.message_id is None or sub.tenant == "unknown" or sub.forged:
            return await self._reject_unidentified(sub, sha)
        known = await self.lookups.get(sub.tenant, sub.message_id)
        if known.existing is not None:
            return await self._again(known.existing, body, sub, sha, redelivered)
        analysis = await self._analyse(body, sub.content_type, sandbox=known.sandbox)
        errors, warnings = list(sub.errors) + list(analysis.errors), list(analysis.warnings)
        if not known.tenant_active:
            errors.insert(
                0,
                Reason(
                    code="unknown-tenant",
                    message=f"No active tenant is registered with SIRET {sub.tenant}.",
                ),
            )
        else:
            more_err, more_warn = admission_reasons(
                analysis,
                tenant_siret=sub.tenant,
                sandbox=known.sandbox,
                transmit=sub.transmit,
                headers=header_strings(sub),
                today=self.clock(),
            )
            errors += more_err
            warnings += more_warn
        number = analysis.invoice.number if analysis.invoice else sub.invoice_number
        decided = Decided(
            body, sub, sha, derived_id("invoice", sub.tenant, sub.message_id), number,
            analysis, errors, warnings,
            claim_key=seller_key(analysis.invoice, sub.tenant) if not errors and number
            else None)
        try:
            await self.recorder.record(decided)
        except psycopg.errors.UniqueViolation:
            decided.lost = True  # a concurrent consumer recorded the same submission
        if decided.lost:  # its outcome stands
            async with autocommit(self.rt.pool) as conn:
                existing = await repo.find(conn, sub.tenant, sub.message_id)
            assert existing is not None
            return await self._again(existing, body, sub, sha, redelivered=False)
        if decided.failure is not None:  # recorded, not forwarded: the redelivery forwards
            raise decided.failure
        for r in decided.reasons:
            REJECTED.labels(r.code).inc()
        log.info("submission-decided", accepted=decided.accepted,
                 reasons=[r.code for r in decided.reasons])
        return Verdict(decided.invoice_id, decided.accepted, duplicate_delivery=False)

    async def _again(
        self,
        existing: repo.StoredSubmission,
        body: bytes,
        sub: Submission,
        sha: str,
        redelivered: bool,
    ) -> Verdict:
        """A message_id seen before: finish what a crash interrupted, add nothing new."""
        await outbox.flush_for(self.rt.pool, self.rt.publish, submission_id=sub.message_id)
        if (
            redelivered
            and existing.state == "accepted"
            and not existing.forwarded
            and existing.sha256 == sha
        ):
            analysis = await self._analyse(body, sub.content_type, sandbox=True)
            if any(e.code in _NO_ANALYSIS for e in analysis.errors):
                # This document was accepted: a worker that timed out or died now says nothing
                # about it, and forwarding that would archive it as kind "other" with no
                # number or date. Try the delivery again.
                raise RetryableError("the accepted document could not be analysed again "
                                     "before forwarding", code="analysis-unavailable")
            await self._forward(body, sub, sha, existing.invoice_id, analysis)
        log.info("submission-repeated", state=existing.state)
        return Verdict(existing.invoice_id, existing.state == "accepted", duplicate_delivery=True)

    async def _forward(
        self, body: bytes, sub: Submission, sha: str, invoice_id: uuid.UUID, analysis: Analysis
    ) -> None:
        """Forward one accepted submission again (the redelivery path) and mark it forwarded."""
        await forwarding.publish(
            self.rt, forwarding.accepted_message(body, sub, sha, invoice_id, analysis))
        async with autocommit(self.rt.pool) as conn:  # one statement
            await repo.mark_forwarded(conn, invoice_id)

    async def _reject_unidentified(self, sub: Submission, sha: str) -> Verdict:
        """No usable tenant or message_id: answer once on status.<tenant|unknown>.rejected."""
        event = make_event(
            "rejected",
            tenant=sub.tenant,
            submission_id=sub.message_id,
            invoice_id=None,
            reasons=_reasons(sub.errors),
            discriminator=sha,
        )
        async with self.rt.pool.connection() as conn, conn.transaction():
            ids = await outbox.add(conn, [Outgoing.status(event)])
        await outbox.flush(self.rt.pool, self.rt.publish, ids)
        log.info("submission-unidentified", reasons=[r.code for r in sub.errors])
        return Verdict(event.event_id, False, duplicate_delivery=not ids)


def operator_users(settings: Settings) -> frozenset[str]:
    """The RabbitMQ users that may submit for any tenant: the configured operators and the
    services' own user (``EFACTURE_AMQP_URL``; pika's default is ``guest``)."""
    return frozenset({*settings.operator_users, amqp_user(settings.amqp_url)})

