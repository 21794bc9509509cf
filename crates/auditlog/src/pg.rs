//! Reading a log kept in PostgreSQL (docs/audit-format.md section 3.2), behind the `postgres`
//! feature: the queries the verifier and the gateway's store share. One database holds the logs
//! of several gateway nodes; every table carries a `node` column and each node's rows form their
//! own chain, tree and checkpoint series. Writing, the schema and its triggers belong to the
//! gateway (`src/audit/pg_schema.sql`).
//!
//! The sync `postgres` client (the blocking wrapper of `tokio-postgres`, by the same maintainers)
//! keeps the verifier free of an async runtime of its own making: it drives one internally.

use crate::db::{BodyRow, StoreError, StoredCheckpoint, StoredCosignature, StoredEntry, StoredNode, StoredTimestamp};
use crate::merkle::Hash;
use postgres::{Client, GenericClient, NoTls};
use std::collections::HashMap;
use std::time::Duration;

/// Rows read per query when streaming a whole chain.
pub const CHUNK: i64 = 10_000;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres(describe(&e))
    }
}

/// The server's own message when it sent one (`postgres::Error` alone prints "db error").
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// Connect to `url` (a libpq URL or key=value string) without TLS, bounding the connect.
/// Deployments that cross a network put the database behind a TLS tunnel or a local socket
/// (docs/deployment.md).
pub fn connect(url: &str, timeout: Duration) -> Result<Client, StoreError> {
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| StoreError::Postgres(describe(&e)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(timeout);
    }
    Ok(config.connect(NoTls)?)
}

/// Whether the database holds the audit tables.
pub fn has_schema(c: &mut impl GenericClient) -> Result<bool, StoreError> {
    let row = c.query_one("SELECT to_regclass('audit_entries') IS NOT NULL", &[])?;
    Ok(row.get(0))
}

/// The nodes that have entries, by name.
pub fn nodes(c: &mut impl GenericClient) -> Result<Vec<String>, StoreError> {
    let rows = c.query("SELECT DISTINCT node FROM audit_entries ORDER BY node", &[])?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Number of entries of `node` (max seq + 1).
pub fn size(c: &mut impl GenericClient, node: &str) -> Result<u64, StoreError> {
    let max: Option<i64> = c.query_one("SELECT max(seq) FROM audit_entries WHERE node = $1", &[&node])?.get(0);
    Ok(max.map_or(0, |m| m as u64 + 1))
}

fn entry_of(r: &postgres::Row) -> Result<StoredEntry, StoreError> {
    crate::db::make_entry((r.get(0), r.get(1), r.get(2), r.get(3)))
}

/// Entries of `node` with `from <= seq < to`, in order.
pub fn read_range(c: &mut impl GenericClient, node: &str, from: u64, to: u64) -> Result<Vec<StoredEntry>, StoreError> {
    let rows = c.query(
        "SELECT seq, kind, leaf_hash, bytes FROM audit_entries WHERE node = $1 AND seq >= $2 AND seq < $3 ORDER BY seq",
        &[&node, &(from.min(i64::MAX as u64) as i64), &(to.min(i64::MAX as u64) as i64)],
    )?;
    rows.iter().map(entry_of).collect()
}

/// The newest `genesis` or `key_rotated` entry of `node`.
pub fn last_key_entry(c: &mut impl GenericClient, node: &str) -> Result<Option<StoredEntry>, StoreError> {
    let row = c.query_opt(
        "SELECT seq, kind, leaf_hash, bytes FROM audit_entries WHERE node = $1 AND kind IN ('genesis', 'key_rotated') \
         ORDER BY seq DESC LIMIT 1",
        &[&node],
    )?;
    row.as_ref().map(entry_of).transpose()
}

/// The stored hashes of tree nodes `(level, index)` of `node`, in the order asked; leaves
/// (level 0) are the entries' leaf hashes. A node not stored is `None`.
pub fn tree_nodes(
    c: &mut impl GenericClient,
    node: &str,
    wanted: &[(u32, u64)],
) -> Result<Vec<Option<Hash>>, StoreError> {
    let leaves: Vec<i64> = wanted.iter().filter(|w| w.0 == 0).map(|w| w.1 as i64).collect();
    let inner: Vec<i64> =
        wanted.iter().filter(|w| w.0 > 0).map(|w| crate::merkle::stored_position(w.0, w.1) as i64).collect();
    let mut found: HashMap<(bool, i64), Vec<u8>> = HashMap::new();
    if !leaves.is_empty() {
        for r in
            c.query("SELECT seq, leaf_hash FROM audit_entries WHERE node = $1 AND seq = ANY($2)", &[&node, &leaves])?
        {
            found.insert((true, r.get(0)), r.get(1));
        }
    }
    if !inner.is_empty() {
        for r in
            c.query("SELECT pos, hash FROM audit_tree_hashes WHERE node = $1 AND pos = ANY($2)", &[&node, &inner])?
        {
            found.insert((false, r.get(0)), r.get(1));
        }
    }
    Ok(wanted
        .iter()
        .map(|&(level, index)| {
            let key = if level == 0 {
                (true, index as i64)
            } else {
                (false, crate::merkle::stored_position(level, index) as i64)
            };
            found.remove(&key).and_then(|h| h.try_into().ok())
        })
        .collect())
}

/// The stored interior nodes of `node` with `from <= pos < to`.
pub fn read_nodes(
    c: &mut impl GenericClient,
    node: &str,
    from: u64,
    to: u64,
) -> Result<HashMap<u64, StoredNode>, StoreError> {
    let rows = c.query(
        "SELECT pos, level, idx, hash FROM audit_tree_hashes WHERE node = $1 AND pos >= $2 AND pos < $3",
        &[&node, &(from.min(i64::MAX as u64) as i64), &(to.min(i64::MAX as u64) as i64)],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let level: i32 = r.get(1);
            (r.get::<_, i64>(0) as u64, StoredNode { level: i64::from(level), index: r.get(2), hash: r.get(3) })
        })
        .collect())
}

/// `(pos, level, idx, hash)` of one tree row, unchecked.
pub type NodeRow = (i64, i64, i64, Vec<u8>);

/// Up to [`CHUNK`] tree rows of `node` from position `from`, in order.
pub fn node_rows_from(c: &mut impl GenericClient, node: &str, from: i64) -> Result<Vec<NodeRow>, StoreError> {
    let rows = c.query(
        "SELECT pos, level, idx, hash FROM audit_tree_hashes WHERE node = $1 AND pos >= $2 ORDER BY pos LIMIT $3",
        &[&node, &from, &CHUNK],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), i64::from(r.get::<_, i32>(1)), r.get(2), r.get(3))).collect())
}

/// `(seq, kind, leaf_hash, bytes)` of one entry row, unchecked (the verifier names what is wrong).
pub type EntryRow = (i64, String, Vec<u8>, Vec<u8>);

/// Up to [`CHUNK`] entry rows of `node` from `seq`, in order.
pub fn entry_rows_from(c: &mut impl GenericClient, node: &str, from: i64) -> Result<Vec<EntryRow>, StoreError> {
    let rows = c.query(
        "SELECT seq, kind, leaf_hash, bytes FROM audit_entries WHERE node = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
        &[&node, &from, &CHUNK],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
}

/// Every stored checkpoint of `node`, by size.
pub fn checkpoints(c: &mut impl GenericClient, node: &str) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let rows = c.query(
        "SELECT tree_size, root_hash, note FROM audit_checkpoints WHERE node = $1 ORDER BY tree_size",
        &[&node],
    )?;
    rows.iter()
        .map(|r| {
            let size: i64 = r.get(0);
            let root: Vec<u8> = r.get(1);
            let root =
                root.try_into().map_err(|_| StoreError::Corrupt(format!("checkpoint {size}: root is not 32 bytes")))?;
            Ok(StoredCheckpoint { size: size as u64, root, note: r.get(2) })
        })
        .collect()
}

/// The stored bodies of `node`: all of them, or those of entry `seq`; by entry and role.
pub fn bodies(c: &mut impl GenericClient, node: &str, seq: Option<u64>) -> Result<Vec<BodyRow>, StoreError> {
    let seq = seq.map(|s| s as i64);
    let rows = c.query(
        "SELECT seq, role, mode, sha256, size, body, erased_at, wrapped_key, retain_until FROM audit_bodies \
         WHERE node = $1 AND ($2::bigint IS NULL OR seq = $2) ORDER BY seq, role",
        &[&node, &seq],
    )?;
    Ok(rows
        .iter()
        .map(|r| BodyRow {
            seq: r.get::<_, i64>(0) as u64,
            role: r.get(1),
            mode: r.get(2),
            sha256: r.get(3),
            size: r.get::<_, i64>(4) as u64,
            body: r.get(5),
            erased_at: r.get(6),
            wrapped_key: r.get(7),
            retain_until: r.get(8),
        })
        .collect())
}

/// Every stored witness cosignature of `node`, by size.
pub fn cosignatures(c: &mut impl GenericClient, node: &str) -> Result<Vec<StoredCosignature>, StoreError> {
    let rows = c.query(
        "SELECT tree_size, witness, line FROM audit_cosignatures WHERE node = $1 ORDER BY tree_size, witness",
        &[&node],
    )?;
    Ok(rows
        .iter()
        .map(|r| StoredCosignature { size: r.get::<_, i64>(0) as u64, witness: r.get(1), line: r.get(2) })
        .collect())
}

/// Every stored time-stamp token of `node`, by size.
pub fn timestamps(c: &mut impl GenericClient, node: &str) -> Result<Vec<StoredTimestamp>, StoreError> {
    let rows = c.query(
        "SELECT tree_size, tsa, token, gen_time FROM audit_timestamps WHERE node = $1 ORDER BY tree_size, tsa",
        &[&node],
    )?;
    Ok(rows
        .iter()
        .map(|r| StoredTimestamp {
            size: r.get::<_, i64>(0) as u64,
            tsa: r.get(1),
            token: r.get(2),
            gen_time: r.get(3),
        })
        .collect())
}
