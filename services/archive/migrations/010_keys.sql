-- Tenant keys of the envelope encryption (issue 4, item 1).
-- A tenant key is stored only wrapped by the master key, which lives outside the database;
-- master_key_id says which master key wrapped it, so a master-key rotation can find the rows
-- it has not re-wrapped yet. Old versions stay (inactive) to open documents sealed under them.
CREATE TABLE archive.tenant_key (
    tenant        text        NOT NULL,
    version       integer     NOT NULL CHECK (version >= 1),
    wrapped_key   bytea       NOT NULL,
    master_key_id text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    active        boolean     NOT NULL DEFAULT true,
    PRIMARY KEY (tenant, version)
);

-- At most one active key per tenant: the one new documents are sealed under.
CREATE UNIQUE INDEX tenant_key_one_active ON archive.tenant_key (tenant) WHERE active;

CREATE INDEX tenant_key_by_master ON archive.tenant_key (master_key_id);
