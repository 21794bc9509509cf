//! Reading `log.db` (docs/audit-format.md section 3): the row types and the queries the verifier
//! and the gateway's store share. Writing, the schema and its triggers belong to the gateway.

use crate::merkle::Hash;
use rusqlite::{params, Connection, OpenFlags};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Storage failures. In the gateway, anything here makes appends fail closed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An error of the PostgreSQL server or connection (the `postgres` feature), in its words.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    #[error("log database unavailable: {0}")]
    Unavailable(String),
    #[error("log database inconsistent: {0}")]
    Corrupt(String),
}

/// One entry as stored: `leaf_hash` is the hash computed when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub kind: String,
    pub leaf_hash: Hash,
    pub bytes: Vec<u8>,
}

/// One `tree_hashes` row as stored (columns unchecked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNode {
    pub level: i64,
    pub index: i64,
    pub hash: Vec<u8>,
}

/// A stored body row; `body` is None once erased.
#[derive(Debug, Clone)]
pub struct BodyRow {
    pub seq: u64,
    pub role: String,
    pub mode: String,
    pub sha256: String,
    pub size: u64,
    pub body: Option<Vec<u8>>,
    pub erased_at: Option<String>,
    /// None for bodies stored in clear by versions before sealing (and once erased).
    pub wrapped_key: Option<Vec<u8>>,
    /// None for bodies stored by versions before the chain committed to them.
    pub retain_until: Option<String>,
}

impl BodyRow {
    /// Stored by a version that sealed it and committed to it with a `body_stored` entry.
    pub fn committed(&self) -> bool {
        self.retain_until.is_some()
    }
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
}

/// An existing log opened read-only (the verifier, offline commands).
pub struct LogDb {
    conn: Connection,
    path: PathBuf,
    inode: u64,
    /// A log in the old layout (no `tree_hashes`): it keeps no interior tree nodes.
    leaves_only: bool,
}

impl LogDb {
    /// Open an existing log read-only; fails if the file is missing or holds no `entries` table.
    pub fn open(path: &Path) -> Result<LogDb, StoreError> {
        let meta = std::fs::metadata(path).map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(Duration::from_millis(2000))?;
        if !has_table(&conn, "entries")? {
            return Err(StoreError::Unavailable(format!("{} is not an audit log (no entries table)", path.display())));
        }
        let leaves_only = !has_table(&conn, "tree_hashes")?;
        Ok(LogDb { conn, path: path.to_path_buf(), inode: meta.ino(), leaves_only })
    }

    /// Hand the parts to a store that builds on this reader.
    pub fn into_parts(self) -> (Connection, PathBuf, u64, bool) {
        (self.conn, self.path, self.inode, self.leaves_only)
    }

    /// False for a log in the old layout, which keeps no interior tree nodes.
    pub fn has_tree_hashes(&self) -> bool {
        !self.leaves_only
    }

    /// The underlying connection (verifier streaming).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Number of entries (max seq + 1).
    pub fn size(&self) -> Result<u64, StoreError> {
        size(&self.conn)
    }

    /// Every stored checkpoint, by size.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        checkpoints(&self.conn)
    }

    /// Every stored body row, by entry.
    pub fn bodies(&self) -> Result<Vec<BodyRow>, StoreError> {
        bodies(&self.conn)
    }

    /// Every stored witness cosignature, by size.
    pub fn cosignatures(&self) -> Result<Vec<StoredCosignature>, StoreError> {
        cosignatures(&self.conn)
    }

    /// Every stored time-stamp token, by size.
    pub fn timestamps(&self) -> Result<Vec<StoredTimestamp>, StoreError> {
        timestamps(&self.conn)
    }
}

/// Whether the database has a table of that name.
pub fn has_table(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let n: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| r.get(0))?;
    Ok(n > 0)
}

/// Number of entries (max seq + 1).
pub fn size(conn: &Connection) -> Result<u64, StoreError> {
    let max: Option<i64> = conn.query_row("SELECT max(seq) FROM entries", [], |r| r.get(0))?;
    Ok(max.map_or(0, |m| m as u64 + 1))
}

/// Entries with `from <= seq < to`, in order.
pub fn read_range(conn: &Connection, from: u64, to: u64) -> Result<Vec<StoredEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT seq, kind, leaf_hash, bytes FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq")?;
    let rows = stmt.query_map(params![from as i64, to.min(i64::MAX as u64) as i64], entry_columns)?;
    rows.map(|r| make_entry(r?)).collect()
}

/// Every stored checkpoint, by size.
pub fn checkpoints(conn: &Connection) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let mut stmt = conn.prepare("SELECT tree_size, root_hash, note FROM checkpoints ORDER BY tree_size")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, String>(2)?)))?;
    rows.map(|r| {
        let (size, root, note) = r?;
        let root =
            root.try_into().map_err(|_| StoreError::Corrupt(format!("checkpoint {size}: root is not 32 bytes")))?;
        Ok(StoredCheckpoint { size: size as u64, root, note })
    })
    .collect()
}

/// Every stored body row, by entry.
pub fn bodies(conn: &Connection) -> Result<Vec<BodyRow>, StoreError> {
    bodies_where(conn, None)
}

/// The stored bodies of one entry, by role.
pub fn bodies_of(conn: &Connection, seq: u64) -> Result<Vec<BodyRow>, StoreError> {
    bodies_where(conn, Some(seq))
}

fn bodies_where(conn: &Connection, seq: Option<u64>) -> Result<Vec<BodyRow>, StoreError> {
    // Logs written before bodies were sealed lack the last two columns.
    let sealing = if has_column(conn, "bodies", "retain_until")? { "wrapped_key, retain_until" } else { "NULL, NULL" };
    let mut stmt = conn.prepare(&format!(
        "SELECT seq, role, mode, sha256, size, body, erased_at, {sealing} FROM bodies \
         WHERE ?1 IS NULL OR seq = ?1 ORDER BY seq, role"
    ))?;
    let rows = stmt.query_map([seq.map(|s| s as i64)], |r| {
        Ok(BodyRow {
            seq: r.get::<_, i64>(0)? as u64,
            role: r.get(1)?,
            mode: r.get(2)?,
            sha256: r.get(3)?,
            size: r.get::<_, i64>(4)? as u64,
            body: stored_bytes(r.get_ref(5)?),
            erased_at: r.get(6)?,
            wrapped_key: r.get(7)?,
            retain_until: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A stored body column as bytes, whatever type an editor gave it (so the verifier reports the
/// change instead of failing to read it).
fn stored_bytes(v: rusqlite::types::ValueRef<'_>) -> Option<Vec<u8>> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        ValueRef::Integer(i) => Some(i.to_string().into_bytes()),
        ValueRef::Real(f) => Some(f.to_string().into_bytes()),
    }
}

/// Whether `table` has a column of that name.
pub fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, StoreError> {
    let n: i64 =
        conn.query_row("SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2", [table, column], |r| r.get(0))?;
    Ok(n > 0)
}

/// The columns `seq, kind, leaf_hash, bytes` of an `entries` row, unchecked.
pub fn entry_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, Vec<u8>, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

/// An entry from its columns; the leaf hash must be 32 bytes.
pub fn make_entry((seq, kind, hash, bytes): (i64, String, Vec<u8>, Vec<u8>)) -> Result<StoredEntry, StoreError> {
    let leaf_hash =
        hash.try_into().map_err(|_| StoreError::Corrupt(format!("entry {seq}: leaf hash is not 32 bytes")))?;
    Ok(StoredEntry { seq: seq as u64, kind, leaf_hash, bytes })
}

/// The first column of `row` as the leaf hash of entry `seq`.
pub fn leaf_hash_column(row: &rusqlite::Row<'_>, seq: u64) -> Result<Hash, StoreError> {
    row.get::<_, Vec<u8>>(0)?
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("entry {seq}: leaf hash is not 32 bytes")))
}

/// A witness cosignature stored with the checkpoint of its size (`cosignatures` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCosignature {
    pub size: u64,
    /// The witness's verifier key.
    pub witness: String,
    /// The cosignature line (`— <name> <base64>`, no newline).
    pub line: String,
}

/// Every stored cosignature, by size (none for a log written before witnesses existed).
pub fn cosignatures(conn: &Connection) -> Result<Vec<StoredCosignature>, StoreError> {
    if !has_table(conn, "cosignatures")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT tree_size, witness, line FROM cosignatures ORDER BY tree_size, witness")?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredCosignature { size: r.get::<_, i64>(0)? as u64, witness: r.get(1)?, line: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An RFC 3161 time-stamp token stored with the checkpoint of its size (`timestamps` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTimestamp {
    pub size: u64,
    /// The TSA's URL, as configured when the token was received.
    pub tsa: String,
    /// The TimeStampToken, DER.
    pub token: Vec<u8>,
    /// The token's genTime (RFC 3339, UTC, seconds): a copy, checked against the token.
    pub gen_time: String,
}

/// Every stored time-stamp token, by size (none for a log written before time stamps existed).
pub fn timestamps(conn: &Connection) -> Result<Vec<StoredTimestamp>, StoreError> {
    if !has_table(conn, "timestamps")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT tree_size, tsa, token, gen_time FROM timestamps ORDER BY tree_size, tsa")?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredTimestamp {
            size: r.get::<_, i64>(0)? as u64,
            tsa: r.get(1)?,
            token: stored_bytes(r.get_ref(2)?).unwrap_or_default(),
            gen_time: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
