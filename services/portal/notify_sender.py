"""The notification sender: takes due rows of ``portal.notification``, sends, marks them sent.

For each row, in order:

1. **Claim** (one transaction, ``FOR UPDATE SKIP LOCKED`` so two portal processes never take
   the same row): compose the message the first time — the link comes from the web side's
   :class:`~services.portal.notify.RecipientLinks`, inside this transaction, so an enrolment
   token and the message that carries it commit together — and store subject and bodies in the
   row; count the attempt and push ``next_attempt_at`` one lease ahead; commit.
2. **Send** through the :class:`~services.portal.adapters.mailer.Mailer`, outside any
   transaction, with the row's deterministic ``Message-ID`` (``<invoice.HEX@domain>``).
3. **Mark**: ``sent_at = now()`` and the stored bodies cleared (one transaction).

What a crash does:

* before the claim commits: nothing happened; the row is still due and is sent later;
* between the claim and the server's acceptance: nothing was sent; the row becomes due again
  when its lease (:attr:`Sender.lease_seconds`) ends and is sent then — never zero e-mails;
* **between the server's acceptance and the mark** (the one window no protocol closes: SMTP
  has no two-phase commit): the row becomes due again at the end of the lease and the message
  is sent a second time — the same stored subject and bodies, the same ``Message-ID``, so mail
  servers and clients that de-duplicate by Message-ID (and any reader) see one message twice,
  not two notifications. That window is a few milliseconds per message;
* after the mark: nothing more is ever sent for that invoice.

A temporary mail failure (``MailTemporaryError``: server down, 4xx) reschedules the row with
a growing delay; a permanent one (5xx, recipient refused) marks it ``failed_at`` with the
error, and it is never retried.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.portal.adapters.mailer import Mailer, MailPermanentError
from services.portal.notify import Composed, RecipientLinks, compose
from shared import faults
from shared.logging import get_logger

log = get_logger(__name__)

RETRY_DELAYS_SECONDS = (30, 120, 600, 1800, 3600)


@dataclass(frozen=True)
class Claimed:
    invoice_id: uuid.UUID
    email: str
    message_id: str
    message: Composed


class Sender:
    """Sends due notifications; :meth:`drain` is what the service's loop calls."""

    # A claimed batch is sent well within its lease (5 x the 30 s SMTP timeout < 300 s), so a
    # second portal process never takes a row that is still being sent.
    def __init__(self, pool_of: Any, mailer: Mailer, links: RecipientLinks, *,
                 lease_seconds: float = 300.0, batch: int = 5) -> None:
        self._pool_of = pool_of  # () -> AsyncConnectionPool, once the runtime has started
        self.mailer = mailer
        self.links = links
        self.lease_seconds = lease_seconds
        self.batch = batch

    @property
    def pool(self) -> AsyncConnectionPool:
        pool: AsyncConnectionPool = self._pool_of()
        return pool

    async def drain(self) -> int:
        """Send every due row (batch by batch); returns how many were sent."""
        sent = 0
        while True:
            claimed = await self._claim()
            if not claimed:
                return sent
            for item in claimed:
                sent += await self._send(item)

    async def _claim(self) -> list[Claimed]:
        async with self.pool.connection() as conn, conn.transaction():
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    # The issuer as its space shows it: the display name set in its settings,
                    # else the tenant's registered name.
                    "SELECT n.*, coalesce(b.display_name, t.name) AS issuer,"
                    " i.invoice_number, i.issue_date"
                    " FROM portal.notification n"
                    " LEFT JOIN core.tenant t ON t.siret = n.tenant"
                    " LEFT JOIN portal.brand b ON b.tenant = n.tenant"
                    " LEFT JOIN archive.invoice i ON i.invoice_id = n.invoice_id"
                    " WHERE n.sent_at IS NULL AND n.failed_at IS NULL"
                    " AND n.next_attempt_at <= now()"
                    " ORDER BY n.next_attempt_at LIMIT %s FOR UPDATE OF n SKIP LOCKED",
                    (self.batch,))
                rows = await cur.fetchall()
            claimed = []
            for row in rows:
                try:
                    async with conn.transaction():  # a savepoint: one bad row, not the batch
                        message = await self._message(conn, row)
                except Exception as exc:
                    log.warning("notification-compose-failed", invoice_id=str(row["invoice_id"]),
                                error=f"{type(exc).__name__}: {exc}")
                    await conn.execute(
                        "UPDATE portal.notification SET attempts = attempts + 1,"
                        " last_error = %s, next_attempt_at = now() + make_interval(secs => %s)"
                        " WHERE invoice_id = %s",
                        (f"compose: {exc}"[:500], self.lease_seconds, row["invoice_id"]))
                    continue
                await conn.execute(
                    "UPDATE portal.notification SET subject = %s, body_text = %s,"
                    " body_html = %s, attempts = attempts + 1,"
                    " next_attempt_at = now() + make_interval(secs => %s)"
                    " WHERE invoice_id = %s",
                    (message.subject, message.text, message.html, self.lease_seconds,
                     row["invoice_id"]))
                claimed.append(Claimed(row["invoice_id"], row["email"], row["message_id"],
                                       message))
            return claimed

    async def _message(self, conn: psycopg.AsyncConnection[Any], row: dict[str, Any]) -> Composed:
        if row["body_text"] is not None:  # composed at an earlier attempt: send it unchanged
            return Composed(row["subject"], row["body_text"], row["body_html"])
        link = await self.links.link(conn, email=row["email"], tenant=row["tenant"],
                                     invoice_id=row["invoice_id"])
        issue = row["issue_date"]
        return compose(issuer=row["issuer"] or row["tenant"],
                       invoice_number=row["invoice_number"],
                       issue_date=issue.strftime("%d/%m/%Y") if issue else None, link=link)

    async def _send(self, item: Claimed) -> int:
        try:
            await self.mailer.send(item.email, item.message.subject, item.message.text,
                                   html=item.message.html, message_id=item.message_id)
        except MailPermanentError as exc:
            await self._update("failed_at = now(), last_error = %s", str(exc), item.invoice_id)
            log.error("notification-refused", invoice_id=str(item.invoice_id), error=str(exc))
            return 0
        except Exception as exc:  # temporary (or unexpected): try again later
            await self._retry_later(item.invoice_id, f"{type(exc).__name__}: {exc}")
            log.warning("notification-deferred", invoice_id=str(item.invoice_id),
                        error=str(exc))
            return 0
        faults.reach("portal.notify.after_send")
        await self._update("sent_at = now(), subject = NULL, body_text = NULL,"
                           " body_html = NULL, last_error = NULL", None, item.invoice_id)
        log.info("notification-sent", invoice_id=str(item.invoice_id))
        return 1

    async def _update(self, assignments: str, error: str | None, invoice_id: uuid.UUID) -> None:
        params: tuple[Any, ...] = (error, invoice_id) if "%s" in assignments else (invoice_id,)
        async with self.pool.connection() as conn:
            await conn.execute(
                f"UPDATE portal.notification SET {assignments} WHERE invoice_id = %s",  # noqa: S608
                params)

    async def _retry_later(self, invoice_id: uuid.UUID, error: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE portal.notification SET last_error = %s, next_attempt_at = now()"
                " + make_interval(secs => (%s::int[])[LEAST(attempts, %s)])"
                " WHERE invoice_id = %s",
                (error[:500], list(RETRY_DELAYS_SECONDS), len(RETRY_DELAYS_SECONDS),
                 invoice_id))
