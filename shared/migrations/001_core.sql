-- Tenants (issuers) and the transactional outbox shared by every service.
CREATE TABLE core.tenant (
    siret          char(14) PRIMARY KEY,
    name           text NOT NULL,
    subscribed_on  date NOT NULL,
    sandbox        boolean NOT NULL DEFAULT false,
    active         boolean NOT NULL DEFAULT true,
    pa_client_id   text,
    pa_secret_wrapped bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    stopped_at     timestamptz
);

-- Every message a service must publish after its transaction commits.
-- Status events stay here after publication: they are the invoices' history.
CREATE TABLE core.outbox (
    id             bigserial PRIMARY KEY,
    event_id       uuid NOT NULL UNIQUE,
    exchange       text NOT NULL,
    routing_key    text NOT NULL,
    body           bytea NOT NULL,
    content_type   text NOT NULL DEFAULT 'application/json',
    headers        jsonb NOT NULL DEFAULT '{}',
    tenant         text,
    submission_id  text,
    invoice_id     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);
CREATE INDEX outbox_pending ON core.outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_submission ON core.outbox (submission_id);
CREATE INDEX outbox_invoice ON core.outbox (invoice_id);
