-- Acknowledgement polls scheduled in the row itself (services/transmit/polling.py), not by a
-- message in a delay queue: when the flow is next read, and how often it was read.
ALTER TABLE transmit.transmission
    ADD COLUMN poll_at timestamptz,
    ADD COLUMN polls integer NOT NULL DEFAULT 0;
CREATE INDEX transmission_poll_due ON transmit.transmission (poll_at)
    WHERE state = 'uploaded' AND poll_at IS NOT NULL;
-- Flows uploaded before this migration were followed by queued polls: read them now, unless
-- those polls gave up long ago (an hour of them; the lifecycle follower reads those).
UPDATE transmit.transmission SET poll_at = now()
    WHERE state = 'uploaded' AND updated_at > now() - interval '90 minutes';
