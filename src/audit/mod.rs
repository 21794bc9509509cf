//! The WORM audit log: every exchange is appended as an entry, hash-chained and covered by a Merkle
//! tree whose roots are signed as C2SP checkpoints. The request entry is durable before any byte goes
//! upstream; if it cannot be written, nothing is forwarded.
//!
//! Layout: the log format and the verifier are the `auditlog` crate (crates/auditlog), re-exported
//! here: [`entry`] (the exact bytes hashed and stored), [`record`], [`merkle`] (RFC 9162 hashing
//! and proofs), [`note`] (keys, signed notes, checkpoints), [`chain`] (the per-entry checks the
//! writer shares with the verifier), [`verify`]. The gateway's side: [`store`] (the `LogStore`
//! trait and SQLite), `writer` (single writer thread, group commit, checkpoints), `verified`
//! (verify before signing), [`bundle`] (proofs and offline export), [`snapshot`], [`cli`]
//! (`auditgate audit`, and `verify-log` re-exported).
//!
//! System entries: `open` writes the genesis entry on a new log; the gateway appends
//! `SystemRecord::GatewayStart` (and policy events) itself through [`AuditLog::append`];
//! [`AuditLog::shutdown`] writes `GatewayStop` and the final checkpoint. Key rotation writes
//! `KeyRotated`. `SystemRecord::Checkpoint` is not used: checkpoints live in their own table
//! and in `checkpoints.log`.

pub mod bundle;
pub mod cli;
pub mod files;
mod follow;
pub mod location;
pub mod operator;
pub mod pg_store;
pub mod sealed;
pub mod snapshot;
pub mod store;
mod timestamp_push;
mod verified;
mod witness_push;
mod writer;

pub use auditlog::{chain, cosign, entry, merkle, note, record, timestamp, verify, witness};

pub use cli::{audit_main, verify_log, verify_log_main, AuditCommand, VerifyLogArgs};
pub use record::{
    Attempt, CostCeiling, Excluded, PiiSummary, PresetUsed, Record, RequestRecord, ResponseRecord, SystemRecord, Usage,
    OUTCOME_GATEWAY_STOPPED,
};

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;
use store::NewBody;
use tokio::sync::oneshot;
use writer::{Command, Writer};

/// File names under the data directory (see contracts.md).
pub use auditlog::{FILE_CHECKPOINTS, FILE_DB, FILE_KEY, FILE_LOCK, FILE_PUB, FILE_VERIFIED};
/// Written when a witness has cosigned a larger log than this one (it was rolled back): every
/// append is refused, across restarts, until an operator removes it.
pub const FILE_HALT: &str = "witness-halt";
/// In the data directory of a node whose log is in PostgreSQL: the node's name.
pub const FILE_PG_NODE: &str = "postgres-node";
pub use timestamp_push::TimestampStatus;
pub use witness_push::WitnessStatus;

/// A checkpoint just signed, for the witnesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub note: String,
}

/// One `[[audit.witnesses]]` entry: where the witness listens and its verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessTarget {
    /// Base URL; the gateway posts to `{url}/add-checkpoint`.
    pub url: String,
    /// The witness's verifier key, as in its `witness.pub`.
    pub public_key: String,
}
/// One `[[audit.timestamp_authorities]]` entry: an RFC 3161 time-stamping authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampAuthority {
    /// Where time-stamp requests are posted.
    pub url: String,
    /// PEM file with the authority's certificate or the CA certificate that issued it.
    pub certificate: PathBuf,
}

/// Least time between two stamps from one authority, by default: one a minute.
pub const DEFAULT_TIMESTAMP_INTERVAL_MS: u64 = 60_000;

/// The master key that wraps the keys of stored bodies (outside `log.db`; see [`sealed`]).
pub const FILE_BODY_KEY: &str = "body-master.key";
/// Requests from the command line to a running writer (see [`operator`]).
pub const DIR_REQUESTS: &str = "requests";

/// Why the log could not take an entry, kept as the error itself (a SQLite, I/O or thread error)
/// so that the operator's log shows its whole chain; shared because one failed group commit fails
/// every caller waiting on it.
pub type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
pub enum AuditError {
    /// The log cannot take the entry: answer 503 and forward nothing.
    Unavailable(Cause),
    /// The caller passed something the log does not accept.
    Invalid(String),
    /// The stored log does not check out: nothing is signed and nothing appended.
    Integrity(chain::Failure),
}

impl std::fmt::Display for AuditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditError::Unavailable(cause) => write!(f, "audit log unavailable: {cause}"),
            AuditError::Invalid(what) => write!(f, "invalid audit request: {what}"),
            AuditError::Integrity(failure) => write!(f, "audit log integrity failure at {failure}"),
        }
    }
}

/// By hand rather than derived: the source of `Unavailable` is the error inside the shared
/// [`Cause`], not the `Arc` around it, so callers can downcast it.
impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuditError::Unavailable(cause) => Some(&**cause),
            AuditError::Integrity(failure) => Some(failure),
            AuditError::Invalid(_) => None,
        }
    }
}

impl AuditError {
    /// The log is unavailable because of `cause` (an error, or plain words).
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AuditError {
        AuditError::Unavailable(Cause::from(cause.into()))
    }
}

/// Whether request and response bodies are kept beside the chain (`[audit] store_bodies`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyStorage {
    /// Only their hashes, in the entries.
    #[default]
    None,
    /// With every finding of the scanner replaced by its type.
    Redacted,
    /// As they were sent and answered.
    Full,
}

impl BodyStorage {
    /// The word in gateway.toml and in `body_stored` entries.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyStorage::None => "none",
            BodyStorage::Redacted => "redacted",
            BodyStorage::Full => "full",
        }
    }
}

/// Settings from the `[audit]` table of gateway.toml.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Checkpoint origin line (C2SP), e.g. `auditgate.local/log`. Also the signing key's name; an
    /// existing log keeps the origin its key was created with.
    pub origin: String,
    pub checkpoint_interval_ms: u64,
    pub checkpoint_every_entries: u64,
    pub store_bodies: BodyStorage,
    /// Witnesses every new checkpoint is sent to (C2SP tlog-witness).
    pub witnesses: Vec<WitnessTarget>,
    /// How many of them must cosign a checkpoint for it to count as witnessed (`/health`).
    pub witness_quorum: usize,
    /// RFC 3161 time-stamping authorities the newest checkpoint is sent to.
    pub timestamp_authorities: Vec<TimestampAuthority>,
    /// Least time between two stamps from one authority.
    pub timestamp_interval_ms: u64,
    /// The body master key (see [`sealed`]); default `body-master.key` in the data directory.
    pub body_key_file: Option<PathBuf>,
    /// Years a stored body is held before it may be erased without `--force` (statutory hold,
    /// CO art. 958f: 10).
    pub body_hold_years: u32,
    /// Where the log is kept (`[state]`); None: wherever the data directory says (the offline
    /// commands: the PostgreSQL node named in `postgres-node`, else `log.db`).
    pub location: Option<location::LogLocation>,
}

/// Longest a caller waits for the writer's durable acknowledgement before failing closed. Storage
/// errors answer at once; this only bounds a writer stuck in the kernel (e.g. a hung disk).
pub const APPEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest `/health` waits for the writer's answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            origin: "auditgate.local/log".into(),
            checkpoint_interval_ms: 1000,
            checkpoint_every_entries: 10_000,
            store_bodies: BodyStorage::None,
            witnesses: Vec::new(),
            witness_quorum: 0,
            timestamp_authorities: Vec::new(),
            timestamp_interval_ms: DEFAULT_TIMESTAMP_INTERVAL_MS,
            body_key_file: None,
            body_hold_years: DEFAULT_BODY_HOLD_YEARS,
            location: None,
        }
    }
}

/// The statutory hold of business records in Switzerland (CO art. 958f): ten years.
pub const DEFAULT_BODY_HOLD_YEARS: u32 = 10;

/// The file holding the body master key of the log in `dir` under `opts`.
pub fn body_key_path(dir: &Path, opts: &AuditOptions) -> PathBuf {
    opts.body_key_file.clone().unwrap_or_else(|| dir.join(FILE_BODY_KEY))
}

/// Poll `done` every 50 ms until it holds or `limit` has passed (shut-down waits for the outside
/// parties).
async fn wait_until(limit: Duration, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A cheap, cloneable handle to the log writer.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Sender<Command>,
    dir: PathBuf,
    /// Where the writer keeps the log; readers open it again from here.
    location: location::LogLocation,
    opts: AuditOptions,
    public_key: String,
    /// Why appends were refused from the start (`witness-halt`), if they were.
    halted: Option<String>,
    witnesses: witness_push::Statuses,
    stamps: timestamp_push::Statuses,
    /// Seals stored bodies; loaded only when bodies are stored.
    body_key: Option<sealed::MasterKey>,
}

impl AuditLog {
    /// Open (or create) the log in `dir`: signing key, database, genesis entry, writer thread.
    /// Fails if another writer holds the directory, the key does not match the log, or the
    /// database cannot be written.
    pub fn open(dir: &Path, opts: AuditOptions) -> Result<AuditLog, AuditError> {
        let targets = witness_push::parse_targets(&opts)?;
        let authorities = timestamp_push::parse_authorities(&opts)?;
        let published = (!targets.is_empty() || !authorities.is_empty()).then(|| tokio::sync::watch::channel(None));
        let (out, latest) = published.map_or((None, None), |(out, latest)| (Some(out), Some(latest)));
        let (tx, rx) = std::sync::mpsc::channel();
        let (public_key, halted, location) = writer::start(dir, opts.clone(), out, rx)?;
        let body_key = match opts.store_bodies {
            BodyStorage::None => None,
            BodyStorage::Redacted | BodyStorage::Full => {
                Some(sealed::MasterKey::load_or_create(&body_key_path(dir, &opts)).map_err(AuditError::unavailable)?)
            }
        };
        let witnesses = witness_push::Statuses::new(&targets, opts.witness_quorum);
        let stamps = timestamp_push::Statuses::new(&authorities, opts.timestamp_interval_ms);
        let inner =
            Inner { tx, dir: dir.to_path_buf(), location, opts, public_key, halted, witnesses, stamps, body_key };
        let log = AuditLog { inner: Arc::new(inner) };
        if let Some(latest) = latest {
            if !targets.is_empty() {
                witness_push::start(log.clone(), targets, latest.clone())?;
            }
            if !authorities.is_empty() {
                timestamp_push::start(log.clone(), authorities, latest)?;
            }
        }
        Ok(log)
    }

    /// Why the log refused appends from the start (an earlier run halted it), if it did.
    pub fn halted(&self) -> Option<&str> {
        self.inner.halted.as_deref()
    }

    /// What each configured witness last did with our checkpoints (for `/health`).
    pub fn witness_status(&self) -> Option<serde_json::Value> {
        self.inner.witnesses.to_json()
    }

    /// Wait (at most `limit`) until every witness has cosigned the newest checkpoint, refused
    /// it, or failed to answer: at shutdown, so the final checkpoint leaves cosigned when it can.
    pub async fn settle_witnesses(&self, size: u64, limit: Duration) {
        let w = &self.inner.witnesses;
        wait_until(limit, || !w.any() || w.settled(size)).await;
    }

    /// What each time-stamping authority last did with our checkpoints (for `/health`).
    pub fn timestamp_status(&self) -> Option<serde_json::Value> {
        self.inner.stamps.to_json()
    }

    /// Have the newest checkpoint stamped at once from now on, whatever the interval (at
    /// shutdown, for the final one).
    pub fn stamp_at_once(&self) {
        self.inner.stamps.hurry();
    }

    /// Wait (at most `limit`) until every time-stamping authority has stamped `size`, refused
    /// it, or failed to answer: at shutdown, so the final checkpoint leaves stamped when it can.
    pub async fn settle_timestamps(&self, size: u64, limit: Duration) {
        let t = &self.inner.stamps;
        wait_until(limit, || !t.any() || t.settled(size)).await;
    }

    /// Send a command that nobody waits for (witness and time-stamp clients).
    fn tell(&self, command: Command) {
        let _ = self.inner.tx.send(command);
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Where the log is stored.
    pub fn location(&self) -> &location::LogLocation {
        &self.inner.location
    }

    /// The verifier key in force when the log was opened (`signing.pub`).
    pub fn public_key(&self) -> &str {
        &self.inner.public_key
    }

    /// The fingerprint of that key (docs/audit-format.md 5), for auditors to pin.
    pub fn key_fingerprint(&self) -> String {
        note::PublicKey::parse(&self.inner.public_key).map(|k| k.fingerprint()).unwrap_or_default()
    }

    /// Append one record; returns its sequence number once it is durable on disk.
    pub async fn append(&self, record: Record) -> Result<u64, AuditError> {
        self.call(|ack| Command::Append { record: Box::new(record), ack }).await
    }

    /// Append the outcome of an exchange that went upstream. If the log cannot take it now,
    /// `late` (the same outcome, saying it was withheld from the client) is kept in a bounded
    /// queue and appended, before any other entry, as soon as the log takes writes again;
    /// `on_late` then runs with its sequence number (on the writer thread: keep it short). It
    /// also runs if the write succeeds after the caller stopped waiting.
    pub async fn append_outcome(
        &self,
        record: Record,
        late: Record,
        on_late: impl FnOnce(u64) + Send + 'static,
    ) -> Result<u64, AuditError> {
        self.call(|ack| Command::AppendOutcome {
            record: Box::new(record),
            late: Box::new(late),
            on_late: Box::new(on_late),
            ack,
        })
        .await
    }

    /// Whether the log takes writes now; `Err` says why not, in plain words (for `/health`).
    pub async fn health(&self) -> Result<(), String> {
        let (ack, rx) = oneshot::channel();
        self.inner.tx.send(Command::Health { ack }).map_err(|_| "the audit log is shut down".to_string())?;
        match tokio::time::timeout(HEALTH_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err("the audit writer stopped".into()),
            Err(_) => Err("the audit log did not answer in time".into()),
        }
    }

    /// Store a body apart from the chain (when `store_bodies` is not `none`), keyed by entry and
    /// role (e.g. `request`, `upstream_request`, `response`). In `redacted` mode the caller passes
    /// the redacted bytes; the log seals what it is given (on the caller's thread), labels it
    /// with the mode, and commits to the ciphertext with a `body_stored` entry.
    /// `hold_years` overrides `body_hold_years` (a policy rule's own hold).
    pub async fn store_body(
        &self,
        seq: u64,
        role: &str,
        bytes: Vec<u8>,
        hold_years: Option<u32>,
    ) -> Result<(), AuditError> {
        let Some(key) = &self.inner.body_key else { return Ok(()) };
        let sealed = key.seal(seq, role, &bytes);
        let years = hold_years.unwrap_or(self.inner.opts.body_hold_years);
        let retain_until = chrono::Utc::now()
            .checked_add_months(chrono::Months::new(12 * years))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        let body = NewBody {
            seq,
            role: role.to_string(),
            mode: self.inner.opts.store_bodies.as_str().to_string(),
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&sealed.ciphertext)),
            size: bytes.len() as u64,
            bytes: sealed.ciphertext,
            wrapped_key: sealed.wrapped_key,
            retain_until: entry::format_time(retain_until),
        };
        self.call(|ack| Command::Body { body, ack }).await
    }

    /// Sign a checkpoint now if the log grew; returns the tree size the newest checkpoint covers
    /// (signed now or earlier; None before the first one).
    pub async fn checkpoint(&self) -> Result<Option<u64>, AuditError> {
        self.call(|ack| Command::Checkpoint { ack }).await
    }

    /// Write the `GatewayStop` entry (unless the caller just appended one) and a final checkpoint;
    /// later appends fail.
    pub async fn shutdown(&self) -> Result<(), AuditError> {
        self.call(|ack| Command::Shutdown { reason: "shutdown".into(), ack }).await
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, AuditError>>) -> Command,
    ) -> Result<T, AuditError> {
        let (ack, rx) = oneshot::channel();
        let sent = std::time::Instant::now();
        self.inner.tx.send(make(ack)).map_err(|_| AuditError::unavailable("audit log is shut down"))?;
        match tokio::time::timeout(APPEND_TIMEOUT, rx).await {
            Ok(Ok(result)) => {
                crate::metrics::global().audit_append(sent.elapsed());
                result
            }
            Ok(Err(_)) => Err(AuditError::unavailable("audit writer stopped")),
            Err(_) => Err(AuditError::unavailable("audit log did not confirm the write in time")),
        }
    }
}

/// The fingerprint of the signing key of the log in `dir` (from `signing.pub`), if there is one.
pub fn signing_key_fingerprint(dir: &Path) -> Option<String> {
    let vkey = std::fs::read_to_string(dir.join(FILE_PUB)).ok()?;
    note::PublicKey::parse(&vkey).ok().map(|k| k.fingerprint())
}

/// Rotate the signing key of the log in `dir` (the gateway must be stopped: the writer lock is
/// taken). Returns the new verifier key, also written to `signing.pub`.
pub fn rotate_key(dir: &Path) -> Result<String, AuditError> {
    let mut writer = Writer::open(dir, AuditOptions::default())?;
    writer.rotate_key()
}

/// Sign a checkpoint of the log in `dir` if it grew since the last one (gateway stopped).
pub fn checkpoint_offline(dir: &Path) -> Result<Option<u64>, AuditError> {
    let mut writer = Writer::open(dir, AuditOptions::default())?;
    writer.checkpoint()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unavailable_log_keeps_the_error_that_caused_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(FILE_DB)).unwrap();
        let err = checkpoint_offline(dir.path()).unwrap_err();
        assert!(matches!(err, AuditError::Unavailable(_)), "{err}");
        let source = std::error::Error::source(&err).expect("the cause is kept");
        assert!(source.downcast_ref::<store::StoreError>().is_some(), "{source:?}");
        assert!(err.to_string().starts_with("audit log unavailable: "), "{err}");
    }
}
