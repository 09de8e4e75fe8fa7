-- One row per invoice to transmit: its idempotency key and delivery state.
CREATE TABLE transmit.transmission (
    invoice_id      uuid PRIMARY KEY,
    tenant          text NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'uploaded', 'accepted', 'rejected', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,   -- uploads tried, all rounds
    round_attempts  integer NOT NULL DEFAULT 0,   -- uploads tried since the last replay
    replays         integer NOT NULL DEFAULT 0,
    flow_id         text,
    last_error      text,
    permanent       boolean,
    first_failed_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transmission_state ON transmit.transmission (tenant, state);

-- Who replayed or dropped which dead letter, and when.
CREATE TABLE transmit.dlq_audit (
    id          bigserial PRIMARY KEY,
    action      text NOT NULL CHECK (action IN ('replay', 'drop')),
    invoice_id  uuid,
    message_id  text,
    actor       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    detail      jsonb NOT NULL DEFAULT '{}'
);

-- How far the lifecycle follower has read each tenant's inbound CDAR flows.
CREATE TABLE transmit.lifecycle_cursor (
    tenant      text PRIMARY KEY,
    updated_after text NOT NULL
);
