//! Where keys, spend and generation records live. The trait is what the gateway uses; the SQLite
//! implementation keeps them in `gateway.db` beside the audit log (a PostgreSQL one can follow for
//! several gateway nodes). Only the SHA-256 of a secret key is stored.

use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("cannot create data directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("a key named {0:?} already exists")]
    DuplicateName(String),
}

/// An API key as stored (never the secret itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub team: String,
    pub credit_limit_usd: Option<f64>,
    /// Requests per minute allowed (None: unlimited).
    pub rate_limit_rpm: Option<u32>,
    /// Tokens (prompt + completion) per minute allowed (None: unlimited).
    pub rate_limit_tpm: Option<u64>,
    pub usage_usd: f64,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// A provisioning key: manages keys over `/api/v1/keys`, never calls a model.
    pub admin: bool,
    /// Turned off (PATCH `disabled: true`); unlike a revoked key it can be turned on again.
    pub disabled: bool,
    /// When it was last changed (RFC 3339), if ever.
    pub updated_at: Option<String>,
}

/// What `keys create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    pub team: String,
    pub credit_limit_usd: Option<f64>,
    pub rate_limit_rpm: Option<u32>,
    pub rate_limit_tpm: Option<u64>,
    pub admin: bool,
}

/// A change to a key (PATCH `/api/v1/keys/{hash}`): each `Some` replaces the stored value; the
/// inner `None` of a limit removes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub disabled: Option<bool>,
    pub credit_limit_usd: Option<Option<f64>>,
    pub rate_limit_rpm: Option<Option<u32>>,
    pub rate_limit_tpm: Option<Option<u64>>,
}

/// One finished call, as `GET /api/v1/generation` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generation {
    pub id: String,
    pub key_id: String,
    pub model: String,
    pub provider_name: Option<String>,
    pub created_at: String,
    pub tokens_prompt: u64,
    pub tokens_completion: u64,
    pub total_cost: f64,
    /// Milliseconds from request received to the last byte sent.
    pub latency: f64,
    /// Milliseconds the answering upstream took.
    pub generation_time: f64,
    pub finish_reason: Option<String>,
    pub streamed: bool,
    pub cancelled: bool,
    pub request_entry: u64,
    pub response_entry: Option<u64>,
}

/// Storage of keys, spend and generations.
pub trait AccountStore: Send + Sync {
    /// Create a key; returns the stored record and the secret, which is shown once.
    fn create_key(&self, new: &NewKey) -> Result<(ApiKey, String), StoreError>;
    fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// Revoke by id or name; false when no active key matched.
    fn revoke_key(&self, id_or_name: &str) -> Result<bool, StoreError>;
    /// The key with this id, revoked or not.
    fn key_by_id(&self, id: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Apply `patch` to the active key `id`; the key as it is now, `None` when no active key has it.
    fn update_key(&self, id: &str, patch: &KeyPatch) -> Result<Option<ApiKey>, StoreError>;
    /// A number that changes whenever a key is created, changed or revoked, by any process: the
    /// key cache drops what it holds when it moves, so a change counts from the next request.
    fn key_epoch(&self) -> Result<u64, StoreError>;
    /// The active key whose secret hashes to `secret_sha256`.
    fn key_by_hash(&self, secret_sha256: &str) -> Result<Option<ApiKey>, StoreError>;
    fn add_usage(&self, key_id: &str, usd: f64) -> Result<(), StoreError>;
    fn record_generation(&self, g: &Generation) -> Result<(), StoreError>;
    /// Store several generations and add each one's cost to its key's spend.
    fn record_batch(&self, batch: &[Generation]) -> Result<(), StoreError> {
        for g in batch {
            self.record_generation(g)?;
            if g.total_cost > 0.0 {
                self.add_usage(&g.key_id, g.total_cost)?;
            }
        }
        Ok(())
    }
    fn generation(&self, id: &str) -> Result<Option<Generation>, StoreError>;
    /// Generations created in `[from, to)` (RFC 3339 times), oldest first: the activity log.
    fn generations_between(&self, from: &str, to: &str) -> Result<Vec<Generation>, StoreError>;
    /// Every response entry of the audit log below this sequence number is settled here (see
    /// `accounting::reconcile`); 0 when nothing was reconciled yet.
    fn settled_through(&self) -> Result<u64, StoreError>;
    fn set_settled_through(&self, seq: u64) -> Result<(), StoreError>;
}

/// Hex SHA-256 of a secret key, the only form in which keys are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    team TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    credit_limit_usd REAL,
    rate_limit_rpm INTEGER,
    rate_limit_tpm INTEGER,
    usage_usd REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
-- WITHOUT ROWID: the id (UUIDv7, time-ordered) is the only key, so each insert appends to one
-- B-tree instead of a table plus its primary-key index. Older files keep their rowid table.
CREATE TABLE IF NOT EXISTS generations (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    provider_name TEXT,
    created_at TEXT NOT NULL,
    tokens_prompt INTEGER NOT NULL,
    tokens_completion INTEGER NOT NULL,
    total_cost REAL NOT NULL,
    latency REAL NOT NULL,
    generation_time REAL NOT NULL,
    finish_reason TEXT,
    streamed INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    request_entry INTEGER NOT NULL,
    response_entry INTEGER
) WITHOUT ROWID;
-- How far the audit log has been reconciled into this store (one row).
CREATE TABLE IF NOT EXISTS key_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
INSERT OR IGNORE INTO key_epoch (id, epoch) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS log_settlement (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through_seq INTEGER NOT NULL
);
";

/// The embedded store in `<data-dir>/gateway.db`.
pub struct SqliteAccountStore {
    conn: Mutex<Connection>,
    /// A second connection that only reads the key epoch, on every authenticated request: under
    /// WAL it never waits for the recorder's writes on `conn`.
    epoch_conn: Mutex<Connection>,
}

impl SqliteAccountStore {
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        crate::audit::files::create_private_dir(data_dir)?;
        let path = data_dir.join("gateway.db");
        crate::audit::files::precreate_private(&path)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Spend and generations are conveniences; the audit log is the record of truth.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        let epoch_conn = Connection::open_with_flags(
            data_dir.join("gateway.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        epoch_conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(SqliteAccountStore { conn: Mutex::new(conn), epoch_conn: Mutex::new(epoch_conn) })
    }
}

fn insert_generation(conn: &Connection, g: &Generation) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO generations (id, key_id, model, provider_name, created_at, tokens_prompt,
         tokens_completion, total_cost, latency, generation_time, finish_reason, streamed, cancelled,
         request_entry, response_entry) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    stmt.execute(params![
        g.id,
        g.key_id,
        g.model,
        g.provider_name,
        g.created_at,
        g.tokens_prompt as i64,
        g.tokens_completion as i64,
        g.total_cost,
        g.latency,
        g.generation_time,
        g.finish_reason,
        g.streamed,
        g.cancelled,
        g.request_entry as i64,
        g.response_entry.map(|e| e as i64),
    ])?;
    Ok(())
}

fn key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0)?,
        name: row.get(1)?,
        team: row.get(2)?,
        credit_limit_usd: row.get(3)?,
        usage_usd: row.get(4)?,
        created_at: row.get(5)?,
        revoked_at: row.get(6)?,
        rate_limit_rpm: row.get(7)?,
        rate_limit_tpm: row.get::<_, Option<i64>>(8)?.map(|t| t.max(0) as u64),
        admin: row.get(9)?,
        disabled: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

const KEY_COLUMNS: &str = "id, name, team, credit_limit_usd, usage_usd, created_at, revoked_at, rate_limit_rpm, \
                           rate_limit_tpm, admin, disabled, updated_at";

/// Columns added after the first release, for files created before them.
const KEY_MIGRATIONS: &[(&str, &str)] = &[
    ("admin", "ALTER TABLE keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0"),
    ("disabled", "ALTER TABLE keys ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0"),
    ("updated_at", "ALTER TABLE keys ADD COLUMN updated_at TEXT"),
];

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('keys')")?;
    let columns = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    for (column, sql) in KEY_MIGRATIONS {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(sql)?;
        }
    }
    Ok(())
}

/// Every statement that changes a key bumps the epoch in the same transaction.
const BUMP_EPOCH: &str = "UPDATE key_epoch SET epoch = epoch + 1 WHERE id = 1";

impl AccountStore for SqliteAccountStore {
    fn create_key(&self, new: &NewKey) -> Result<(ApiKey, String), StoreError> {
        let secret = format!("sk-ag-{}", random_hex(24));
        let key = ApiKey {
            id: format!("key_{}", random_hex(6)),
            name: new.name.clone(),
            team: new.team.clone(),
            credit_limit_usd: new.credit_limit_usd,
            rate_limit_rpm: new.rate_limit_rpm,
            rate_limit_tpm: new.rate_limit_tpm,
            usage_usd: 0.0,
            created_at: now(),
            revoked_at: None,
            admin: new.admin,
            disabled: false,
            updated_at: None,
        };
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let inserted = tx.execute(
            "INSERT INTO keys (id, name, team, secret_sha256, credit_limit_usd, rate_limit_rpm, rate_limit_tpm,
             created_at, admin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                key.id,
                key.name,
                key.team,
                hash_secret(&secret),
                key.credit_limit_usd,
                key.rate_limit_rpm,
                key.rate_limit_tpm.map(|t| t as i64),
                key.created_at,
                key.admin,
            ],
        );
        match inserted {
            Ok(_) => {
                tx.execute(BUMP_EPOCH, [])?;
                tx.commit()?;
                Ok((key, secret))
            }
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::DuplicateName(new.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn list_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY created_at, name"))?;
        let keys = stmt.query_map([], key_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(keys)
    }

    fn revoke_key(&self, id_or_name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE keys SET revoked_at = ?1 WHERE (id = ?2 OR name = ?2) AND revoked_at IS NULL",
            params![now(), id_or_name],
        )?;
        tx.execute(BUMP_EPOCH, [])?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn key_by_id(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"))?;
        Ok(stmt.query_row([id], key_from_row).optional()?)
    }

    fn update_key(&self, id: &str, patch: &KeyPatch) -> Result<Option<ApiKey>, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let active: Option<String> =
            tx.query_row("SELECT id FROM keys WHERE id = ?1 AND revoked_at IS NULL", [id], |r| r.get(0)).optional()?;
        if active.is_none() {
            return Ok(None);
        }
        let set = |column: &str, value: &dyn rusqlite::ToSql| -> Result<(), StoreError> {
            tx.execute(&format!("UPDATE keys SET {column} = ?1 WHERE id = ?2"), params![value, id])?;
            Ok(())
        };
        if let Some(name) = &patch.name {
            set("name", name).map_err(|e| match e {
                StoreError::Db(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::DuplicateName(name.clone())
                }
                other => other,
            })?;
        }
        if let Some(disabled) = patch.disabled {
            set("disabled", &disabled)?;
        }
        if let Some(limit) = patch.credit_limit_usd {
            set("credit_limit_usd", &limit)?;
        }
        if let Some(rpm) = patch.rate_limit_rpm {
            set("rate_limit_rpm", &rpm)?;
        }
        if let Some(tpm) = patch.rate_limit_tpm {
            set("rate_limit_tpm", &tpm.map(|t| t as i64))?;
        }
        set("updated_at", &now())?;
        tx.execute(BUMP_EPOCH, [])?;
        let key = tx.query_row(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"), [id], key_from_row)?;
        tx.commit()?;
        Ok(Some(key))
    }

    fn key_epoch(&self) -> Result<u64, StoreError> {
        let conn = self.epoch_conn.lock();
        let mut stmt = conn.prepare_cached("SELECT epoch FROM key_epoch WHERE id = 1")?;
        Ok(stmt.query_row([], |r| r.get::<_, i64>(0))?.max(0) as u64)
    }

    fn key_by_hash(&self, secret_sha256: &str) -> Result<Option<ApiKey>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE secret_sha256 = ?1 AND revoked_at IS NULL"
        ))?;
        Ok(stmt.query_row([secret_sha256], key_from_row).optional()?)
    }

    fn add_usage(&self, key_id: &str, usd: f64) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        conn.execute("UPDATE keys SET usage_usd = usage_usd + ?1 WHERE id = ?2", params![usd, key_id])?;
        Ok(())
    }

    fn record_generation(&self, g: &Generation) -> Result<(), StoreError> {
        insert_generation(&self.conn.lock(), g)
    }

    /// One transaction (one commit) for the whole batch instead of two per record.
    fn record_batch(&self, batch: &[Generation]) -> Result<(), StoreError> {
        // One spend update per key and batch, not per call.
        let mut spend: Vec<(&str, f64)> = Vec::new();
        for g in batch.iter().filter(|g| g.total_cost > 0.0) {
            match spend.iter_mut().find(|(key, _)| *key == g.key_id) {
                Some((_, total)) => *total += g.total_cost,
                None => spend.push((&g.key_id, g.total_cost)),
            }
        }
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        for g in batch {
            insert_generation(&tx, g)?;
        }
        for (key_id, total) in spend {
            tx.prepare_cached("UPDATE keys SET usage_usd = usage_usd + ?1 WHERE id = ?2")?
                .execute(params![total, key_id])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn generations_between(&self, from: &str, to: &str) -> Result<Vec<Generation>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {GENERATION_COLUMNS} FROM generations WHERE created_at >= ?1 AND created_at < ?2 ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([from, to], generation_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn generation(&self, id: &str) -> Result<Option<Generation>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare_cached(&format!("SELECT {GENERATION_COLUMNS} FROM generations WHERE id = ?1"))?;
        let g = stmt.query_row([id], generation_from_row).optional()?;
        Ok(g)
    }

    fn settled_through(&self) -> Result<u64, StoreError> {
        let conn = self.conn.lock();
        let seq: Option<i64> =
            conn.query_row("SELECT through_seq FROM log_settlement WHERE id = 1", [], |r| r.get(0)).optional()?;
        Ok(seq.map_or(0, |s| s.max(0) as u64))
    }

    fn set_settled_through(&self, seq: u64) -> Result<(), StoreError> {
        self.conn.lock().execute(
            "INSERT INTO log_settlement (id, through_seq) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET through_seq = excluded.through_seq",
            [seq as i64],
        )?;
        Ok(())
    }
}

const GENERATION_COLUMNS: &str = "id, key_id, model, provider_name, created_at, tokens_prompt, tokens_completion, \
    total_cost, latency, generation_time, finish_reason, streamed, cancelled, request_entry, response_entry";

fn generation_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Generation> {
    Ok(Generation {
        id: r.get(0)?,
        key_id: r.get(1)?,
        model: r.get(2)?,
        provider_name: r.get(3)?,
        created_at: r.get(4)?,
        tokens_prompt: r.get::<_, i64>(5)? as u64,
        tokens_completion: r.get::<_, i64>(6)? as u64,
        total_cost: r.get(7)?,
        latency: r.get(8)?,
        generation_time: r.get(9)?,
        finish_reason: r.get(10)?,
        streamed: r.get(11)?,
        cancelled: r.get(12)?,
        request_entry: r.get::<_, i64>(13)? as u64,
        response_entry: r.get::<_, Option<i64>>(14)?.map(|e| e as u64),
    })
}

/// Parse an RFC 3339 time stored by this module.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.cargo/config.toml` builds SQLite without a process-wide page cache, so the audit writer's
    /// new pages do not evict this store's (docs/performance.md, fifth round).
    #[test]
    fn page_caches_are_not_shared() {
        let conn = Connection::open_in_memory().unwrap();
        let mut stmt = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "SQLite was built with ENABLE_MEMORY_MANAGEMENT: is LIBSQLITE3_FLAGS set in the environment, \
             overriding .cargo/config.toml? ({options:?})"
        );
    }

    #[test]
    fn key_life_cycle() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAccountStore::open(dir.path()).unwrap();
        let new =
            NewKey { name: "alice".into(), team: "finance".into(), credit_limit_usd: Some(5.0), ..Default::default() };
        let (key, secret) = store.create_key(&new).unwrap();
        assert!(secret.starts_with("sk-ag-"));
        let found = store.key_by_hash(&hash_secret(&secret)).unwrap().unwrap();
        assert_eq!(found.id, key.id);
        assert!(matches!(
            store.create_key(&NewKey { name: "alice".into(), team: "x".into(), ..Default::default() }),
            Err(StoreError::DuplicateName(_))
        ));
        store.add_usage(&key.id, 1.25).unwrap();
        assert_eq!(store.list_keys().unwrap()[0].usage_usd, 1.25);
        assert!(store.revoke_key("alice").unwrap());
        assert!(store.key_by_hash(&hash_secret(&secret)).unwrap().is_none());
        assert!(!store.revoke_key("alice").unwrap());
    }

    #[test]
    fn secret_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAccountStore::open(dir.path()).unwrap();
        let (_, secret) =
            store.create_key(&NewKey { name: "bob".into(), team: "t".into(), ..Default::default() }).unwrap();
        drop(store);
        let raw = std::fs::read(dir.path().join("gateway.db")).unwrap();
        let wal = std::fs::read(dir.path().join("gateway.db-wal")).unwrap_or_default();
        let needle = secret.as_bytes();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }
}
