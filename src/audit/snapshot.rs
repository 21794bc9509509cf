//! `auditgate audit snapshot --out DIR`: a consistent copy of the log for auditors.
//!
//! Copying `log.db` by hand from a running gateway misses whatever is still in `log.db-wal`.
//! The snapshot is taken through SQLite (`VACUUM INTO`, which reads the database and its WAL as
//! one consistent transaction) and ends at a checkpoint signed just before: when the gateway is
//! stopped the snapshot opens the log as its writer (verifying it) and signs one itself; when the
//! gateway runs, it waits for the gateway's next checkpoint to cover what the log held when the
//! snapshot started. Entries the copy holds beyond that checkpoint are cut, so the copy is
//! attested from its first entry to its last. The result is checked with the verifier before it
//! is declared done.
//!
//! `DIR` receives `log.db` (one file, no WAL), `signing.pub` and `checkpoint.txt` (that
//! checkpoint), all 0600 in a 0700 directory.

use super::bundle::BundleError;
use super::cli::{verify_log, VerifyLogArgs};
use super::merkle::stored_position;
use super::note::{write_private, PublicKey};
use super::store::{LogStore, SqliteStore, StoredCheckpoint};
use super::writer::Writer;
use super::{files, AuditOptions, FILE_DB, FILE_PUB};
use std::path::Path;
use std::time::{Duration, Instant};

/// The checkpoint file written beside the copy.
pub const FILE_SNAPSHOT_CHECKPOINT: &str = "checkpoint.txt";

/// How long a snapshot of a running gateway's log waits for the gateway's next checkpoint.
const WAIT_FOR_CHECKPOINT: Duration = Duration::from_secs(30);

/// What a snapshot holds.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Entries in the copy (= the checkpoint's tree size).
    pub entries: u64,
    pub public_key: String,
    pub fingerprint: String,
}

/// Write a snapshot of the log in `dir` into `out` (created; must be empty or absent).
pub fn snapshot(dir: &Path, out: &Path) -> Result<Snapshot, BundleError> {
    files::create_private_dir(out)?;
    if std::fs::read_dir(out)?.next().is_some() {
        return Err(BundleError::Invalid(format!("{} is not empty", out.display())));
    }
    let copy = out.join(FILE_DB);
    // Keep the writer (and its lock) until the copy is taken: nothing is appended meanwhile.
    let (checkpoint, _writer) = if super::operator::writer_running(dir) {
        (wait_for_checkpoint(dir)?, None)
    } else {
        let mut writer = Writer::open(dir, AuditOptions::default())?;
        writer.checkpoint()?;
        let store = SqliteStore::open_read_only(&dir.join(FILE_DB))?;
        let cp = store.checkpoints()?.pop().ok_or_else(|| BundleError::Invalid("the log has no checkpoint".into()))?;
        (cp, Some(writer))
    };
    files::precreate_private(&copy)?;
    let source = SqliteStore::open_read_only(&dir.join(FILE_DB))?;
    source.connection().execute("VACUUM INTO ?1", [copy.to_string_lossy()]).map_err(super::store::StoreError::from)?;
    drop(source);
    cut_after(&copy, checkpoint.size)?;
    let public_key = std::fs::read_to_string(dir.join(FILE_PUB))?.trim().to_string();
    let key = PublicKey::parse(&public_key).map_err(|e| BundleError::Invalid(format!("{FILE_PUB}: {e}")))?;
    write_private(&out.join(FILE_PUB), &format!("{public_key}\n")).map_err(|e| BundleError::Invalid(e.to_string()))?;
    write_private(&out.join(FILE_SNAPSHOT_CHECKPOINT), &checkpoint.note)
        .map_err(|e| BundleError::Invalid(e.to_string()))?;
    check_copy(out, &key)?;
    Ok(Snapshot { entries: checkpoint.size, public_key, fingerprint: key.fingerprint() })
}

/// The running gateway's first checkpoint that covers every entry present now.
fn wait_for_checkpoint(dir: &Path) -> Result<StoredCheckpoint, BundleError> {
    let store = SqliteStore::open_read_only(&dir.join(FILE_DB))?;
    let wanted = store.size()?;
    let deadline = Instant::now() + WAIT_FOR_CHECKPOINT;
    loop {
        if let Some(cp) = store.checkpoints()?.pop().filter(|c| c.size >= wanted) {
            return Ok(cp);
        }
        if Instant::now() > deadline {
            return Err(BundleError::NotCovered(format!(
                "the running gateway signed no checkpoint covering its {wanted} entries within {} s",
                WAIT_FOR_CHECKPOINT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Remove what the copy holds after tree size `size` (entries appended after the checkpoint by a
/// running gateway), leave it as one file without a WAL, and restore its triggers.
fn cut_after(copy: &Path, size: u64) -> Result<(), BundleError> {
    let conn = rusqlite::Connection::open(copy).map_err(super::store::StoreError::from)?;
    let first_cut = stored_position(0, size) as i64;
    conn.execute_batch(&format!(
        "PRAGMA secure_delete=ON;
         BEGIN;
         DROP TRIGGER IF EXISTS entries_no_delete; DROP TRIGGER IF EXISTS tree_hashes_no_delete;
         DROP TRIGGER IF EXISTS bodies_no_delete;
         DELETE FROM entries WHERE seq >= {size};
         DELETE FROM tree_hashes WHERE pos >= {first_cut};
         DELETE FROM bodies WHERE seq >= {size};
         DELETE FROM bodies WHERE retain_until IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM entries e WHERE e.kind = 'body_stored'
                 AND json_extract(e.bytes, '$.payload.seq') = bodies.seq
                 AND json_extract(e.bytes, '$.payload.role') = bodies.role);
         COMMIT;"
    ))
    .map_err(super::store::StoreError::from)?;
    drop(conn);
    // The writer's schema puts the triggers back; then one self-contained file for auditors.
    let store = SqliteStore::open_writer(copy)?;
    store.connection().execute_batch("PRAGMA journal_mode=DELETE;").map_err(super::store::StoreError::from)?;
    Ok(())
}

/// The copy must verify as the auditor will check it: pinned key, every entry attested.
fn check_copy(out: &Path, key: &PublicKey) -> Result<(), BundleError> {
    let args = VerifyLogArgs {
        data_dir: Some(out.to_path_buf()),
        key_fingerprint: Some(key.fingerprint()),
        json: true,
        ..Default::default()
    };
    let report = verify_log(&args).map_err(BundleError::Invalid)?;
    if !report.ok {
        let why = match &report.failure {
            Some(f) => f.to_string(),
            None => report.not_attested.join("; "),
        };
        return Err(BundleError::Integrity(format!("the snapshot does not verify: {why}")));
    }
    Ok(())
}
