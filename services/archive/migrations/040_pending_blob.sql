-- Blobs written but not yet owned by a catalogue row (issue 14, point 3). Blob keys are
-- content-addressed (SHA-256 of the ciphertext, a fresh data key per attempt), so a crash between
-- the blob write and the catalogue commit leaves the crashed attempt's blob behind: its key is
-- recorded here, committed BEFORE the put, and deleted in the transaction that makes the key the
-- catalogue's. A row whose invoice the catalogue names with another key is an orphan: swept.
CREATE TABLE archive.pending_blob (
    blob_key   text PRIMARY KEY,
    invoice_id uuid NOT NULL,
    tenant     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_blob_invoice ON archive.pending_blob (invoice_id);
