-- Lifecycle statuses the seller sends (efacture lifecycle send): one row per CDAR flow, keyed
-- by its trackingId (derived from invoice, code and what the status says), so a repeated
-- command uploads nothing twice and republishes the same event.
CREATE TABLE transmit.lifecycle_sent (
    tracking_id  uuid PRIMARY KEY,
    invoice_id   uuid NOT NULL,
    tenant       text NOT NULL,
    code         integer NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'uploaded')),
    attempts     integer NOT NULL DEFAULT 0,
    flow_id      text,
    event_id     uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lifecycle_sent_invoice ON transmit.lifecycle_sent (invoice_id);
