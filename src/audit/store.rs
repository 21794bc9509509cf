//! Storage behind a small trait ([`LogStore`]) so a PostgreSQL store can follow the SQLite one.
//!
//! SQLite layout (`log.db`): WAL journal, `synchronous=FULL` (a committed batch survives power
//! loss; the writer copies the WAL into the database in [`LogStore::tidy`], after answering, not
//! inside a commit), `secure_delete=ON` (erased bodies are overwritten). Tables `entries`,
//! `tree_hashes`, `checkpoints`, `cosignatures` and `timestamps` carry triggers that abort every
//! UPDATE and DELETE; `bodies` only allows the one update that erases a body. `tree_hashes` keeps every perfect-subtree hash above
//! the leaves, so proofs and the frontier never rehash the log. It is keyed by [`stored_position`],
//! so each batch appends to the last page or two instead of touching one page per tree level: fewer
//! WAL frames per commit. Logs written with the older `tree_nodes (level, idx)` table are upgraded
//! when the writer opens them and read as they are by read-only openers.

pub use auditlog::db::{
    BodyRow, StoreError, StoredCheckpoint, StoredCosignature, StoredEntry, StoredNode, StoredTimestamp,
};

use super::merkle::{decompose, fold_right, stored_position, Frontier, Hash};
use auditlog::db::{self, has_table, leaf_hash_column, make_entry, LogDb};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A body kept apart from the chain, sealed (see `sealed`): `bytes` is the ciphertext, and the
/// chain's `body_stored` entry commits to its `sha256`.
#[derive(Debug, Clone)]
pub struct NewBody {
    pub seq: u64,
    pub role: String,
    pub mode: String,
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub sha256: String,
    /// Size of the body before sealing.
    pub size: u64,
    pub wrapped_key: Vec<u8>,
    /// Until when the body must be kept (statutory hold): erasure before then must be forced.
    pub retain_until: String,
}

/// Erase the stored bodies of an entry (all roles, or one): ciphertext and wrapped key.
#[derive(Debug, Clone)]
pub struct Erasure {
    pub seq: u64,
    pub roles: Vec<String>,
    pub erased_at: String,
}

/// What one group commit writes.
#[derive(Debug, Default)]
pub struct Batch {
    pub entries: Vec<StoredEntry>,
    /// Interior nodes `(level >= 1, index, hash)` completed by these entries.
    pub nodes: Vec<(u32, u64, Hash)>,
    pub bodies: Vec<NewBody>,
    pub erasures: Vec<Erasure>,
}

/// Where the log stands, enough for the writer to continue it.
#[derive(Debug, Clone)]
pub struct TreeState {
    pub frontier: Frontier,
    /// The last entry (None for an empty log).
    pub last: Option<StoredEntry>,
}

/// The operations the writer and the CLI need from a store.
pub trait LogStore: Send {
    /// Write entries, their tree nodes and bodies in one durable transaction. The first entry's
    /// seq must be the store's current size (guards against a second writer).
    fn append_batch(&mut self, batch: &Batch) -> Result<(), StoreError>;
    /// Entries with `from <= seq < to`, in order.
    fn read_range(&self, from: u64, to: u64) -> Result<Vec<StoredEntry>, StoreError>;
    /// Size, frontier and last entry.
    fn tree_state(&self) -> Result<TreeState, StoreError>;
    /// MTH over leaves `[lo, hi)` from stored nodes (`lo` aligned as in RFC recursion).
    fn subtree_hash(&self, lo: u64, hi: u64) -> Result<Hash, StoreError>;
    /// Record a signed checkpoint durably.
    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<(), StoreError>;
    /// All checkpoints, by size.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
    /// The newest `genesis` or `key_rotated` entry: names the key in force.
    fn last_key_entry(&self) -> Result<Option<StoredEntry>, StoreError>;
    /// Cheap check that the store can still take writes (file present, same file, writable).
    fn health_check(&self) -> Result<(), StoreError>;
    /// Whether a write transaction can start now (not locked, not read-only); writes nothing.
    fn probe_write(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Housekeeping the writer runs after it has answered a batch's callers, so no append waits
    /// for it (SQLite: copy a grown WAL into the database). Entries are already durable; a
    /// failure here loses nothing.
    fn tidy(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Number of entries (max seq + 1).
    fn size(&self) -> Result<u64, StoreError>;
    /// The stored interior nodes with `from <= pos < to`: `pos -> (level, index, hash)`. The nodes
    /// completed by entries `a..b` are exactly those between the positions of leaves `a` and `b`.
    fn read_nodes(&self, from: u64, to: u64) -> Result<HashMap<u64, StoredNode>, StoreError>;
    /// The frontier of the first `size` entries, from the stored nodes (unverified: the caller
    /// compares its root with one it trusts). Each piece of a frontier is one perfect subtree.
    fn frontier_at(&self, size: u64) -> Result<Frontier, StoreError> {
        let hashes = decompose(0, size)
            .into_iter()
            .map(|(level, index)| self.subtree_hash(index << level, (index + 1) << level))
            .collect::<Result<Vec<_>, _>>()?;
        Frontier::from_parts(size, hashes).ok_or_else(|| StoreError::Corrupt("frontier shape".into()))
    }
    /// Every stored body row, by entry.
    fn bodies(&self) -> Result<Vec<BodyRow>, StoreError>;
    /// The stored bodies of one entry, by role (the writer checks an erasure request against them).
    fn bodies_of(&self, seq: u64) -> Result<Vec<BodyRow>, StoreError>;
    /// Store a witness's cosignature of the checkpoint of `size` (verified by the caller).
    fn add_cosignature(&mut self, size: u64, witness: &str, line: &str, now: &str) -> Result<(), StoreError>;
    /// Every stored cosignature, by size.
    fn cosignatures(&self) -> Result<Vec<StoredCosignature>, StoreError>;
    /// Store a time-stamp token on the checkpoint of `size` (verified by the caller).
    fn add_timestamp(&mut self, t: &StoredTimestamp, now: &str) -> Result<(), StoreError>;
    /// Every stored time-stamp token, by size.
    fn timestamps(&self) -> Result<Vec<StoredTimestamp>, StoreError>;
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    leaf_hash BLOB NOT NULL,
    bytes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_keys ON entries(seq) WHERE kind IN ('genesis', 'key_rotated');
CREATE TABLE IF NOT EXISTS tree_hashes (
    pos INTEGER PRIMARY KEY,
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    tree_size INTEGER PRIMARY KEY,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bodies (
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    mode TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    body BLOB,
    erased_at TEXT,
    wrapped_key BLOB,
    retain_until TEXT,
    UNIQUE (seq, role)
);
CREATE TABLE IF NOT EXISTS cosignatures (
    tree_size INTEGER NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (tree_size, witness)
);
CREATE TRIGGER IF NOT EXISTS cosignatures_no_update BEFORE UPDATE ON cosignatures
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS cosignatures_no_delete BEFORE DELETE ON cosignatures
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS timestamps (
    tree_size INTEGER NOT NULL,
    tsa TEXT NOT NULL,
    token BLOB NOT NULL,
    gen_time TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (tree_size, tsa)
);
CREATE TRIGGER IF NOT EXISTS timestamps_no_update BEFORE UPDATE ON timestamps
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS timestamps_no_delete BEFORE DELETE ON timestamps
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS tree_hashes_no_update BEFORE UPDATE ON tree_hashes
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS tree_hashes_no_delete BEFORE DELETE ON tree_hashes
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS bodies_no_delete BEFORE DELETE ON bodies
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"#;

/// Erasure is the only change a body row takes: ciphertext and wrapped key go, the rest stays.
/// Kept apart from [`SCHEMA`] so that logs created before sealing get the new rule too.
const BODIES_ERASE_ONLY: &str = r#"
DROP TRIGGER IF EXISTS bodies_erase_only;
CREATE TRIGGER bodies_erase_only BEFORE UPDATE ON bodies
    WHEN NOT (NEW.body IS NULL AND OLD.body IS NOT NULL AND NEW.erased_at IS NOT NULL
              AND NEW.wrapped_key IS NULL
              AND NEW.seq = OLD.seq AND NEW.role = OLD.role AND NEW.mode = OLD.mode
              AND NEW.sha256 = OLD.sha256 AND NEW.size = OLD.size
              AND NEW.retain_until IS OLD.retain_until)
    BEGIN SELECT RAISE(ABORT, 'bodies can only be erased'); END;
"#;

/// WAL size (pages) at which the writer copies the WAL into the database and fsyncs it
/// ([`LogStore::tidy`], after the batch's callers have their answers, so no append waits for it).
/// Small checkpoints keep the 1-connection tail short (p99 0.98 ms at 200 pages, 0.86 ms at 100);
/// a WAL checkpointed often is rewritten from its start, in blocks the file already has, which is
/// cheaper to fsync than a growing one; below 100 the extra fsyncs cost throughput
/// (docs/performance.md, seventh round).
const WAL_CHECKPOINT_PAGES: i32 = 100;

/// The WAL's length in frames after the last commit, as SQLite reports it to the WAL hook.
/// Boxed so its address stays fixed while SQLite holds a pointer to it.
type WalFrames = Box<std::cell::Cell<i32>>;

/// Replace SQLite's automatic checkpoint (which runs inside the commit that crosses the limit, so
/// that commit's callers wait for it) by a hook that only records the WAL's length.
fn watch_wal(conn: &Connection) -> WalFrames {
    unsafe extern "C" fn record(
        frames: *mut std::os::raw::c_void,
        _db: *mut rusqlite::ffi::sqlite3,
        _name: *const std::os::raw::c_char,
        n: std::os::raw::c_int,
    ) -> std::os::raw::c_int {
        // SAFETY: `frames` is the `WalFrames` registered below; it outlives the connection.
        unsafe { (*(frames as *const std::cell::Cell<i32>)).set(n) };
        rusqlite::ffi::SQLITE_OK
    }
    let frames: WalFrames = Box::default();
    // SAFETY: the handle is this open connection's; the pointer stays valid because the store
    // keeps the box and drops it after the connection (field order in `SqliteStore`), and the
    // connection is used from one thread at a time, as `Cell` requires.
    unsafe {
        rusqlite::ffi::sqlite3_wal_hook(conn.handle(), Some(record), &*frames as *const _ as *mut _);
    }
    frames
}

/// The SQLite store.
pub struct SqliteStore {
    // Declared before `wal_frames`: the connection, which holds a pointer to it, is dropped first.
    conn: Connection,
    /// Set by the WAL hook (writers only).
    wal_frames: Option<WalFrames>,
    path: PathBuf,
    inode: u64,
    /// A read-only log in the old layout (no `tree_hashes`): subtree hashes come from the leaves.
    leaves_only: bool,
    /// A committed batch erased bodies: the next `tidy` empties the WAL.
    erased: std::cell::Cell<bool>,
}

impl SqliteStore {
    /// Open (creating if needed) for writing.
    pub fn open_writer(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_millis(2000))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!("cannot enable WAL (journal mode {mode})")));
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;")?;
        conn.execute_batch(SCHEMA)?;
        add_sealing_columns(&conn)?;
        conn.execute_batch(BODIES_ERASE_ONLY)?;
        if has_table(&conn, "tree_nodes")? {
            upgrade_tree_table(&mut conn)?;
        }
        let inode = std::fs::metadata(path).map_err(|e| StoreError::Unavailable(e.to_string()))?.ino();
        let wal_frames = Some(watch_wal(&conn));
        Ok(SqliteStore {
            conn,
            wal_frames,
            path: path.to_path_buf(),
            inode,
            leaves_only: false,
            erased: Default::default(),
        })
    }

    /// Open an existing log read-only (offline commands).
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        let (conn, path, inode, leaves_only) = LogDb::open(path)?.into_parts();
        Ok(SqliteStore { conn, wal_frames: None, path, inode, leaves_only, erased: Default::default() })
    }

    /// False for a read-only log in the old layout, which keeps no interior tree nodes.
    pub fn has_tree_hashes(&self) -> bool {
        !self.leaves_only
    }

    /// The underlying connection (verifier streaming, tests).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn node(&self, level: u32, index: u64) -> Result<Hash, StoreError> {
        if level > 0 && self.leaves_only {
            return self.node_from_leaves(level, index);
        }
        let blob: Option<Vec<u8>> = if level == 0 {
            self.conn
                .query_row("SELECT leaf_hash FROM entries WHERE seq = ?1", [index as i64], |r| r.get(0))
                .optional()?
        } else {
            self.conn
                .query_row("SELECT hash FROM tree_hashes WHERE pos = ?1", [stored_position(level, index) as i64], |r| {
                    r.get(0)
                })
                .optional()?
        };
        blob.and_then(|b| b.try_into().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("missing tree node level {level} index {index}")))
    }

    /// Rehash the leaves under node `(level, index)` (old-layout logs opened read-only). Reads only
    /// the stored leaf hashes, not the entries.
    fn node_from_leaves(&self, level: u32, index: u64) -> Result<Hash, StoreError> {
        let (lo, hi) = (index << level, (index + 1) << level);
        let mut stmt =
            self.conn.prepare_cached("SELECT leaf_hash FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq")?;
        let mut rows = stmt.query(params![lo as i64, hi.min(i64::MAX as u64) as i64])?;
        let mut frontier = Frontier::new();
        while let Some(row) = rows.next()? {
            frontier.push(leaf_hash_column(row, lo + frontier.size())?);
        }
        if frontier.size() != hi - lo {
            return Err(StoreError::Corrupt(format!("missing leaves under tree node level {level} index {index}")));
        }
        Ok(frontier.root())
    }
}

/// Logs created before bodies were sealed get the columns for the wrapped key and the hold.
fn add_sealing_columns(conn: &Connection) -> Result<(), StoreError> {
    if !db::has_column(conn, "bodies", "wrapped_key")? {
        conn.execute_batch(
            "ALTER TABLE bodies ADD COLUMN wrapped_key BLOB; ALTER TABLE bodies ADD COLUMN retain_until TEXT;",
        )?;
    }
    Ok(())
}

/// Move a log from the old `tree_nodes (level, idx)` table to `tree_hashes`, in one transaction.
/// The node hashes are derived data, so they are recomputed from the stored leaf hashes rather than
/// copied: a damaged old table cannot carry over.
fn upgrade_tree_table(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut leaves = tx.prepare("SELECT leaf_hash FROM entries ORDER BY seq")?;
        let mut insert = tx.prepare("INSERT INTO tree_hashes (pos, level, idx, hash) VALUES (?1, ?2, ?3, ?4)")?;
        let mut rows = leaves.query([])?;
        let mut frontier = Frontier::new();
        while let Some(row) = rows.next()? {
            let leaf = leaf_hash_column(row, frontier.size())?;
            for (level, index, hash) in frontier.push(leaf) {
                insert.execute(params![stored_position(level, index) as i64, level, index as i64, &hash[..]])?;
            }
        }
    }
    // Dropping a table does not fire its DELETE triggers; the table only held derived hashes.
    tx.execute_batch("DROP TABLE tree_nodes")?;
    tx.commit()?;
    tracing::info!("audit log upgraded: tree nodes now stored in append order (tree_hashes)");
    Ok(())
}

impl LogStore for SqliteStore {
    fn read_nodes(&self, from: u64, to: u64) -> Result<HashMap<u64, StoredNode>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT pos, level, idx, hash FROM tree_hashes WHERE pos >= ?1 AND pos < ?2")?;
        let rows = stmt.query_map(params![from as i64, to.min(i64::MAX as u64) as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, StoredNode { level: r.get(1)?, index: r.get(2)?, hash: r.get(3)? }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn size(&self) -> Result<u64, StoreError> {
        db::size(&self.conn)
    }

    fn bodies(&self) -> Result<Vec<BodyRow>, StoreError> {
        db::bodies(&self.conn)
    }

    fn add_cosignature(&mut self, size: u64, witness: &str, line: &str, now: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO cosignatures (tree_size, witness, line, received_at) VALUES (?1, ?2, ?3, ?4)",
            params![size as i64, witness, line, now],
        )?;
        Ok(())
    }

    fn cosignatures(&self) -> Result<Vec<StoredCosignature>, StoreError> {
        db::cosignatures(&self.conn)
    }

    fn add_timestamp(&mut self, t: &StoredTimestamp, now: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO timestamps (tree_size, tsa, token, gen_time, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![t.size as i64, t.tsa, t.token, t.gen_time, now],
        )?;
        Ok(())
    }

    fn timestamps(&self) -> Result<Vec<StoredTimestamp>, StoreError> {
        db::timestamps(&self.conn)
    }

    fn bodies_of(&self, seq: u64) -> Result<Vec<BodyRow>, StoreError> {
        db::bodies_of(&self.conn, seq)
    }

    fn append_batch(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(first) = batch.entries.first() {
            let max: Option<i64> = tx.prepare_cached("SELECT max(seq) FROM entries")?.query_row([], |r| r.get(0))?;
            let size = max.map_or(0, |m| m as u64 + 1);
            if size != first.seq {
                return Err(StoreError::Corrupt(format!(
                    "log has {size} entries but the writer expected {}: another writer?",
                    first.seq
                )));
            }
        }
        {
            let mut ins =
                tx.prepare_cached("INSERT INTO entries (seq, kind, leaf_hash, bytes) VALUES (?1, ?2, ?3, ?4)")?;
            for e in &batch.entries {
                ins.execute(params![e.seq as i64, e.kind, &e.leaf_hash[..], e.bytes])?;
            }
            let mut node =
                tx.prepare_cached("INSERT INTO tree_hashes (pos, level, idx, hash) VALUES (?1, ?2, ?3, ?4)")?;
            for (level, index, hash) in &batch.nodes {
                node.execute(params![stored_position(*level, *index) as i64, level, *index as i64, &hash[..]])?;
            }
            if !batch.bodies.is_empty() {
                let mut body = tx.prepare_cached(
                    "INSERT INTO bodies (seq, role, mode, sha256, size, body, wrapped_key, retain_until) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for b in &batch.bodies {
                    body.execute(params![
                        b.seq as i64,
                        b.role,
                        b.mode,
                        b.sha256,
                        b.size as i64,
                        b.bytes,
                        b.wrapped_key,
                        b.retain_until
                    ])?;
                }
            }
            if !batch.erasures.is_empty() {
                let mut erase = tx.prepare_cached(
                    "UPDATE bodies SET body = NULL, wrapped_key = NULL, erased_at = ?1 \
                     WHERE seq = ?2 AND role = ?3 AND body IS NOT NULL",
                )?;
                for e in &batch.erasures {
                    for role in &e.roles {
                        erase.execute(params![e.erased_at, e.seq as i64, role])?;
                    }
                }
            }
        }
        tx.commit()?;
        if !batch.erasures.is_empty() {
            self.erased.set(true);
        }
        Ok(())
    }

    fn read_range(&self, from: u64, to: u64) -> Result<Vec<StoredEntry>, StoreError> {
        db::read_range(&self.conn, from, to)
    }

    fn tree_state(&self) -> Result<TreeState, StoreError> {
        let size = self.size()?;
        let last = match size {
            0 => None,
            n => self.read_range(n - 1, n)?.pop(),
        };
        let hashes = decompose(0, size)
            .into_iter()
            .map(|(level, index)| self.node(level, index))
            .collect::<Result<Vec<_>, _>>()?;
        let frontier =
            Frontier::from_parts(size, hashes).ok_or_else(|| StoreError::Corrupt("frontier shape".into()))?;
        Ok(TreeState { frontier, last })
    }

    fn subtree_hash(&self, lo: u64, hi: u64) -> Result<Hash, StoreError> {
        let hashes = decompose(lo, hi)
            .into_iter()
            .map(|(level, index)| self.node(level, index))
            .collect::<Result<Vec<_>, _>>()?;
        fold_right(&hashes).ok_or_else(|| StoreError::Corrupt(format!("empty subtree [{lo}, {hi})")))
    }

    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO checkpoints (tree_size, root_hash, note) VALUES (?1, ?2, ?3)",
            params![cp.size as i64, &cp.root[..], cp.note],
        )?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        db::checkpoints(&self.conn)
    }

    fn last_key_entry(&self) -> Result<Option<StoredEntry>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT seq, kind, leaf_hash, bytes FROM entries WHERE kind IN ('genesis', 'key_rotated') ORDER BY seq DESC LIMIT 1",
                [],
                db::entry_columns,
            )
            .optional()?;
        row.map(make_entry).transpose()
    }

    fn health_check(&self) -> Result<(), StoreError> {
        let meta = std::fs::metadata(&self.path)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", self.path.display())))?;
        if meta.ino() != self.inode {
            return Err(StoreError::Unavailable(format!("{} was replaced", self.path.display())));
        }
        // Root ignores permission bits, so honour an operator's chmod explicitly.
        if meta.mode() & 0o222 == 0 {
            return Err(StoreError::Unavailable(format!("{} is read-only", self.path.display())));
        }
        Ok(())
    }

    fn probe_write(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?;
        Ok(())
    }

    /// A PASSIVE checkpoint once the WAL holds [`WAL_CHECKPOINT_PAGES`] frames: what SQLite's
    /// automatic checkpoint does, moved out of the commit.
    fn tidy(&mut self) -> Result<(), StoreError> {
        let Some(frames) = &self.wal_frames else { return Ok(()) };
        if self.erased.replace(false) {
            // An erasure: copy the WAL into the database (secure_delete zeroed the freed cells)
            // and empty it, so the erased bytes leave the disk now, not at the next checkpoint.
            frames.set(0);
            self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            return Ok(());
        }
        if frames.get() < WAL_CHECKPOINT_PAGES {
            return Ok(());
        }
        frames.set(0);
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle::leaf_hash;

    fn entry(seq: u64) -> StoredEntry {
        let bytes = format!("entry {seq}").into_bytes();
        StoredEntry { seq, kind: "request".into(), leaf_hash: leaf_hash(&bytes), bytes }
    }

    fn append(store: &mut SqliteStore, f: &mut Frontier, seqs: std::ops::Range<u64>) {
        let mut batch = Batch::default();
        for s in seqs {
            let e = entry(s);
            batch.nodes.extend(f.push(e.leaf_hash));
            batch.entries.push(e);
        }
        store.append_batch(&batch).unwrap();
    }

    #[test]
    fn batches_persist_tree_state_and_reject_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let mut store = SqliteStore::open_writer(&path).unwrap();
        let mut f = Frontier::new();
        append(&mut store, &mut f, 0..5);
        append(&mut store, &mut f, 5..13);
        let state = store.tree_state().unwrap();
        assert_eq!(state.frontier, f);
        assert_eq!(state.last.unwrap().seq, 12);
        assert_eq!(store.subtree_hash(8, 13).unwrap(), {
            let mut g = Frontier::new();
            (8..13).for_each(|s| {
                g.push(entry(s).leaf_hash);
            });
            g.root()
        });
        let mut gap = Batch::default();
        gap.entries.push(entry(20));
        assert!(matches!(store.append_batch(&gap), Err(StoreError::Corrupt(_))));
    }

    /// A log in the layout before `tree_hashes`: entries plus `tree_nodes (level, idx)`.
    fn write_old_layout(path: &Path, leaves: u64) -> Frontier {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE entries (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, leaf_hash BLOB NOT NULL, bytes BLOB NOT NULL);
             CREATE TABLE tree_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
                                      PRIMARY KEY (level, idx)) WITHOUT ROWID;
             CREATE TRIGGER tree_nodes_no_delete BEFORE DELETE ON tree_nodes
                 BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",
        )
        .unwrap();
        let mut f = Frontier::new();
        for seq in 0..leaves {
            let e = entry(seq);
            conn.execute(
                "INSERT INTO entries VALUES (?1, ?2, ?3, ?4)",
                params![seq as i64, e.kind, &e.leaf_hash[..], e.bytes],
            )
            .unwrap();
            for (level, index, hash) in f.push(e.leaf_hash) {
                conn.execute("INSERT INTO tree_nodes VALUES (?1, ?2, ?3)", params![level, index as i64, &hash[..]])
                    .unwrap();
            }
        }
        f
    }

    fn root_of(range: std::ops::Range<u64>) -> Hash {
        let mut g = Frontier::new();
        range.for_each(|s| {
            g.push(entry(s).leaf_hash);
        });
        g.root()
    }

    #[test]
    fn old_layout_is_read_from_leaves_and_upgraded_by_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let mut f = write_old_layout(&path, 21);

        let reader = SqliteStore::open_read_only(&path).unwrap();
        assert_eq!(reader.subtree_hash(0, 21).unwrap(), f.root());
        assert_eq!(reader.subtree_hash(16, 20).unwrap(), root_of(16..20));
        drop(reader);

        let mut store = SqliteStore::open_writer(&path).unwrap();
        assert!(!has_table(store.connection(), "tree_nodes").unwrap());
        assert_eq!(store.tree_state().unwrap().frontier, f);
        append(&mut store, &mut f, 21..40);
        assert_eq!(store.subtree_hash(0, 40).unwrap(), f.root());
        assert_eq!(store.subtree_hash(16, 32).unwrap(), root_of(16..32));
        let rows: i64 = store.connection().query_row("SELECT count(*) FROM tree_hashes", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 40 - 40u64.count_ones() as i64, "one row per interior node");
    }

    #[test]
    fn commits_leave_the_wal_checkpoint_to_tidy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let mut store = SqliteStore::open_writer(&path).unwrap();
        let wal = dir.path().join("log.db-wal");
        let size = |p: &Path| std::fs::metadata(p).unwrap().len();
        let db_before = size(&path);
        let mut f = Frontier::new();
        let mut next = 0;
        // Entries of a page each, so the WAL passes the checkpoint limit within a few batches.
        let mut big_batch = |store: &mut SqliteStore, f: &mut Frontier| {
            let mut batch = Batch::default();
            for _ in 0..10 {
                let bytes = vec![b'x'; 4000];
                let e = StoredEntry { seq: next, kind: "request".into(), leaf_hash: leaf_hash(&bytes), bytes };
                batch.nodes.extend(f.push(e.leaf_hash));
                batch.entries.push(e);
                next += 1;
            }
            store.append_batch(&batch).unwrap();
        };
        while store.wal_frames.as_ref().unwrap().get() < WAL_CHECKPOINT_PAGES {
            big_batch(&mut store, &mut f);
        }
        assert_eq!(size(&path), db_before, "a commit copied the WAL into the database itself");

        store.tidy().unwrap();
        assert!(size(&path) > db_before + 30 * 4096, "tidy did not checkpoint");

        // Appends with tidy after each keep rewriting the WAL from its start.
        let wal_then = size(&wal);
        for _ in 0..60 {
            big_batch(&mut store, &mut f);
            store.tidy().unwrap();
        }
        assert!(size(&wal) <= wal_then + 40 * 4120, "the WAL kept growing: {} bytes", size(&wal));
        assert_eq!(store.tree_state().unwrap().frontier, f);
    }

    #[test]
    fn triggers_forbid_update_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open_writer(&dir.path().join("log.db")).unwrap();
        let mut f = Frontier::new();
        append(&mut store, &mut f, 0..3);
        let c = store.connection();
        assert!(c.execute("UPDATE entries SET bytes = x'00' WHERE seq = 1", []).is_err());
        assert!(c.execute("DELETE FROM entries WHERE seq = 2", []).is_err());
        assert!(c.execute("DELETE FROM tree_hashes", []).is_err());
        assert_eq!(store.size().unwrap(), 3);
    }

    #[test]
    fn bodies_can_only_be_erased() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open_writer(&dir.path().join("log.db")).unwrap();
        let mut batch = Batch::default();
        batch.bodies.push(NewBody {
            seq: 0,
            role: "request".into(),
            mode: "full".into(),
            bytes: b"sealed".to_vec(),
            sha256: "00".repeat(32),
            size: 6,
            wrapped_key: b"wrapped".to_vec(),
            retain_until: "2036-01-01T00:00:00.000000Z".into(),
        });
        store.append_batch(&batch).unwrap();
        let c = store.connection();
        assert!(c.execute("UPDATE bodies SET body = x'00'", []).is_err());
        assert!(c.execute("UPDATE bodies SET retain_until = '2020-01-01'", []).is_err());
        // Erasing the ciphertext but keeping the wrapped key is not an erasure.
        assert!(c.execute("UPDATE bodies SET body = NULL, erased_at = 'now'", []).is_err());
        let erase = Erasure { seq: 0, roles: vec!["request".into()], erased_at: "2026-01-01T00:00:00.000000Z".into() };
        store.append_batch(&Batch { erasures: vec![erase], ..Default::default() }).unwrap();
        let rows = store.bodies().unwrap();
        assert!(rows[0].body.is_none() && rows[0].wrapped_key.is_none());
        assert_eq!(rows[0].size, 6);
        assert_eq!(rows[0].erased_at.as_deref(), Some("2026-01-01T00:00:00.000000Z"));
        assert!(store.connection().execute("DELETE FROM bodies", []).is_err());
    }
}
