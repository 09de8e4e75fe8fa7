-- The circuit breaker of each platform as the transmit service last saw it (for `efacture status`).
CREATE TABLE transmit.breaker (
    endpoint    text PRIMARY KEY,
    state       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
