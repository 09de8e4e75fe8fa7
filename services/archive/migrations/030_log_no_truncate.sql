-- The log refuses TRUNCATE too (issue 10, property 8). Row triggers never fire on TRUNCATE, so
-- 020's BEFORE UPDATE OR DELETE left it open to the tables' owner: a statement trigger closes it.
CREATE TRIGGER log_leaf_no_truncate BEFORE TRUNCATE ON archive.log_leaf
    FOR EACH STATEMENT EXECUTE FUNCTION archive.log_is_append_only();
CREATE TRIGGER log_node_no_truncate BEFORE TRUNCATE ON archive.log_node
    FOR EACH STATEMENT EXECUTE FUNCTION archive.log_is_append_only();
CREATE TRIGGER log_checkpoint_no_truncate BEFORE TRUNCATE ON archive.log_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION archive.log_is_append_only();
