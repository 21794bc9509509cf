//! The single writer: one thread owns the store; callers send commands over a channel and wait for
//! a durable acknowledgement. Commands that arrive while a batch is being committed form the next
//! batch, so concurrent appends share one transaction and one fsync (group commit).
//!
//! The writer also signs checkpoints (on an interval, every N entries, on shutdown), rotates the
//! signing key, and fails closed: a failed health check or write answers every waiting caller with
//! an error and reloads the tree state from disk before the next batch.
//!
//! It never signs a root it has not recomputed from the stored bytes: at open it verifies the log
//! ([`verified::check_at_open`]), and a cursor ([`ChainCheck`]) re-reads and checks every row it
//! appended ([`verified::scan`]) in the quiet time after a batch is answered and before every
//! checkpoint. The root it signs is the cursor's, and it must equal the root of what it wrote.
//! An integrity failure found at run time stops every append and signature.

use super::chain::{Broken, ChainCheck, Failure};
use super::entry::{encode, format_time, kind_of};
use super::files;
use super::location::LogLocation;
use super::merkle::{leaf_hash, Frontier, Hash};
use super::note::{sign_rotation, write_atomic, write_private, Checkpoint, KeyPair, PublicKey};
use super::operator::{self, OperatorRequest};
use super::record::{Record, SystemRecord, OUTCOME_GATEWAY_STOPPED};
use super::store::{Batch, Erasure, LogStore, NewBody, StoredCheckpoint, StoredEntry, StoredTimestamp};
use super::verified::{self, ScanError, VerifiedState};
use super::{AuditError, AuditOptions, FILE_CHECKPOINTS, FILE_KEY, FILE_LOCK, FILE_PG_NODE, FILE_PUB};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Upper bound on entries per transaction, to bound latency of one commit.
const MAX_BATCH: usize = 4096;

/// Unverified entries that make the writer re-read and check them after answering a batch, so
/// the check before a checkpoint is short and the cost is spread instead of paid in one pause.
const CATCH_UP_EVERY: u64 = 1024;

/// Outcomes kept while the log cannot take them. Beyond this the newest is dropped (logged): its
/// request then counts as without an outcome and gets `unknown (gateway stopped)` at shutdown or
/// on the next start.
const MAX_DEFERRED: usize = 10_000;

/// How often the writer retries deferred outcomes when nothing else wakes it.
const DEFERRED_RETRY: Duration = Duration::from_millis(200);

/// Run with the sequence number once a deferred outcome is durable (on the writer thread: keep
/// it short).
pub(crate) type OnLate = Box<dyn FnOnce(u64) + Send>;

/// What callers ask the writer thread to do.
pub(crate) enum Command {
    Append {
        /// Boxed: commands queue in the channel, records are large.
        record: Box<Record>,
        ack: oneshot::Sender<Result<u64, AuditError>>,
    },
    /// The outcome of an exchange that went upstream: if it cannot be written, `late` is kept and
    /// appended before anything else once the log takes writes again.
    AppendOutcome {
        record: Box<Record>,
        late: Box<Record>,
        on_late: OnLate,
        ack: oneshot::Sender<Result<u64, AuditError>>,
    },
    /// Can the log take writes now? `Err` says why not.
    Health {
        ack: oneshot::Sender<Result<(), String>>,
    },
    Body {
        body: NewBody,
        ack: oneshot::Sender<Result<(), AuditError>>,
    },
    Checkpoint {
        ack: oneshot::Sender<Result<Option<u64>, AuditError>>,
    },
    Shutdown {
        reason: String,
        ack: oneshot::Sender<Result<(), AuditError>>,
    },
    /// A witness's cosignature of the checkpoint of `size`, verified by the witness client.
    Cosigned {
        size: u64,
        witness: String,
        line: String,
    },
    /// A time-stamping authority's token on the checkpoint of its size, verified by the
    /// time-stamp client.
    Stamped {
        stamp: StoredTimestamp,
    },
    /// A time-stamping authority refused a checkpoint or sent a bad token: append the
    /// `timestamp_refused` entry.
    TimestampRefused {
        record: Box<SystemRecord>,
    },
    /// A witness refused a checkpoint: append the `witness_refused` entry, then, with `halt`,
    /// refuse every append from now on (the witness has seen more of this log than it holds).
    WitnessRefused {
        record: Box<SystemRecord>,
        halt: Option<String>,
    },
}

type ShutdownAck = (oneshot::Sender<Result<(), AuditError>>, Result<(), AuditError>);

/// The chain's commitment to a stored body.
fn body_stored(b: &NewBody) -> SystemRecord {
    SystemRecord::BodyStored {
        seq: b.seq,
        role: b.role.clone(),
        mode: b.mode.clone(),
        sha256: b.sha256.clone(),
        size: b.size,
        retain_until: b.retain_until.clone(),
    }
}

/// Who learns the fate of one record in a batch.
enum Answer {
    /// A caller waiting for the sequence number.
    Caller(oneshot::Sender<Result<u64, AuditError>>),
    /// An outcome after forwarding: on failure its late version joins the deferred queue.
    Outcome { ack: oneshot::Sender<Result<u64, AuditError>>, late: Box<Record>, on_late: OnLate },
    /// A deferred outcome: `on_late` runs once it is durable; on failure it stays queued.
    Deferred(OnLate),
    /// Nobody waits (the `body_stored` entry of a body, whose caller waits on the body).
    Quiet,
}

/// Open the writer on a thread of its own and run it there; returns once the log is open (the
/// verifier key, why appends are refused if they are, where the log is) or failed to open. The
/// store is opened on the thread that will own it, so a blocking database client never runs on
/// the caller's (async) thread.
pub(crate) fn start(
    dir: &Path,
    opts: AuditOptions,
    checkpoints_out: Option<tokio::sync::watch::Sender<Option<super::SignedCheckpoint>>>,
    rx: Receiver<Command>,
) -> Result<(String, Option<String>, LogLocation), AuditError> {
    let (opened_tx, opened) = std::sync::mpsc::sync_channel(1);
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || {
            let mut writer = match Writer::open(&dir, opts) {
                Ok(w) => w,
                Err(e) => return drop(opened_tx.send(Err(e))),
            };
            if let Some(out) = checkpoints_out {
                writer.publish_checkpoints(out);
            }
            let facts = (writer.vkey().to_string(), writer.halted().map(str::to_string), writer.location.clone());
            let _ = opened_tx.send(Ok(facts));
            writer.run(rx)
        })
        .map_err(|e| AuditError::unavailable(format!("cannot start writer thread: {e}")))?;
    opened.recv().map_err(|_| AuditError::unavailable("the audit writer stopped while opening the log"))?
}

/// The writer's state; usable directly (synchronously) by the CLI, or run on its own thread.
pub(crate) struct Writer {
    store: Box<dyn LogStore>,
    /// Where `store` is, for messages.
    location: LogLocation,
    dir: PathBuf,
    key: KeyPair,
    origin: String,
    opts: AuditOptions,
    frontier: Frontier,
    prev: Hash,
    last_time: String,
    /// Kind of the last entry written (so shutdown does not repeat a caller's stop entry).
    last_kind: String,
    last_cp_size: u64,
    last_cp_at: Instant,
    /// The stored rows verified so far (recomputed from their bytes).
    check: ChainCheck,
    /// Request entries verified so far that have no outcome entry yet.
    open: BTreeSet<u64>,
    /// An integrity failure found in the stored log: nothing more is appended or signed.
    broken: Option<Failure>,
    /// Outcomes that could not be written yet, oldest first: they go first into every commit.
    deferred: std::collections::VecDeque<(Record, OnLate)>,
    /// False after a failed write until the state has been reloaded from disk.
    synced: bool,
    /// Why every append is refused (a witness saw a larger log: it was rolled back), until an
    /// operator removes `witness-halt` and restarts.
    halted: Option<String>,
    /// Where each new checkpoint goes for the witnesses (the newest one only).
    checkpoints_out: Option<tokio::sync::watch::Sender<Option<super::SignedCheckpoint>>>,
    /// When `requests/` was last looked at (see `operator`).
    requests_checked: Instant,
    /// Held for the writer's lifetime: a second writer on the same directory fails to open.
    _lock: File,
}

fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AuditError {
    AuditError::unavailable(e)
}

/// How long a held writer lock is waited for before the directory counts as in use.
const LOCK_GRACE: Duration = Duration::from_secs(1);

/// Take the writer lock, waiting up to [`LOCK_GRACE`] while it is held. A lock just released can
/// still look held for a moment: a child that another thread of this process forked keeps a copy
/// of the lock's descriptor until it execs (close-on-exec closes it only then). Seen in the test
/// suite as "in use by another writer" right after a log was shut down; a second writer still
/// running after a second is refused as before.
fn take_lock(lock: &File) -> Result<(), std::fs::TryLockError> {
    let deadline = Instant::now() + LOCK_GRACE;
    loop {
        match lock.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            result => return result,
        }
    }
}

impl Writer {
    /// Open the log in `dir`: lock, key, store, verification of what is stored (refused if it
    /// does not check out), genesis on a new log, key reconciliation.
    pub(crate) fn open(dir: &Path, opts: AuditOptions) -> Result<Writer, AuditError> {
        files::create_private_dir(dir).map_err(unavailable)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join(FILE_LOCK))
            .map_err(unavailable)?;
        take_lock(&lock).map_err(|_| {
            AuditError::unavailable(format!("{} is in use by another writer (a running gateway?)", dir.display()))
        })?;
        let location = opts.location.clone().unwrap_or_else(|| LogLocation::in_dir(dir));
        claim_dir(dir, &location)?;
        let store = location.open_writer().map_err(unavailable)?;
        let size = store.size().map_err(unavailable)?;
        let key = load_key(dir, &opts.origin, size > 0)?;
        let origin = PublicKey::parse(key.vkey()).map_err(unavailable)?.name().to_string();
        let last_cp_size = store.checkpoints().map_err(unavailable)?.last().map_or(0, |c| c.size);
        let mut w = Writer {
            store,
            location,
            dir: dir.to_path_buf(),
            key,
            origin,
            opts,
            frontier: Frontier::new(),
            prev: [0; 32],
            last_time: String::new(),
            last_kind: String::new(),
            last_cp_size,
            last_cp_at: Instant::now(),
            check: ChainCheck::new(),
            open: BTreeSet::new(),
            broken: None,
            deferred: std::collections::VecDeque::new(),
            synced: true,
            halted: read_halt(dir),
            checkpoints_out: None,
            requests_checked: Instant::now(),
            _lock: lock,
        };
        if size > 0 {
            w.reconcile_key()?;
        }
        let trusted = PublicKey::parse(w.key.vkey()).map_err(unavailable)?;
        let started = verified::check_at_open(w.store.as_ref(), dir, &trusted)?;
        w.adopt(started.check);
        w.open = started.open;
        w.last_kind = started.last_kind.unwrap_or_default();
        if w.frontier.size() == 0 {
            let genesis = SystemRecord::Genesis { origin: w.origin.clone(), public_key: w.key.vkey().to_string() };
            w.append_now(Record::System(genesis))?;
        } else if w.not_closed() {
            w.recover()?;
        }
        write_atomic(&dir.join(FILE_PUB), &format!("{}\n", w.key.vkey())).map_err(unavailable)?;
        Ok(w)
    }

    /// The previous writer did not close the log: requests wait for an outcome, or the last
    /// entry is one a running gateway writes (a clean stop ends with `gateway_stop`, and offline
    /// commands with their own entries).
    fn not_closed(&self) -> bool {
        !self.open.is_empty()
            || matches!(
                self.last_kind.as_str(),
                "request"
                    | "response"
                    | "gateway_start"
                    | "policy_loaded"
                    | "policy_rejected"
                    | "body_stored"
                    | "timestamp_refused"
            )
    }

    /// After a crash: one `recovered` entry, then an outcome entry for each request without one.
    fn recover(&mut self) -> Result<(), AuditError> {
        let last_seq_before = self.size() - 1;
        let missing: Vec<u64> = self.open.iter().copied().collect();
        tracing::warn!(
            last_seq_before,
            requests_without_outcome = missing.len(),
            "the audit log was not closed (crash); recording the requests whose outcome is unknown"
        );
        let recovered = SystemRecord::Recovered { last_seq_before, requests_without_outcome: missing.len() as u64 };
        let mut records = vec![Record::System(recovered)];
        records.extend(stopped_outcomes(&missing));
        self.append_many(records)
    }

    /// Append records in batches of [`MAX_BATCH`], synchronously.
    fn append_many(&mut self, records: Vec<Record>) -> Result<(), AuditError> {
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let mut answers = Vec::new();
            let commands = records
                .by_ref()
                .take(MAX_BATCH)
                .map(|record| {
                    let (ack, rx) = oneshot::channel();
                    answers.push(rx);
                    Command::Append { record: Box::new(record), ack }
                })
                .collect();
            self.process(commands);
            for rx in answers {
                answered(rx)?;
            }
        }
        Ok(())
    }

    /// Continue from the verified cursor: what is appended next links to what was checked.
    fn adopt(&mut self, check: ChainCheck) {
        self.frontier = check.frontier().clone();
        self.prev = check.prev();
        self.last_time = check.last_time().to_string();
        self.check = check;
    }

    /// After a failed write: verify whatever the store now holds beyond the cursor and continue
    /// from there. A store holding fewer entries than were verified or acknowledged was replaced.
    fn reload(&mut self) -> Result<(), AuditError> {
        let n = self.store.size().map_err(unavailable)?;
        let had = self.frontier.size().max(self.check.size());
        if n < had {
            return Err(unavailable(format!(
                "{} holds {n} entries but {had} were written: the database was replaced or truncated",
                self.location.describe()
            )));
        }
        self.catch_up(n)?;
        let check = std::mem::take(&mut self.check);
        self.adopt(check);
        self.synced = true;
        Ok(())
    }

    /// Verify the stored rows up to `to` (see the module doc). An integrity failure is final.
    fn catch_up(&mut self, to: u64) -> Result<(), AuditError> {
        if let Some(f) = &self.broken {
            return Err(AuditError::Integrity(f.clone()));
        }
        let (open, last_kind) = (&mut self.open, &mut self.last_kind);
        let result = verified::scan(self.store.as_ref(), &mut self.check, to, |_, checked| {
            verified::track_outcomes(open, checked);
            last_kind.clear();
            last_kind.push_str(checked.view.kind);
            Ok(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(ScanError::Integrity(f)) => {
                tracing::error!(entry = f.seq, reason = %f.kind, "audit log integrity failure: no more appends or checkpoints");
                self.broken = Some(f.clone());
                Err(ScanError::Integrity(f).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Make sure `signing.key` is the key the log says is in force; finish an interrupted rotation.
    fn reconcile_key(&mut self) -> Result<(), AuditError> {
        let entry =
            self.store.last_key_entry().map_err(unavailable)?.ok_or_else(|| unavailable("log has no genesis entry"))?;
        let in_force = key_named_by(&entry)?;
        let next_path = self.dir.join(format!("{FILE_KEY}.next"));
        if in_force == self.key.vkey() {
            let _ = fs::remove_file(&next_path);
            return Ok(());
        }
        let next = fs::read_to_string(&next_path).ok().and_then(|s| KeyPair::from_skey(&s).ok());
        match next {
            Some(next) if next.vkey() == in_force => {
                fs::rename(&next_path, self.dir.join(FILE_KEY)).map_err(unavailable)?;
                self.key = next;
                Ok(())
            }
            _ => Err(AuditError::unavailable(format!(
                "signing.key ({}) is not the log's signing key ({in_force})",
                self.key.vkey()
            ))),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Send every checkpoint signed from now on (and the newest one now) to `out`.
    pub(crate) fn publish_checkpoints(&mut self, out: tokio::sync::watch::Sender<Option<super::SignedCheckpoint>>) {
        if let Ok(Some(cp)) = self.store.checkpoints().map(|mut c| c.pop()) {
            out.send_replace(Some(super::SignedCheckpoint { size: cp.size, note: cp.note }));
        }
        self.checkpoints_out = Some(out);
    }

    pub(crate) fn vkey(&self) -> &str {
        self.key.vkey()
    }

    /// Why appends are refused (a witness showed the log was rolled back), if they are.
    pub(crate) fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Append one record synchronously (genesis, CLI use).
    pub(crate) fn append_now(&mut self, record: Record) -> Result<u64, AuditError> {
        let (tx, rx) = oneshot::channel();
        self.process(vec![Command::Append { record: Box::new(record), ack: tx }]);
        answered(rx)
    }

    /// The entry time: now, but never before the previous entry's time.
    fn next_time(&self) -> String {
        let now = format_time(chrono::Utc::now());
        if now < self.last_time {
            self.last_time.clone()
        } else {
            now
        }
    }

    /// Run until shutdown or until every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<Command>) {
        // Commit when the request side yields the core, not on every wake-up (see crate::sched).
        crate::sched::batch_policy(true);
        loop {
            let mut wait = self.time_to_checkpoint().min(operator::POLL);
            if !self.deferred.is_empty() {
                wait = wait.min(DEFERRED_RETRY);
            }
            match rx.recv_timeout(wait) {
                Ok(first) => {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(c) => batch.push(c),
                            Err(_) => break,
                        }
                    }
                    if let Some((ack, result)) = self.process(batch) {
                        // Release the database and the writer lock before confirming, so the
                        // caller can reopen the directory as soon as shutdown returns.
                        drop(self);
                        let _ = ack.send(result);
                        return;
                    }
                    // After the answers: the batch's callers go on while this runs.
                    if let Err(e) = self.store.tidy() {
                        tracing::warn!(error = %e, "audit WAL checkpoint failed; retried after the next commit");
                    }
                    if self.synced && self.size() >= self.check.size() + CATCH_UP_EVERY {
                        if let Err(e) = self.catch_up(self.size()) {
                            tracing::warn!(error = %e, "audit log re-check failed; retried before the next checkpoint");
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.flush_deferred(),
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.checkpoint();
                    return;
                }
            }
            self.take_requests();
            if self.checkpoint_due() {
                if let Err(e) = self.checkpoint() {
                    tracing::error!(error = %e, "audit checkpoint failed");
                    // Retry after one interval instead of spinning on a broken disk.
                    self.last_cp_at = Instant::now();
                }
            }
        }
    }

    /// Apply the operator requests waiting in `requests/` (at most every [`operator::POLL`]).
    fn take_requests(&mut self) {
        if self.requests_checked.elapsed() < operator::POLL {
            return;
        }
        self.requests_checked = Instant::now();
        for path in operator::pending(&self.dir) {
            let result = match operator::read(&path) {
                Ok(request) => self.apply(request),
                Err(e) => Err(AuditError::Invalid(e)),
            };
            operator::answer(&path, &result);
        }
    }

    /// Apply one operator request (see `operator`); returns the number of the entry recording it.
    pub(crate) fn apply(&mut self, request: OperatorRequest) -> Result<u64, AuditError> {
        match request {
            OperatorRequest::Access { by, action, from_seq, to_seq, detail, reason } => {
                self.append_now(Record::System(SystemRecord::Access { by, action, from_seq, to_seq, detail, reason }))
            }
            OperatorRequest::Erase { by, seq, role, reason, force } => self.erase(by, seq, role, reason, force),
        }
    }

    /// Erase the stored bodies of entry `seq` (ciphertext and wrapped key) and record it, in one
    /// transaction; refused while a body is held, unless forced (and the force is recorded).
    fn erase(
        &mut self,
        by: String,
        seq: u64,
        role: Option<String>,
        reason: String,
        force: bool,
    ) -> Result<u64, AuditError> {
        if reason.trim().is_empty() {
            return Err(AuditError::Invalid("an erasure needs a reason (--reason)".into()));
        }
        let rows = self.store.bodies_of(seq).map_err(unavailable)?;
        let rows: Vec<_> =
            rows.into_iter().filter(|b| b.body.is_some() && role.as_ref().is_none_or(|r| *r == b.role)).collect();
        if rows.is_empty() {
            return Err(AuditError::Invalid(format!("entry {seq} has no stored body to erase")));
        }
        let now = format_time(chrono::Utc::now());
        let held_until = rows.iter().filter_map(|b| b.retain_until.as_deref()).filter(|u| *u > now.as_str()).max();
        if let (Some(until), false) = (held_until, force) {
            return Err(AuditError::Invalid(format!(
                "the stored bodies of entry {seq} are held until {until} (statutory hold); erasing them before \
                 then needs --force, and the log records that it was forced"
            )));
        }
        let roles: Vec<String> = rows.iter().map(|b| b.role.clone()).collect();
        let forced = held_until.is_some();
        let record = Record::System(SystemRecord::BodyErased { seq, roles: roles.clone(), by, reason, forced });
        let (ack, rx) = oneshot::channel();
        self.commit(vec![(record, Answer::Caller(ack))], Vec::new(), vec![Erasure { seq, roles, erased_at: now }]);
        let entry = answered(rx)?;
        // The erased bytes leave the WAL now (secure_delete zeroed them in the database).
        if let Err(e) = self.store.tidy() {
            tracing::warn!(error = %e, "WAL checkpoint after an erasure failed; retried after the next commit");
        }
        Ok(entry)
    }

    fn time_to_checkpoint(&self) -> Duration {
        let interval = Duration::from_millis(self.opts.checkpoint_interval_ms.max(1));
        if self.size() > self.last_cp_size {
            interval.saturating_sub(self.last_cp_at.elapsed())
        } else {
            interval
        }
    }

    fn checkpoint_due(&self) -> bool {
        let grown = self.size().saturating_sub(self.last_cp_size);
        grown > 0
            && (grown >= self.opts.checkpoint_every_entries.max(1)
                || self.last_cp_at.elapsed() >= Duration::from_millis(self.opts.checkpoint_interval_ms))
    }

    /// Handle one batch of commands; returns the shutdown acknowledgement and result when the
    /// writer should stop.
    fn process(&mut self, commands: Vec<Command>) -> Option<ShutdownAck> {
        let mut appends = Vec::new();
        let mut bodies = Vec::new();
        let mut control = Vec::new();
        let mut halts = Vec::new();
        for c in commands {
            match c {
                Command::WitnessRefused { record, halt } => {
                    // Nobody waits for this entry: the witness client learns nothing from its seq.
                    let (ack, _) = oneshot::channel();
                    appends.push((Record::System(*record), Answer::Caller(ack)));
                    halts.extend(halt);
                }
                Command::TimestampRefused { record } => {
                    let (ack, _) = oneshot::channel();
                    appends.push((Record::System(*record), Answer::Caller(ack)));
                }
                Command::Append { record, ack } => appends.push((*record, Answer::Caller(ack))),
                Command::AppendOutcome { record, late, on_late, ack } => {
                    appends.push((*record, Answer::Outcome { ack, late, on_late }))
                }
                Command::Body { body, ack } => bodies.push((body, ack)),
                other => control.push(other),
            }
        }
        if !appends.is_empty() || !bodies.is_empty() {
            self.commit(appends, bodies, Vec::new());
        }
        for reason in halts {
            self.halt(reason);
        }
        let mut stop = None;
        for c in control {
            match c {
                Command::Checkpoint { ack } => {
                    // The size the newest checkpoint covers, whether signed now or before.
                    let _ = ack.send(self.checkpoint().map(|_| Some(self.last_cp_size).filter(|n| *n > 0)));
                }
                Command::Shutdown { reason, ack } => {
                    if stop.is_none() {
                        stop = Some((ack, self.shutdown(reason)));
                    } else {
                        let _ = ack.send(Ok(()));
                    }
                }
                Command::Health { ack } => {
                    let _ = ack.send(self.health());
                }
                Command::Cosigned { size, witness, line } => {
                    let now = format_time(chrono::Utc::now());
                    if let Err(e) = self.store.add_cosignature(size, &witness, &line, &now) {
                        // The witness keeps its state: it cosigns this size again when asked.
                        tracing::warn!(error = %e, size, "witness cosignature not stored");
                    }
                }
                Command::Stamped { stamp } => {
                    let now = format_time(chrono::Utc::now());
                    if let Err(e) = self.store.add_timestamp(&stamp, &now) {
                        // The client asks for a new stamp at its next interval.
                        tracing::warn!(error = %e, size = stamp.size, "time stamp not stored");
                    }
                }
                Command::Append { .. }
                | Command::AppendOutcome { .. }
                | Command::Body { .. }
                | Command::WitnessRefused { .. }
                | Command::TimestampRefused { .. } => {}
            }
        }
        stop
    }

    /// Encode and write the deferred outcomes, then appends and bodies, in one transaction;
    /// answer every caller.
    fn commit(
        &mut self,
        appends: Vec<(Record, Answer)>,
        bodies: Vec<(NewBody, oneshot::Sender<Result<(), AuditError>>)>,
        erasures: Vec<Erasure>,
    ) {
        // Deferred outcomes first: nothing recorded after them may overtake them.
        let mut items: Vec<(Record, Answer)> =
            self.deferred.drain(..).map(|(record, on_late)| (record, Answer::Deferred(on_late))).collect();
        items.extend(appends);
        // The chain commits to each stored body's ciphertext, in the same transaction.
        items.extend(bodies.iter().map(|(b, _)| (Record::System(body_stored(b)), Answer::Quiet)));
        let ready = match (&self.broken, &self.halted) {
            (Some(f), _) => Err(AuditError::Integrity(f.clone())),
            (None, Some(why)) => Err(AuditError::unavailable(why.clone())),
            (None, None) if self.synced => Ok(()),
            (None, None) => self.reload(),
        };
        let ready = ready.and_then(|_| self.store.health_check().map_err(unavailable));
        if let Err(e) = ready {
            self.fail_all(items, bodies, &e);
            return;
        }
        let mut frontier = self.frontier.clone();
        let mut prev = self.prev;
        let mut last_time = self.last_time.clone();
        let mut batch = Batch::default();
        let mut answers = Vec::new();
        for (record, answer) in items {
            let seq = frontier.size();
            // Entry times never go backwards, even if the clock does.
            let now = self.next_time();
            let time = if now > last_time { now } else { last_time.clone() };
            match encode(seq, &time, &prev, &record) {
                Ok(bytes) => {
                    let hash = leaf_hash(&bytes);
                    batch.nodes.extend(frontier.push(hash));
                    batch.entries.push(StoredEntry { seq, kind: kind_of(&record).to_string(), leaf_hash: hash, bytes });
                    prev = hash;
                    last_time = time;
                    answers.push((seq, record, answer));
                }
                // A record that cannot be encoded never will be: answered, not kept.
                Err(e) => answer.fail(&unavailable(format!("cannot encode record: {e}"))),
            }
        }
        let mut body_acks = Vec::new();
        for (body, ack) in bodies {
            batch.bodies.push(body);
            body_acks.push(ack);
        }
        batch.erasures = erasures;
        match self.store.append_batch(&batch) {
            Ok(()) => {
                if let Some(last) = batch.entries.last() {
                    self.last_kind = last.kind.clone();
                }
                self.frontier = frontier;
                self.prev = prev;
                self.last_time = last_time;
                let unsigned = self.frontier.size().saturating_sub(self.last_cp_size);
                crate::metrics::global().audit_batch(batch.entries.len(), unsigned);
                answers.into_iter().for_each(|(seq, _, answer)| answer.succeed(seq));
                body_acks.into_iter().for_each(|ack| drop(ack.send(Ok(()))));
            }
            Err(e) => {
                tracing::error!(error = %e, "audit append failed");
                self.synced = false;
                let err = unavailable(e);
                // Encoded again, with the sequence numbers of the next commit that succeeds.
                for (_, record, answer) in answers {
                    self.keep_or_fail(record, answer, &err);
                }
                body_acks.into_iter().for_each(|ack| drop(ack.send(Err(err.clone()))));
            }
        }
    }

    /// A record the log could not take: its caller learns why; an outcome is kept for later.
    fn keep_or_fail(&mut self, record: Record, answer: Answer, err: &AuditError) {
        match answer {
            Answer::Caller(ack) => drop(ack.send(Err(err.clone()))),
            Answer::Outcome { ack, late, on_late } => {
                let _ = ack.send(Err(err.clone()));
                self.defer(*late, on_late);
            }
            Answer::Deferred(on_late) => self.defer(record, on_late),
            Answer::Quiet => {}
        }
    }

    fn defer(&mut self, record: Record, on_late: OnLate) {
        if self.deferred.len() >= MAX_DEFERRED {
            tracing::error!(
                queued = self.deferred.len(),
                "audit outcome queue full: an outcome is dropped; its request is recorded as stopped later"
            );
            return;
        }
        self.deferred.push_back((record, on_late));
    }

    fn fail_all(
        &mut self,
        items: Vec<(Record, Answer)>,
        bodies: Vec<(NewBody, oneshot::Sender<Result<(), AuditError>>)>,
        e: &AuditError,
    ) {
        for (record, answer) in items {
            self.keep_or_fail(record, answer, e);
        }
        bodies.into_iter().for_each(|(_, ack)| drop(ack.send(Err(e.clone()))));
    }

    /// Try the deferred outcomes again on their own.
    fn flush_deferred(&mut self) {
        if !self.deferred.is_empty() {
            self.commit(Vec::new(), Vec::new(), Vec::new());
            if self.deferred.is_empty() {
                tracing::info!("the audit log takes writes again; the withheld outcomes are recorded");
            }
        }
    }

    /// Whether the log can take writes now, and if not why, in plain words.
    fn health(&mut self) -> Result<(), String> {
        if let Some(f) = &self.broken {
            return Err(format!("audit log integrity failure at {f}"));
        }
        if let Some(why) = &self.halted {
            return Err(why.clone());
        }
        self.flush_deferred();
        if !self.deferred.is_empty() {
            return Err(format!(
                "the audit log cannot be written: {} outcomes wait to be recorded",
                self.deferred.len()
            ));
        }
        let writable = self.store.health_check().and_then(|()| self.store.probe_write());
        writable.map_err(|e| format!("the audit log cannot be written: {e}"))
    }

    /// Sign and store a checkpoint of the current tree if it grew since the last one, after
    /// verifying every stored row since the last verified point.
    pub(crate) fn checkpoint(&mut self) -> Result<Option<u64>, AuditError> {
        if !self.synced {
            self.reload()?;
        }
        let size = self.size();
        if size == self.last_cp_size {
            return Ok(None);
        }
        self.catch_up(size)?;
        let root = self.check.root();
        if root != self.frontier.root() {
            let f = Failure::new(size - 1, Broken::ChangedBehindWriter);
            self.broken = Some(f.clone());
            return Err(AuditError::Integrity(f));
        }
        let cp = Checkpoint { origin: self.origin.clone(), size, root };
        let note = self.key.sign_note(&cp.text()).map_err(unavailable)?;
        self.store
            .add_checkpoint(&StoredCheckpoint { size, root: cp.root, note: note.clone() })
            .map_err(unavailable)?;
        append_note(&self.dir.join(FILE_CHECKPOINTS), &note).map_err(unavailable)?;
        self.last_cp_size = size;
        crate::metrics::global().audit_unsigned(self.frontier.size().saturating_sub(size));
        self.last_cp_at = Instant::now();
        if let Some(out) = &self.checkpoints_out {
            out.send_replace(Some(super::SignedCheckpoint { size, note: note.clone() }));
        }
        let state = VerifiedState { size, root, last_leaf: self.check.prev(), open: self.open.clone() };
        if let Err(e) = state.write(&self.dir, &self.key, &self.origin) {
            // The checkpoint stands; the next one writes the record again.
            tracing::warn!(error = %e, "verified-state record not written");
        }
        Ok(Some(size))
    }

    /// Stop entry, an outcome entry for each request still without one, final checkpoint.
    pub(crate) fn shutdown(&mut self, reason: String) -> Result<(), AuditError> {
        self.flush_deferred();
        if self.last_kind != "gateway_stop" {
            self.append_now(Record::System(SystemRecord::GatewayStop { reason }))?;
        }
        self.catch_up(self.size())?;
        if !self.open.is_empty() {
            let open: Vec<u64> = self.open.iter().copied().collect();
            tracing::warn!(requests = open.len(), "requests without an outcome at shutdown");
            self.append_many(stopped_outcomes(&open).collect())?;
        }
        self.checkpoint().map(|_| ())
    }

    /// Replace the signing key: checkpoint with the old key, a KeyRotated entry signed by the old
    /// key, then the new key in place and a checkpoint signed by it. Returns the new verifier key.
    pub(crate) fn rotate_key(&mut self) -> Result<String, AuditError> {
        self.checkpoint()?;
        let new = KeyPair::generate(&self.origin).map_err(unavailable)?;
        let next_path = self.dir.join(format!("{FILE_KEY}.next"));
        // The new secret is durable before the log names it, so a crash cannot orphan the log.
        write_private(&next_path, &format!("{}\n", new.skey())).map_err(unavailable)?;
        let signature_by_old = sign_rotation(&self.key, new.vkey()).map_err(unavailable)?;
        let record = SystemRecord::KeyRotated {
            old_public_key: self.key.vkey().to_string(),
            new_public_key: new.vkey().to_string(),
            signature_by_old,
        };
        self.append_now(Record::System(record))?;
        fs::rename(&next_path, self.dir.join(FILE_KEY)).map_err(unavailable)?;
        write_atomic(&self.dir.join(FILE_PUB), &format!("{}\n", new.vkey())).map_err(unavailable)?;
        self.key = new;
        self.checkpoint()?;
        Ok(self.key.vkey().to_string())
    }
}

impl Writer {
    /// Refuse every append from now on, and keep refusing after a restart: `witness-halt` holds
    /// the reason until an operator has dealt with it and removes the file.
    fn halt(&mut self, reason: String) {
        tracing::error!(reason = %reason, "audit log halted: every call is refused");
        if let Err(e) = write_private(&self.dir.join(super::FILE_HALT), &format!("{reason}\n")) {
            tracing::error!(error = %e, "witness-halt not written: the halt lasts until the gateway stops");
        }
        self.halted = Some(reason);
    }
}

/// A data directory serves one log. A node's directory names its PostgreSQL node and URL in
/// [`FILE_PG_NODE`] (0600: the URL may hold a password, as gateway.toml does), rewritten at every
/// start so a changed URL follows; the offline commands open the log it names. A directory that
/// keeps one log is refused for another: another node, or SQLite beside PostgreSQL either way.
fn claim_dir(dir: &Path, location: &LogLocation) -> Result<(), AuditError> {
    let named = LogLocation::named_in(dir);
    let refuse = |what: String| Err(unavailable(format!("{}: {what}", dir.display())));
    match (location, named) {
        (LogLocation::Sqlite(_), None) => Ok(()),
        (LogLocation::Sqlite(_), Some(LogLocation::Postgres { node, .. })) => refuse(format!(
            "it keeps the signing key of PostgreSQL node {node:?} ({FILE_PG_NODE}), but the log is configured in log.db"
        )),
        (LogLocation::Postgres { node, .. }, Some(LogLocation::Postgres { node: named, .. })) if *node != named => {
            refuse(format!("it keeps the signing key of node {named:?}, not of node {node:?}"))
        }
        (LogLocation::Postgres { node, .. }, _) if dir.join(super::FILE_DB).exists() => {
            refuse(format!("it already keeps a SQLite log (log.db); give node {node:?} a data directory of its own"))
        }
        (LogLocation::Postgres { .. }, _) => {
            let text = location.marker_text().unwrap_or_default();
            write_private(&dir.join(FILE_PG_NODE), &text).map_err(unavailable)
        }
        (LogLocation::Sqlite(_), Some(LogLocation::Sqlite(_))) => Ok(()),
    }
}

/// The reason in `witness-halt`, if an earlier run halted the log.
fn read_halt(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join(super::FILE_HALT)).ok()?;
    Some(format!("{} (halted earlier; remove {} to resume)", text.trim(), super::FILE_HALT))
}

/// `outcome` entries for requests cut short by the gateway's stop.
fn stopped_outcomes(requests: &[u64]) -> impl Iterator<Item = Record> + '_ {
    requests.iter().map(|&request_seq| {
        Record::System(SystemRecord::Outcome { request_seq, outcome: OUTCOME_GATEWAY_STOPPED.to_string() })
    })
}

impl Answer {
    fn succeed(self, seq: u64) {
        match self {
            Answer::Caller(ack) => drop(ack.send(Ok(seq))),
            // A caller that stopped waiting answered its client as if the write had failed, and
            // left the settling to `on_late`.
            Answer::Outcome { ack, on_late, .. } => {
                if ack.send(Ok(seq)).is_err() {
                    on_late(seq);
                }
            }
            Answer::Deferred(on_late) => on_late(seq),
            Answer::Quiet => {}
        }
    }

    fn fail(self, e: &AuditError) {
        match self {
            Answer::Caller(ack) | Answer::Outcome { ack, .. } => drop(ack.send(Err(e.clone()))),
            Answer::Deferred(_) => tracing::error!(error = %e, "a withheld outcome cannot be recorded and is dropped"),
            Answer::Quiet => {}
        }
    }
}

/// Load `signing.key`, or create it (and `signing.pub`) for a new log.
fn load_key(dir: &Path, origin: &str, log_has_entries: bool) -> Result<KeyPair, AuditError> {
    let path = dir.join(FILE_KEY);
    match fs::read_to_string(&path) {
        Ok(text) => KeyPair::from_skey(&text).map_err(|e| unavailable(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !log_has_entries => {
            let key = KeyPair::generate(origin).map_err(unavailable)?;
            write_private(&path, &format!("{}\n", key.skey())).map_err(unavailable)?;
            Ok(key)
        }
        Err(e) => Err(unavailable(format!("{}: {e}", path.display()))),
    }
}

/// The verifier key a genesis or key_rotated entry puts in force.
pub(crate) fn key_named_by(entry: &StoredEntry) -> Result<String, AuditError> {
    let view = super::entry::decode(&entry.bytes).map_err(unavailable)?;
    match view.record().map_err(unavailable)? {
        Record::System(SystemRecord::Genesis { public_key, .. }) => Ok(public_key),
        Record::System(SystemRecord::KeyRotated { new_public_key, .. }) => Ok(new_public_key),
        _ => Err(unavailable(format!("entry {} names no key", entry.seq))),
    }
}

/// Append one note to `checkpoints.log` (one empty line between notes) and fsync it.
fn append_note(path: &Path, note: &str) -> std::io::Result<()> {
    let mut f = files::open_private_append(path)?;
    let separator = if f.metadata()?.len() > 0 { "\n" } else { "" };
    f.write_all(format!("{separator}{note}").as_bytes())?;
    f.sync_data()
}

/// The answer to a command processed synchronously. `blocking_recv` would panic inside a
/// runtime; the writer has answered before returning, so `try_recv` is always ready here.
fn answered<T>(mut rx: oneshot::Receiver<Result<T, AuditError>>) -> Result<T, AuditError> {
    rx.try_recv().map_err(|_| unavailable("writer did not answer"))?
}
