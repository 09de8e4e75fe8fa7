-- The webhook subscription transmit holds at each tenant's PA (the signing key stays in the
-- process's memory: after a restart the old subscription is deleted and a new one made).
CREATE TABLE transmit.webhook (
    tenant      text PRIMARY KEY,
    endpoint    text NOT NULL,
    webhook_id  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
