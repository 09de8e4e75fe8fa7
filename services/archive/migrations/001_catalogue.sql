-- The archive catalogue: one row per archived invoice (its idempotency key is invoice_id).
CREATE TABLE archive.invoice (
    invoice_id         uuid PRIMARY KEY,
    tenant             text NOT NULL,
    submission_id      text NOT NULL,
    invoice_number     text,
    type_code          text,
    issue_date         date,
    recipient_id       text,
    recipient_name     text,
    recipient_email    text,
    amount_payable     numeric,
    currency           text,
    kind               text NOT NULL,
    syntax             text,
    profile            text,
    content_type       text NOT NULL,
    size_bytes         integer NOT NULL,
    sha256             char(64) NOT NULL,
    blob_key           text NOT NULL,
    wrapped_data_key   bytea,            -- NULL once crypto-shredded (purge)
    tenant_key_version integer NOT NULL,
    tsa_token          bytea NOT NULL,   -- RFC 3161 TimeStampResp, DER
    tsa_time           timestamptz NOT NULL,
    log_index          bigint NOT NULL UNIQUE,
    retain_until       date NOT NULL,
    transmit           boolean NOT NULL,
    state              text NOT NULL DEFAULT 'archived' CHECK (state IN ('archived', 'purged')),
    archived_at        timestamptz NOT NULL DEFAULT now(),
    purged_at          timestamptz,
    tombstone_index    bigint
);
CREATE INDEX invoice_tenant ON archive.invoice (tenant, archived_at);
CREATE INDEX invoice_recipient ON archive.invoice (tenant, recipient_id);
CREATE INDEX invoice_retention ON archive.invoice (retain_until) WHERE state = 'archived';
