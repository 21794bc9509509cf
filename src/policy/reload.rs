//! Hot reload: the policy in force lives in an `ArcSwap`; a reload validates the files first and
//! swaps only a fully valid policy, so a broken edit never opens (or closes) the gate: the previous
//! policy stays in force and the rejection is reported for the audit log.
//!
//! The watcher polls the SHA-256 of every policy file (policy files are small; hashing them is
//! cheaper than getting file-system notifications right on every platform), reloads once a change
//! has been stable for one poll interval, and also reloads at once on SIGHUP.

use super::load::{self, discover};
use super::{Decision, Diagnostic, Policy, RequestFacts};
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What happened on a reload, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ReloadEvent {
    /// A new valid policy is in force. `files`: file name -> hex SHA-256.
    Loaded { version: String, files: BTreeMap<String, String> },
    /// The files on disk are invalid; the previous policy stays in force.
    Rejected { errors: Vec<String>, files: BTreeMap<String, String> },
}

/// The result of [`PolicyHandle::reload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    Loaded {
        version: String,
        files: BTreeMap<String, String>,
    },
    /// Valid, and identical to the policy in force: nothing swapped.
    Unchanged {
        version: String,
    },
    Rejected {
        errors: Vec<String>,
        files: BTreeMap<String, String>,
    },
}

impl ReloadOutcome {
    /// The event worth recording; `None` for an unchanged policy.
    pub fn event(self) -> Option<ReloadEvent> {
        match self {
            ReloadOutcome::Loaded { version, files } => Some(ReloadEvent::Loaded { version, files }),
            ReloadOutcome::Rejected { errors, files } => Some(ReloadEvent::Rejected { errors, files }),
            ReloadOutcome::Unchanged { .. } => None,
        }
    }
}

/// The policy in force, shared by every request task.
#[derive(Debug)]
pub struct PolicyHandle {
    current: Arc<ArcSwap<Policy>>,
    paths: Vec<PathBuf>,
    /// Serialises reloads (a poll and a SIGHUP may race); readers never take it.
    reloading: Mutex<()>,
}

impl PolicyHandle {
    /// Load the initial policy; an invalid policy at start is an error (the gateway must not start).
    pub fn load(paths: Vec<PathBuf>) -> Result<PolicyHandle, Vec<Diagnostic>> {
        let policy = Policy::load(&paths)?;
        Ok(PolicyHandle::new(policy, paths))
    }

    /// Wrap an already loaded policy; `paths` is what later reloads read.
    pub fn new(policy: Policy, paths: Vec<PathBuf>) -> PolicyHandle {
        PolicyHandle::from_shared(Arc::new(ArcSwap::from_pointee(policy)), paths)
    }

    /// Reload into an `ArcSwap` the gateway already shares (its state keeps reading from it).
    pub fn from_shared(shared: Arc<ArcSwap<Policy>>, paths: Vec<PathBuf>) -> PolicyHandle {
        PolicyHandle { current: shared, paths, reloading: Mutex::new(()) }
    }

    /// The shared cell the policy in force lives in.
    pub fn shared(&self) -> Arc<ArcSwap<Policy>> {
        Arc::clone(&self.current)
    }

    /// The policy in force now (cheap; hold it for the whole request so one request sees one policy).
    pub fn current(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    /// Decide with the policy in force.
    pub fn decide(&self, facts: &RequestFacts) -> Decision {
        self.current.load().decide(facts)
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Re-read the files; swap only when they are valid and differ from the policy in force.
    pub fn reload(&self) -> ReloadOutcome {
        let _guard = self.reloading.lock();
        let report = load::load(&self.paths);
        match report.policy {
            Ok(policy) if policy.version == self.current.load().version => {
                ReloadOutcome::Unchanged { version: policy.version }
            }
            Ok(policy) => {
                let version = policy.version.clone();
                self.current.store(Arc::new(policy));
                ReloadOutcome::Loaded { version, files: report.files }
            }
            Err(diags) => {
                ReloadOutcome::Rejected { errors: diags.iter().map(ToString::to_string).collect(), files: report.files }
            }
        }
    }
}

/// File name -> SHA-256 of every policy file the paths resolve to now (missing files drop out,
/// which is itself a change).
pub fn fingerprint(paths: &[PathBuf]) -> BTreeMap<String, String> {
    let mut ignored = Vec::new();
    discover(paths, &mut ignored)
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            Some((p.display().to_string(), hex::encode(Sha256::digest(&bytes))))
        })
        .collect()
}

/// Decides, poll by poll, whether the files changed enough to reload.
struct ChangeDetector {
    /// The files last reloaded from (at first: those of the policy in force, so an edit made
    /// before the watcher task first runs still counts as a change).
    last: BTreeMap<String, String>,
    /// A change seen on the previous poll but not yet acted on.
    pending: Option<BTreeMap<String, String>>,
}

impl ChangeDetector {
    fn new(files: BTreeMap<String, String>) -> Self {
        ChangeDetector { last: files, pending: None }
    }

    /// A change is acted on once it has been seen identical on two polls in a row, so an editor's
    /// half-written file is not reported as a rejection; `forced` (SIGHUP) acts at once.
    fn should_reload(&mut self, now: BTreeMap<String, String>, forced: bool) -> bool {
        if !forced {
            if now == self.last {
                self.pending = None;
                return false;
            }
            if self.pending.as_ref() != Some(&now) {
                self.pending = Some(now);
                return false;
            }
        }
        self.pending = None;
        self.last = now;
        true
    }
}

fn files_of(policy: &Policy) -> BTreeMap<String, String> {
    policy.files.iter().map(|(p, sha)| (p.display().to_string(), sha.clone())).collect()
}

/// Watch the handle's files: reload when their hashes change (checked every `poll_interval`) and on
/// SIGHUP; report every load or rejection to `on_event`. Runs until the task is aborted.
/// Must be called inside a tokio runtime.
pub fn spawn_watcher(
    handle: Arc<PolicyHandle>,
    poll_interval: Option<Duration>,
    on_event: impl Fn(ReloadEvent) + Send + Sync + 'static,
) -> tokio::task::JoinHandle<()> {
    // Registered before returning, so a SIGHUP sent right after this call is already caught.
    let mut hup = hangup_signal();
    let mut changes = ChangeDetector::new(files_of(&handle.current()));
    tokio::spawn(async move {
        // Without a poll interval only SIGHUP reloads: the tick never fires.
        let mut tick = tokio::time::interval(poll_interval.unwrap_or(Duration::from_secs(86_400)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // an interval's first tick is immediate; the policy was just loaded
        loop {
            let forced = tokio::select! {
                _ = tick.tick(), if poll_interval.is_some() => false,
                Some(()) = recv_hangup(&mut hup) => true,
            };
            if !changes.should_reload(fingerprint(handle.paths()), forced) {
                continue;
            }
            let h = Arc::clone(&handle);
            let outcome = match tokio::task::spawn_blocking(move || h.reload()).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::error!("policy reload task failed: {e}");
                    continue;
                }
            };
            if let Some(event) = outcome.event() {
                on_event(event);
            }
        }
    })
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP, policy reload by polling only: {e}");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

/// Resolves on SIGHUP; never resolves when there is no signal stream.
async fn recv_hangup(h: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(sig) = h {
        return sig.recv().await;
    }
    let _ = h;
    std::future::pending().await
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn fp(sha: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("p.toml".to_string(), sha.to_string())])
    }

    #[test]
    fn change_must_be_stable_for_one_poll() {
        let mut d = ChangeDetector::new(fp("a"));
        assert!(!d.should_reload(fp("a"), false));
        assert!(!d.should_reload(fp("b"), false), "first sight of a change waits");
        assert!(!d.should_reload(fp("c"), false), "still being written");
        assert!(d.should_reload(fp("c"), false), "stable: reload");
        assert!(!d.should_reload(fp("c"), false), "already reloaded");
        assert!(d.should_reload(fp("c"), true), "SIGHUP always reloads");
    }
}
