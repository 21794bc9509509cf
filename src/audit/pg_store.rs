//! The audit log in PostgreSQL ([`PgStore`]): several gateway nodes share one database, each with
//! its own chain, tree and checkpoint series (rows keyed by `node`), its own signing key and
//! origin, kept in its own data directory as with SQLite.
//!
//! Guarantees kept from the SQLite store: a batch is one transaction with
//! `synchronous_commit = on` (the commit returns once PostgreSQL has flushed its WAL, and on a
//! synchronous standby when one is configured), so the writer's acknowledgement still means
//! durable; triggers abort every UPDATE, DELETE and TRUNCATE (`pg_schema.sql`); one writer per
//! node, held by a session advisory lock for as long as the writer's connection lives; a lost
//! connection fails the batch (callers answer 503 and forward nothing) and the next batch
//! reconnects, after the writer has re-verified what the database holds.
//!
//! The client is the sync `postgres` crate: the writer is a plain thread that owns its store, as
//! with SQLite, and the crate drives tokio-postgres on a runtime of its own. It must therefore not
//! be called on a thread that runs async tasks (it would block that runtime from inside); the
//! writer opens its store on its own thread, and async callers read through `spawn_blocking`.

use super::merkle::{decompose, fold_right, stored_position, Frontier, Hash};
use super::store::{
    Batch, BodyRow, LogStore, StoreError, StoredCheckpoint, StoredCosignature, StoredEntry, StoredNode,
    StoredTimestamp, TreeState,
};
use auditlog::pg;
use postgres::Client;
use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::time::Duration;

/// The schema: tables with a `node` column, their append-only triggers.
pub const SCHEMA: &str = include_str!("pg_schema.sql");

/// Longest a connection attempt may take: a writer that cannot reach the database answers its
/// callers (503) instead of holding them past `APPEND_TIMEOUT`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest one statement may run, for the same reason (set on every session).
const STATEMENT_TIMEOUT: &str = "4s";

/// A node's log in PostgreSQL.
pub struct PgStore {
    /// `RefCell`: the store is used from one thread (the writer's, or one reader's), and the
    /// client needs `&mut` for every query while [`LogStore`] reads take `&self`.
    client: RefCell<Client>,
    url: String,
    node: String,
    writer: bool,
}

impl PgStore {
    /// Connect as the writer of `node`: schema created when missing, the node's writer lock taken.
    pub fn open_writer(url: &str, node: &str) -> Result<PgStore, StoreError> {
        let mut client = connect(url, node, true)?;
        ensure_schema(&mut client)?;
        Ok(PgStore { client: RefCell::new(client), url: url.to_string(), node: node.to_string(), writer: true })
    }

    /// Connect to read the log of `node` (every transaction read-only).
    pub fn open_read_only(url: &str, node: &str) -> Result<PgStore, StoreError> {
        let mut client = connect(url, node, false)?;
        if !pg::has_schema(&mut client)? {
            return Err(StoreError::Unavailable("the database holds no audit log (no audit_entries table)".into()));
        }
        Ok(PgStore { client: RefCell::new(client), url: url.to_string(), node: node.to_string(), writer: false })
    }

    /// The client, connected again first if the connection was lost (the database restarted).
    fn client(&self) -> Result<RefMut<'_, Client>, StoreError> {
        let mut client = self.client.borrow_mut();
        if client.is_closed() {
            *client = connect(&self.url, &self.node, self.writer)?;
        }
        Ok(client)
    }

    fn nodes(&self, wanted: &[(u32, u64)]) -> Result<Vec<Hash>, StoreError> {
        let found = pg::tree_nodes(&mut *self.client()?, &self.node, wanted)?;
        found
            .into_iter()
            .zip(wanted)
            .map(|(h, (level, index))| {
                h.ok_or_else(|| StoreError::Corrupt(format!("missing tree node level {level} index {index}")))
            })
            .collect()
    }
}

/// A session for `node`: durable commits and bounded statements whatever the server's defaults;
/// for the writer, the node's advisory lock (released when the session ends, also by a crash).
fn connect(url: &str, node: &str, writer: bool) -> Result<Client, StoreError> {
    let mut client = pg::connect(url, CONNECT_TIMEOUT)?;
    client.batch_execute(&format!(
        "SET synchronous_commit = on; SET statement_timeout = '{STATEMENT_TIMEOUT}'; {}",
        if writer { "" } else { "SET default_transaction_read_only = on;" }
    ))?;
    if writer {
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock(hashtext('auditgate-node:' || $1)::bigint)", &[&node])?
            .get(0);
        if !locked {
            return Err(StoreError::Unavailable(format!(
                "node {node:?} is in use by another writer (a gateway running with the same [state] node?)"
            )));
        }
    }
    Ok(client)
}

/// Create the tables and triggers when the database has none (one node at a time).
fn ensure_schema(client: &mut Client) -> Result<(), StoreError> {
    if pg::has_schema(client)? {
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('auditgate-schema')::bigint)", &[])?;
    tx.batch_execute(SCHEMA)?;
    tx.commit()?;
    tracing::info!("audit log tables created in PostgreSQL");
    Ok(())
}

fn i64s(values: impl Iterator<Item = u64>) -> Vec<i64> {
    values.map(|v| v as i64).collect()
}

impl LogStore for PgStore {
    fn append_batch(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
        let node = self.node.as_str();
        if let Some(first) = batch.entries.first() {
            let size = pg::size(&mut tx, node)?;
            if size != first.seq {
                return Err(StoreError::Corrupt(format!(
                    "node {node} has {size} entries but the writer expected {}: another writer?",
                    first.seq
                )));
            }
            let e = &batch.entries;
            tx.execute(
                "INSERT INTO audit_entries (node, seq, kind, leaf_hash, bytes) \
                 SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bytea[], $5::bytea[])",
                &[
                    &node,
                    &i64s(e.iter().map(|e| e.seq)),
                    &e.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
                    &e.iter().map(|e| &e.leaf_hash[..]).collect::<Vec<_>>(),
                    &e.iter().map(|e| &e.bytes[..]).collect::<Vec<_>>(),
                ],
            )?;
        }
        if !batch.nodes.is_empty() {
            let n = &batch.nodes;
            tx.execute(
                "INSERT INTO audit_tree_hashes (node, pos, level, idx, hash) \
                 SELECT $1, * FROM unnest($2::bigint[], $3::int[], $4::bigint[], $5::bytea[])",
                &[
                    &node,
                    &i64s(n.iter().map(|(level, index, _)| stored_position(*level, *index))),
                    &n.iter().map(|(level, _, _)| *level as i32).collect::<Vec<_>>(),
                    &i64s(n.iter().map(|(_, index, _)| *index)),
                    &n.iter().map(|(_, _, hash)| &hash[..]).collect::<Vec<_>>(),
                ],
            )?;
        }
        for b in &batch.bodies {
            tx.execute(
                "INSERT INTO audit_bodies (node, seq, role, mode, sha256, size, body, wrapped_key, retain_until) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &node,
                    &(b.seq as i64),
                    &b.role,
                    &b.mode,
                    &b.sha256,
                    &(b.size as i64),
                    &b.bytes,
                    &b.wrapped_key,
                    &b.retain_until,
                ],
            )?;
        }
        for e in &batch.erasures {
            for role in &e.roles {
                tx.execute(
                    "UPDATE audit_bodies SET body = NULL, wrapped_key = NULL, erased_at = $1 \
                     WHERE node = $2 AND seq = $3 AND role = $4 AND body IS NOT NULL",
                    &[&e.erased_at, &node, &(e.seq as i64), role],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn read_range(&self, from: u64, to: u64) -> Result<Vec<StoredEntry>, StoreError> {
        pg::read_range(&mut *self.client()?, &self.node, from, to)
    }

    fn tree_state(&self) -> Result<TreeState, StoreError> {
        let size = self.size()?;
        let last = match size {
            0 => None,
            n => self.read_range(n - 1, n)?.pop(),
        };
        let hashes = self.nodes(&decompose(0, size))?;
        let frontier =
            Frontier::from_parts(size, hashes).ok_or_else(|| StoreError::Corrupt("frontier shape".into()))?;
        Ok(TreeState { frontier, last })
    }

    fn subtree_hash(&self, lo: u64, hi: u64) -> Result<Hash, StoreError> {
        let hashes = self.nodes(&decompose(lo, hi))?;
        fold_right(&hashes).ok_or_else(|| StoreError::Corrupt(format!("empty subtree [{lo}, {hi})")))
    }

    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<(), StoreError> {
        self.client()?.execute(
            "INSERT INTO audit_checkpoints (node, tree_size, root_hash, note) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
            &[&self.node, &(cp.size as i64), &&cp.root[..], &cp.note],
        )?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        pg::checkpoints(&mut *self.client()?, &self.node)
    }

    fn last_key_entry(&self) -> Result<Option<StoredEntry>, StoreError> {
        pg::last_key_entry(&mut *self.client()?, &self.node)
    }

    /// Connected (again, if the connection was lost). A dead server shows here or in the append.
    fn health_check(&self) -> Result<(), StoreError> {
        self.client().map(|_| ())
    }

    /// The server answers and takes writes (a standby in recovery does not).
    fn probe_write(&self) -> Result<(), StoreError> {
        let recovering: bool = self.client()?.query_one("SELECT pg_is_in_recovery()", &[])?.get(0);
        if recovering {
            return Err(StoreError::Unavailable("the PostgreSQL server is a read-only standby".into()));
        }
        Ok(())
    }

    fn size(&self) -> Result<u64, StoreError> {
        pg::size(&mut *self.client()?, &self.node)
    }

    fn read_nodes(&self, from: u64, to: u64) -> Result<HashMap<u64, StoredNode>, StoreError> {
        pg::read_nodes(&mut *self.client()?, &self.node, from, to)
    }

    fn bodies(&self) -> Result<Vec<BodyRow>, StoreError> {
        pg::bodies(&mut *self.client()?, &self.node, None)
    }

    fn bodies_of(&self, seq: u64) -> Result<Vec<BodyRow>, StoreError> {
        pg::bodies(&mut *self.client()?, &self.node, Some(seq))
    }

    fn add_cosignature(&mut self, size: u64, witness: &str, line: &str, now: &str) -> Result<(), StoreError> {
        self.client()?.execute(
            "INSERT INTO audit_cosignatures (node, tree_size, witness, line, received_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
            &[&self.node, &(size as i64), &witness, &line, &now],
        )?;
        Ok(())
    }

    fn cosignatures(&self) -> Result<Vec<StoredCosignature>, StoreError> {
        pg::cosignatures(&mut *self.client()?, &self.node)
    }

    fn add_timestamp(&mut self, t: &StoredTimestamp, now: &str) -> Result<(), StoreError> {
        self.client()?.execute(
            "INSERT INTO audit_timestamps (node, tree_size, tsa, token, gen_time, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[&self.node, &(t.size as i64), &t.tsa, &t.token, &t.gen_time, &now],
        )?;
        Ok(())
    }

    fn timestamps(&self) -> Result<Vec<StoredTimestamp>, StoreError> {
        pg::timestamps(&mut *self.client()?, &self.node)
    }
}
