//! The WORM audit log: every exchange is appended as an entry, hash-chained and covered by a Merkle
//! tree whose roots are signed as C2SP checkpoints. The request entry is durable before any byte goes
//! upstream; if it cannot be written, nothing is forwarded.
//!
//! INTERFACE SKELETON: the real store, writer, checkpoints and verifier replace the bodies below.

pub mod record;

pub use record::{Attempt, PiiSummary, Record, RequestRecord, ResponseRecord, SystemRecord, Usage};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log unavailable: {0}")]
    Unavailable(String),
}

/// Settings from the `[audit]` table of gateway.toml.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Checkpoint origin line (C2SP), e.g. `auditgate.local/log`.
    pub origin: String,
    pub checkpoint_interval_ms: u64,
    pub checkpoint_every_entries: u64,
    /// `none` | `redacted` | `full`.
    pub store_bodies: String,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            origin: "auditgate.local/log".into(),
            checkpoint_interval_ms: 1000,
            checkpoint_every_entries: 10_000,
            store_bodies: "none".into(),
        }
    }
}

/// A cheap, cloneable handle to the log writer.
#[derive(Clone)]
pub struct AuditLog {
    next: Arc<AtomicU64>,
    #[allow(dead_code)]
    dir: PathBuf,
}

impl AuditLog {
    /// Open (or create) the log in `dir`: signing key, database, genesis entry, writer thread.
    pub fn open(dir: &Path, _opts: AuditOptions) -> Result<AuditLog, AuditError> {
        std::fs::create_dir_all(dir).map_err(|e| AuditError::Unavailable(e.to_string()))?;
        Ok(AuditLog { next: Arc::new(AtomicU64::new(1)), dir: dir.to_path_buf() })
    }

    /// Append one record; returns its sequence number once it is durable on disk.
    pub async fn append(&self, _record: Record) -> Result<u64, AuditError> {
        Ok(self.next.fetch_add(1, Ordering::SeqCst))
    }

    /// Store a body apart from the chain (when `store_bodies` is not `none`), keyed by entry.
    pub async fn store_body(&self, _seq: u64, _role: &str, _bytes: Vec<u8>) -> Result<(), AuditError> {
        Ok(())
    }

    /// Write the stop entry and a final checkpoint; later appends fail.
    pub async fn shutdown(&self) -> Result<(), AuditError> {
        Ok(())
    }
}
