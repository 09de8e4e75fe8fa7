-- The tamper-evident log (issue 4, item 4): an append-only RFC 9162 Merkle tree.
-- log_leaf holds every leaf (its canonical JSON and its leaf hash); log_node holds the hash of
-- every complete subtree above the leaves (level >= 1, covering leaves
-- [idx * 2^level, (idx + 1) * 2^level)), so a root or a proof reads O(log n) rows.
-- Rows are only ever inserted, by one appender at a time (pg_advisory_xact_lock).
CREATE TABLE archive.log_leaf (
    idx  bigint PRIMARY KEY CHECK (idx >= 0),
    hash bytea  NOT NULL CHECK (octet_length(hash) = 32),
    data bytea  NOT NULL
);

CREATE TABLE archive.log_node (
    level smallint NOT NULL CHECK (level BETWEEN 1 AND 62),
    idx   bigint   NOT NULL CHECK (idx >= 0),
    hash  bytea    NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed tree heads; the signature covers
-- "efacture-log-v1\n<size>\n<root hex>\n<created_at as ISO 8601 UTC>\n".
CREATE TABLE archive.log_checkpoint (
    size       bigint      PRIMARY KEY CHECK (size >= 1),
    root_hash  bytea       NOT NULL CHECK (octet_length(root_hash) = 32),
    created_at timestamptz NOT NULL,
    signature  bytea       NOT NULL CHECK (octet_length(signature) = 64),
    key_id     text        NOT NULL
);

-- Append-only: history is never rewritten, even by mistake (a purge appends a tombstone).
CREATE FUNCTION archive.log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'archive.% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER log_leaf_append_only BEFORE UPDATE OR DELETE ON archive.log_leaf
    FOR EACH ROW EXECUTE FUNCTION archive.log_is_append_only();
CREATE TRIGGER log_node_append_only BEFORE UPDATE OR DELETE ON archive.log_node
    FOR EACH ROW EXECUTE FUNCTION archive.log_is_append_only();
CREATE TRIGGER log_checkpoint_append_only BEFORE UPDATE OR DELETE ON archive.log_checkpoint
    FOR EACH ROW EXECUTE FUNCTION archive.log_is_append_only();
