-- The audit log in PostgreSQL (docs/audit-format.md 3.2): the tables of log.db with a `node`
-- column, so several gateway nodes share one database and each keeps its own hash chain, tree and
-- checkpoint series. Run once by the role that is to own the tables (the gateway runs it itself
-- when it connects to a database without them and may create tables); the nodes then connect as
-- a role that can only SELECT and INSERT (docs/deployment.md, "PostgreSQL roles").
--
-- Triggers abort every UPDATE, DELETE and TRUNCATE, for every role, the owner included; the one
-- change a body row takes is its erasure. A node's role cannot drop them: only the owner can.

CREATE TABLE IF NOT EXISTS audit_entries (
    node TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    leaf_hash BYTEA NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (node, seq)
);
CREATE INDEX IF NOT EXISTS audit_entries_keys ON audit_entries (node, seq) WHERE kind IN ('genesis', 'key_rotated');
CREATE TABLE IF NOT EXISTS audit_tree_hashes (
    node TEXT NOT NULL,
    pos BIGINT NOT NULL,
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (node, pos)
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    node TEXT NOT NULL,
    tree_size BIGINT NOT NULL,
    root_hash BYTEA NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (node, tree_size)
);
CREATE TABLE IF NOT EXISTS audit_bodies (
    node TEXT NOT NULL,
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    mode TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    body BYTEA,
    erased_at TEXT,
    wrapped_key BYTEA,
    retain_until TEXT,
    PRIMARY KEY (node, seq, role)
);
CREATE TABLE IF NOT EXISTS audit_cosignatures (
    node TEXT NOT NULL,
    tree_size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (node, tree_size, witness)
);
CREATE TABLE IF NOT EXISTS audit_timestamps (
    node TEXT NOT NULL,
    tree_size BIGINT NOT NULL,
    tsa TEXT NOT NULL,
    token BYTEA NOT NULL,
    gen_time TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (node, tree_size, tsa)
);

CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only';
END $$;

-- Erasure is the only change a body row takes: ciphertext and wrapped key go, the rest stays.
CREATE OR REPLACE FUNCTION audit_bodies_erase_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (NEW.body IS NULL AND OLD.body IS NOT NULL AND NEW.erased_at IS NOT NULL
            AND NEW.wrapped_key IS NULL
            AND NEW.node = OLD.node AND NEW.seq = OLD.seq AND NEW.role = OLD.role
            AND NEW.mode = OLD.mode AND NEW.sha256 = OLD.sha256 AND NEW.size = OLD.size
            AND NEW.retain_until IS NOT DISTINCT FROM OLD.retain_until) THEN
        RAISE EXCEPTION 'bodies can only be erased';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_tree_hashes_append_only BEFORE UPDATE OR DELETE ON audit_tree_hashes
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_tree_hashes_no_truncate BEFORE TRUNCATE ON audit_tree_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_cosignatures_append_only BEFORE UPDATE OR DELETE ON audit_cosignatures
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_cosignatures_no_truncate BEFORE TRUNCATE ON audit_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_timestamps_append_only BEFORE UPDATE OR DELETE ON audit_timestamps
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_timestamps_no_truncate BEFORE TRUNCATE ON audit_timestamps
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_bodies_no_delete BEFORE DELETE ON audit_bodies
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_bodies_no_truncate BEFORE TRUNCATE ON audit_bodies
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_bodies_erase_only BEFORE UPDATE ON audit_bodies
    FOR EACH ROW EXECUTE FUNCTION audit_bodies_erase_only();
