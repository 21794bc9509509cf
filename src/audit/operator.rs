//! What operators and auditors ask of the log from the command line, and how it reaches the
//! writer: access records (GeBueV art. 8: every read of audit data is logged) and erasures of
//! stored bodies (GDPR art. 17, within the statutory hold).
//!
//! Only the writer changes `log.db`. With the gateway stopped the command opens the log as its
//! writer and applies the request itself. With the gateway running, it drops the request as one
//! file into `requests/` in the data directory (written privately, renamed into place, fsynced);
//! the writer picks requests up within [`POLL`], applies each (appending its entry durably),
//! writes `NAME.done` with the entry number or the refusal, and removes the request. The command
//! waits for that answer, so it reveals nothing, and erases nothing, that the log did not record.

use super::note::write_private;
use super::{AuditError, AuditOptions, DIR_REQUESTS, FILE_LOCK};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a running writer looks for requests.
pub const POLL: Duration = Duration::from_millis(250);

/// How long a command waits for a running gateway to take its request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// One request, as written into `requests/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum OperatorRequest {
    /// Record a read of audit data before it is revealed.
    Access {
        by: String,
        action: String,
        from_seq: Option<u64>,
        to_seq: Option<u64>,
        detail: Option<String>,
        reason: Option<String>,
    },
    /// Erase the stored bodies of entry `seq` (all roles, or `role`).
    Erase { by: String, seq: u64, role: Option<String>, reason: String, force: bool },
}

/// The writer's answer, as written into `NAME.done`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Recorded { entry: u64 },
    Refused { error: String },
}

/// Who runs this command: the login name, else the user id.
pub fn operator_name() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .map(|user| format!("operator:{user}"))
        .unwrap_or_else(|| format!("operator:uid {}", unsafe { libc::getuid() }))
}

/// Apply `request` to the log in `dir`: directly when no gateway runs, else through the running
/// writer. Returns the number of the entry that records it.
pub fn submit(dir: &Path, request: &OperatorRequest) -> Result<u64, AuditError> {
    loop {
        if !writer_running(dir) {
            match super::writer::Writer::open(dir, AuditOptions::default()) {
                Ok(mut writer) => {
                    let seq = writer.apply(request.clone())?;
                    // Signed now, so the record is attested like the rest of the log.
                    writer.checkpoint()?;
                    return Ok(seq);
                }
                // A gateway started meanwhile: hand it the request.
                Err(AuditError::Unavailable(_)) if writer_running(dir) => {}
                Err(e) => return Err(e),
            }
        }
        match through_running_writer(dir, request)? {
            Some(seq) => return Ok(seq),
            // The writer went away before it took the request (withdrawn): try again.
            None => continue,
        }
    }
}

/// Whether another process (a running gateway) holds the writer lock.
pub fn writer_running(dir: &Path) -> bool {
    match std::fs::OpenOptions::new().write(true).open(dir.join(FILE_LOCK)) {
        Ok(f) => f.try_lock().is_err(),
        Err(_) => false,
    }
}

/// Hand `request` to the running writer and wait for its answer; `None` if no writer took it
/// (the request is withdrawn).
fn through_running_writer(dir: &Path, request: &OperatorRequest) -> Result<Option<u64>, AuditError> {
    let requests = dir.join(DIR_REQUESTS);
    super::files::create_private_dir(&requests).map_err(AuditError::unavailable)?;
    let name = format!("{}-{:016x}", chrono::Utc::now().format("%Y%m%dT%H%M%S%6f"), rand::random::<u64>());
    let path = requests.join(format!("{name}.json"));
    let text = serde_json::to_string(request).map_err(AuditError::unavailable)?;
    write_private(&path, &text).map_err(AuditError::unavailable)?;
    let done = requests.join(format!("{name}.done"));
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    while !done.exists() {
        let gone = !writer_running(dir);
        if gone || Instant::now() > deadline {
            // Withdrawn, unless the writer has just taken it (then its answer follows).
            if std::fs::remove_file(&path).is_ok() {
                if gone {
                    return Ok(None);
                }
                return Err(AuditError::unavailable(format!(
                    "the running gateway did not record the request within {} s; nothing was done",
                    ANSWER_TIMEOUT.as_secs()
                )));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let answer = std::fs::read_to_string(&done).map_err(AuditError::unavailable)?;
    let _ = std::fs::remove_file(&done);
    match serde_json::from_str(&answer).map_err(AuditError::unavailable)? {
        Answer::Recorded { entry } => Ok(Some(entry)),
        Answer::Refused { error } => Err(AuditError::Invalid(error)),
    }
}

/// The requests waiting in `dir/requests`, oldest first.
pub(crate) fn pending(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir.join(DIR_REQUESTS)) else { return Vec::new() };
    let mut paths: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    paths.sort();
    paths
}

/// Read one request file (None: not a request; it is answered as refused).
pub(crate) fn read(path: &Path) -> Result<OperatorRequest, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("not a request: {e}"))
}

/// Answer a request and remove it (the answer first, so the command never waits in vain).
pub(crate) fn answer(path: &Path, result: &Result<u64, AuditError>) {
    let answer = match result {
        Ok(entry) => Answer::Recorded { entry: *entry },
        Err(e) => Answer::Refused { error: e.to_string() },
    };
    let done = path.with_extension("done");
    let text = serde_json::to_string(&answer).unwrap_or_default();
    if let Err(e) = write_private(&done, &text) {
        tracing::error!(error = %e, request = %path.display(), "cannot answer an operator request");
    }
    let _ = std::fs::remove_file(path);
}
