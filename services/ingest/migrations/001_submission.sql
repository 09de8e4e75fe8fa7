-- One row per (tenant, ERP message_id): the idempotency key of a submission.
CREATE TABLE ingest.submission (
    tenant         text NOT NULL,
    message_id     text NOT NULL,
    invoice_id     uuid NOT NULL UNIQUE,
    state          text NOT NULL CHECK (state IN ('accepted', 'rejected')),
    sha256         char(64) NOT NULL,
    invoice_number text,
    reasons        jsonb NOT NULL DEFAULT '[]',
    warnings       jsonb NOT NULL DEFAULT '[]',
    received_at    timestamptz NOT NULL DEFAULT now(),
    forwarded_at   timestamptz,
    PRIMARY KEY (tenant, message_id)
);

-- The French DOUBLON rule: one invoice number per seller, across message ids.
CREATE TABLE ingest.invoice_key (
    seller_key     text NOT NULL,
    invoice_number text NOT NULL,
    invoice_id     uuid NOT NULL,
    PRIMARY KEY (seller_key, invoice_number)
);
