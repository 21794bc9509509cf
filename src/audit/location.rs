//! Where a log is kept ([`LogLocation`]): `log.db` in a data directory, or one node's chain in a
//! PostgreSQL database; the one place that opens a store of either kind, for the writer and for
//! every reader.

use super::pg_store::PgStore;
use super::store::{LogStore, SqliteStore, StoreError};
use std::path::{Path, PathBuf};

/// Where a log is kept: what the writer opens, and what every reader (proofs, export, the
/// witness and time-stamp clients, reconciliation) opens again on its own connection.
#[derive(Clone, PartialEq, Eq)]
pub enum LogLocation {
    /// `log.db` in the data directory.
    Sqlite(PathBuf),
    /// One node's chain in a PostgreSQL database shared by several nodes (`super::pg_store`).
    Postgres { url: String, node: String },
}

/// Never the URL, which may hold a password.
impl std::fmt::Debug for LogLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl LogLocation {
    /// The log a data directory keeps: the PostgreSQL node its `postgres-node` file names (written
    /// by the node's writer at every start), else `log.db`.
    pub fn in_dir(dir: &Path) -> LogLocation {
        LogLocation::named_in(dir).unwrap_or_else(|| LogLocation::Sqlite(dir.join(super::FILE_DB)))
    }

    /// The PostgreSQL node named in `dir`, if any: its name, then its URL, one a line.
    pub(crate) fn named_in(dir: &Path) -> Option<LogLocation> {
        let text = std::fs::read_to_string(dir.join(super::FILE_PG_NODE)).ok()?;
        let mut lines = text.lines().map(str::trim);
        let (node, url) = (lines.next()?.to_string(), lines.next()?.to_string());
        Some(LogLocation::Postgres { url, node })
    }

    /// What [`LogLocation::named_in`] reads back.
    pub(crate) fn marker_text(&self) -> Option<String> {
        match self {
            LogLocation::Sqlite(_) => None,
            LogLocation::Postgres { url, node } => Some(format!("{node}\n{url}\n")),
        }
    }

    /// Whether a log is there to read (readers never create one).
    pub fn exists(&self) -> bool {
        match self {
            LogLocation::Sqlite(path) => path.is_file(),
            LogLocation::Postgres { .. } => true,
        }
    }

    /// Open an existing log for reading.
    pub fn open_reader(&self) -> Result<Box<dyn LogStore>, StoreError> {
        match self {
            LogLocation::Sqlite(path) => Ok(Box::new(SqliteStore::open_read_only(path)?)),
            LogLocation::Postgres { url, node } => Ok(Box::new(PgStore::open_read_only(url, node)?)),
        }
    }

    /// Open (creating if needed) for the one writer.
    pub(crate) fn open_writer(&self) -> Result<Box<dyn LogStore>, StoreError> {
        match self {
            LogLocation::Sqlite(path) => {
                super::files::precreate_private(path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(Box::new(SqliteStore::open_writer(path)?))
            }
            LogLocation::Postgres { url, node } => Ok(Box::new(PgStore::open_writer(url, node)?)),
        }
    }

    /// How the location is named in messages.
    pub fn describe(&self) -> String {
        match self {
            LogLocation::Sqlite(path) => path.display().to_string(),
            // Not the URL: it may hold a password.
            LogLocation::Postgres { node, .. } => format!("the PostgreSQL log of node {node}"),
        }
    }
}
