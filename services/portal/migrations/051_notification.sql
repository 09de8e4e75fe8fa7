-- Recipient notification outbox: one row per archived invoice that carried recipient-email,
-- inserted by the efacture.portal.notify consumer in the transaction that records the event
-- (the row is the consumer's idempotency key: once per invoice, whatever redelivery), then
-- sent and marked by the sender loop (services/portal/notify_sender.py says what a crash does).
CREATE TABLE portal.notification (
    invoice_id      uuid        PRIMARY KEY,
    tenant          text        NOT NULL,
    email           text        NOT NULL,
    message_id      text        NOT NULL,   -- deterministic Message-ID: a resend is recognisable
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- The composed message, stored before the first send so that a resend is the same message;
    -- cleared once sent (an enrolment link in it must not outlive the send in the database).
    subject         text,
    body_text       text,
    body_html       text,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    failed_at       timestamptz              -- refused for good (5xx): not retried
);
CREATE INDEX notification_due ON portal.notification (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX notification_email ON portal.notification (email);
