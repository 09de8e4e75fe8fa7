-- The ledger: one row per counted invoice (the idempotency key, same transaction as the counters).
CREATE TABLE metering.counted (
    invoice_id    uuid PRIMARY KEY,
    tenant        text NOT NULL,
    archived_at   timestamptz NOT NULL,
    period_start  date NOT NULL
);
CREATE TABLE metering.purged (
    invoice_id    uuid PRIMARY KEY,
    tenant        text NOT NULL,
    purged_at     timestamptz NOT NULL
);
CREATE TABLE metering.period_count (
    tenant        text NOT NULL,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    count         integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, period_start)
);
CREATE TABLE metering.tenant_count (
    tenant        text PRIMARY KEY,
    stored        integer NOT NULL DEFAULT 0,
    cumulative    integer NOT NULL DEFAULT 0
);
-- metering.period_closed published once per tenant and period.
CREATE TABLE metering.period_closed (
    tenant        text NOT NULL,
    period_start  date NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, period_start)
);
