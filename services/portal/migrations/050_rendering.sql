-- Readable PDF renderings of CII/UBL invoices, made once and kept encrypted like the originals
-- (shared/vault envelope: ciphertext in the blob store under blob_key, data key wrapped by the
-- tenant key). One row per invoice and renderer version; the portal alone writes it.
CREATE TABLE portal.rendering (
    invoice_id         uuid        NOT NULL,
    renderer_version   integer     NOT NULL,
    tenant             text        NOT NULL,
    blob_key           text        NOT NULL,
    wrapped_data_key   bytea       NOT NULL,
    tenant_key_version integer     NOT NULL,
    sha256             char(64)    NOT NULL,
    size_bytes         integer     NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invoice_id, renderer_version)
);
