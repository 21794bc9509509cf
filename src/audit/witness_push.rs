//! The gateway's side of C2SP `tlog-witness`: every new checkpoint goes to each configured
//! witness with a consistency proof from the size that witness cosigned last; its cosignature is
//! stored with the checkpoint (`cosignatures` in log.db).
//!
//! A witness that is down only delays its cosignature: the client retries with backoff (the loop
//! shared with the time-stamp client, `follow`) and never holds up a request. A refusal (409,
//! 422, 403, 404, 400) is recorded as one `witness_refused` entry per new kind of refusal and
//! shown by `/health`. A 409 naming a size larger than this log means the log was rolled back
//! (restored from an old copy): the writer then refuses every append (`witness-halt`), so every
//! call gets 503, until an operator acts.

use super::cosign::{note_text, WitnessKey};
use super::follow::{follow, Follower, Next};
use super::location::LogLocation;
use super::merkle::{consistency_proof, Hash};
use super::record::SystemRecord;
use super::witness::AddCheckpoint;
use super::writer::Command;
use super::{AuditError, AuditLog, AuditOptions, SignedCheckpoint};
use parking_lot::Mutex;

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest one `add-checkpoint` call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a refusal's body is kept in the entry.
const DETAIL_MAX: usize = 300;

/// A configured witness, its key parsed.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    url: String,
    key: WitnessKey,
}

/// Parse `[[audit.witnesses]]`; a key that does not parse or a quorum above the count stops start.
pub(crate) fn parse_targets(opts: &AuditOptions) -> Result<Vec<Target>, AuditError> {
    let targets = opts
        .witnesses
        .iter()
        .map(|w| {
            let key = WitnessKey::parse(&w.public_key)
                .map_err(|e| AuditError::Invalid(format!("audit.witnesses ({}): {e}", w.url)))?;
            let url = w.url.trim_end_matches('/').to_string();
            reqwest::Url::parse(&url).map_err(|e| AuditError::Invalid(format!("audit.witnesses url {url:?}: {e}")))?;
            Ok(Target { url, key })
        })
        .collect::<Result<Vec<_>, AuditError>>()?;
    if opts.witness_quorum > targets.len() {
        return Err(AuditError::Invalid(format!(
            "audit.witness_quorum is {} but only {} witnesses are configured",
            opts.witness_quorum,
            targets.len()
        )));
    }
    Ok(targets)
}

/// What one witness last did with our checkpoints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WitnessStatus {
    pub url: String,
    pub witness: String,
    /// `pending` (nothing sent yet), `ok`, `unreachable` (retrying) or `refused`.
    pub state: &'static str,
    /// Largest tree size it cosigned for us.
    pub cosigned_size: Option<u64>,
    /// Why it is unreachable or refused.
    pub detail: Option<String>,
    /// The tree size of the checkpoint last sent to it, whatever came of it.
    pub tried_size: Option<u64>,
}

/// The witnesses' states, shared with `/health`.
#[derive(Clone, Default)]
pub(crate) struct Statuses {
    list: Arc<Mutex<Vec<WitnessStatus>>>,
    quorum: usize,
}

impl Statuses {
    pub(crate) fn new(targets: &[Target], quorum: usize) -> Statuses {
        let list = targets
            .iter()
            .map(|t| WitnessStatus {
                url: t.url.clone(),
                witness: t.key.vkey().to_string(),
                state: "pending",
                cosigned_size: None,
                detail: None,
                tried_size: None,
            })
            .collect();
        Statuses { list: Arc::new(Mutex::new(list)), quorum }
    }

    fn set(&self, i: usize, update: impl FnOnce(&mut WitnessStatus)) {
        if let Some(s) = self.list.lock().get_mut(i) {
            update(s);
        }
    }

    /// Whether any witness is configured.
    pub(crate) fn any(&self) -> bool {
        !self.list.lock().is_empty()
    }

    /// Whether every witness has cosigned `size`, or refused it or failed to answer when it was
    /// sent `size` (a failure on an earlier checkpoint still leaves it worth waiting for).
    pub(crate) fn settled(&self, size: u64) -> bool {
        self.list.lock().iter().all(|s| {
            s.cosigned_size >= Some(size)
                || (matches!(s.state, "refused" | "unreachable") && s.tried_size >= Some(size))
        })
    }

    /// `{"quorum", "witnessed_size", "witnesses": [...]}`, or None without witnesses.
    pub(crate) fn to_json(&self) -> Option<serde_json::Value> {
        let list = self.list.lock().clone();
        if list.is_empty() {
            return None;
        }
        let mut sizes: Vec<u64> = list.iter().filter_map(|s| s.cosigned_size).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        // The largest size at least `quorum` witnesses have cosigned (each cosigned everything
        // below its own size too).
        let witnessed = if self.quorum == 0 { sizes.first().copied() } else { sizes.get(self.quorum - 1).copied() };
        Some(serde_json::json!({ "quorum": self.quorum, "witnessed_size": witnessed, "witnesses": list }))
    }
}

/// Per witness: the size it cosigned last, and the refusal last recorded (not repeated).
struct Peer {
    target: Target,
    old: u64,
    refused: Option<(u16, u64)>,
}

/// What one push came to.
enum Pushed {
    Cosigned,
    /// Not answered (down, 5xx, timeout): try again later.
    Retry,
    /// Refused, or nothing to do until the next checkpoint.
    Settled,
}

/// Start the witness client on the current tokio runtime.
pub(crate) fn start(
    log: AuditLog,
    targets: Vec<Target>,
    latest: watch::Receiver<Option<SignedCheckpoint>>,
) -> Result<(), AuditError> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| AuditError::Invalid("witnesses need the gateway's runtime".into()))?;
    let client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AuditError::Invalid(format!("witness client: {e}")))?;
    runtime.spawn(run(log, client, targets, latest));
    Ok(())
}

/// The witnesses as one follower of the checkpoint stream.
struct Witnesses {
    log: AuditLog,
    client: reqwest::Client,
    db: LogLocation,
    peers: Vec<Peer>,
}

impl Follower for Witnesses {
    async fn on_checkpoint(&mut self, cp: &SignedCheckpoint) -> Next {
        let mut retry = false;
        for (i, peer) in self.peers.iter_mut().enumerate() {
            if peer.old < cp.size && peer.refused.is_none_or(|(_, at)| at < cp.size) {
                retry |= matches!(push(&self.log, &self.client, &self.db, i, peer, cp).await, Pushed::Retry);
            }
        }
        if retry {
            Next::Retry
        } else {
            Next::Idle
        }
    }
}

async fn run(
    log: AuditLog,
    client: reqwest::Client,
    targets: Vec<Target>,
    latest: watch::Receiver<Option<SignedCheckpoint>>,
) {
    let db = log.location().clone();
    let cosigned = last_cosigned(&db, &targets).await;
    let peers: Vec<Peer> =
        targets.into_iter().zip(cosigned).map(|(target, old)| Peer { target, old, refused: None }).collect();
    for (i, p) in peers.iter().enumerate() {
        if p.old > 0 {
            log.inner.witnesses.set(i, |s| s.cosigned_size = Some(p.old));
        }
    }
    follow(latest, Witnesses { log, client, db, peers }).await;
}

/// The size each witness cosigned last, from the stored cosignatures (0: none).
async fn last_cosigned(db: &LogLocation, targets: &[Target]) -> Vec<u64> {
    let db = db.clone();
    let keys: Vec<String> = targets.iter().map(|t| t.key.vkey().to_string()).collect();
    let rows = tokio::task::spawn_blocking(move || db.open_reader().and_then(|s| s.cosignatures()))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    keys.iter().map(|k| rows.iter().filter(|r| &r.witness == k).map(|r| r.size).max().unwrap_or(0)).collect()
}

/// The consistency proof from `old` to `size` and the log's current size, from the stored tree.
async fn tree_facts(db: &LogLocation, old: u64, size: u64) -> Result<(Vec<Hash>, u64), String> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let store = db.open_reader().map_err(|e| e.to_string())?;
        let proof = if old == 0 || old >= size {
            Vec::new()
        } else {
            consistency_proof(old, size, &mut |lo, hi| store.subtree_hash(lo, hi)).map_err(|e| e.to_string())?
        };
        Ok((proof, store.size().map_err(|e| e.to_string())?))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Send one checkpoint to one witness, following its 409s to the size it holds.
async fn push(
    log: &AuditLog,
    client: &reqwest::Client,
    db: &LogLocation,
    i: usize,
    peer: &mut Peer,
    cp: &SignedCheckpoint,
) -> Pushed {
    let statuses = &log.inner.witnesses;
    let Some(text) = note_text(&cp.note) else { return Pushed::Settled };
    // A 409 names the witness's size; one more try from there, then the answer stands.
    for _ in 0..2 {
        let (proof, log_size) = match tree_facts(db, peer.old, cp.size).await {
            Ok(facts) => facts,
            Err(e) => {
                tracing::warn!(error = %e, "witness: consistency proof not computed");
                return Pushed::Retry;
            }
        };
        let body = AddCheckpoint { old: peer.old, proof, note: cp.note.clone() }.encode();
        let sent = client.post(format!("{}/add-checkpoint", peer.target.url)).body(body).send().await;
        let (status, answer) = match sent {
            Ok(resp) => (resp.status().as_u16(), resp.text().await.unwrap_or_default()),
            Err(e) => return unreachable(statuses, i, &peer.target, cp.size, e.to_string()),
        };
        match status {
            200 => {
                let line = answer.lines().find(|l| peer.target.key.check(text, l).is_ok());
                let Some(line) = line else {
                    return refuse(
                        log,
                        i,
                        peer,
                        cp,
                        status,
                        None,
                        false,
                        "answered 200 without a valid cosignature by its key".into(),
                    );
                };
                log.tell(Command::Cosigned {
                    size: cp.size,
                    witness: peer.target.key.vkey().to_string(),
                    line: line.to_string(),
                });
                peer.old = cp.size;
                peer.refused = None;
                statuses.set(i, |s| {
                    s.state = "ok";
                    s.cosigned_size = Some(cp.size);
                    s.detail = None;
                    s.tried_size = Some(cp.size);
                });
                return Pushed::Cosigned;
            }
            409 => {
                let Some(theirs) = answer.trim().parse::<u64>().ok() else {
                    return refuse(log, i, peer, cp, status, None, false, short(&answer));
                };
                if theirs > log_size {
                    let why = format!(
                        "witness {} has cosigned tree size {theirs} of this log, which holds only {log_size} entries: \
                         the log was rolled back (restored from an older copy?)",
                        peer.target.url
                    );
                    return refuse(log, i, peer, cp, status, Some(theirs), true, why);
                }
                if theirs == peer.old || theirs > cp.size {
                    let why = format!("the witness holds another tree at size {theirs}");
                    return refuse(log, i, peer, cp, status, Some(theirs), false, why);
                }
                peer.old = theirs;
            }
            400 | 403 | 404 | 422 => return refuse(log, i, peer, cp, status, None, false, short(&answer)),
            _ => return unreachable(statuses, i, &peer.target, cp.size, format!("HTTP {status}: {}", short(&answer))),
        }
    }
    Pushed::Settled
}

fn short(text: &str) -> String {
    text.trim().chars().take(DETAIL_MAX).collect()
}

fn unreachable(statuses: &Statuses, i: usize, target: &Target, size: u64, why: String) -> Pushed {
    tracing::warn!(witness = %target.url, error = %why, "witness did not answer; its cosignature is delayed");
    statuses.set(i, |s| {
        s.state = "unreachable";
        s.detail = Some(why);
        s.tried_size = Some(size);
    });
    Pushed::Retry
}

/// Record a refusal (once per kind of refusal), show it, and halt the log for a rollback.
#[allow(clippy::too_many_arguments)]
fn refuse(
    log: &AuditLog,
    i: usize,
    peer: &mut Peer,
    cp: &SignedCheckpoint,
    status: u16,
    witness_size: Option<u64>,
    rolled_back: bool,
    detail: String,
) -> Pushed {
    tracing::error!(witness = %peer.target.url, status, tree_size = cp.size, detail = %detail, "witness refused the checkpoint");
    log.inner.witnesses.set(i, |s| {
        s.state = "refused";
        s.detail = Some(format!("HTTP {status} for tree size {}: {detail}", cp.size));
        s.tried_size = Some(cp.size);
    });
    let new_kind = peer.refused.is_none_or(|(st, _)| st != status);
    peer.refused = Some((status, cp.size));
    if new_kind || rolled_back {
        let record = SystemRecord::WitnessRefused {
            witness: peer.target.key.vkey().to_string(),
            url: peer.target.url.clone(),
            tree_size: cp.size,
            status,
            witness_size,
            rolled_back,
            detail: detail.clone(),
        };
        let halt = rolled_back.then(|| format!("audit log halted: {detail}"));
        log.tell(Command::WitnessRefused { record: Box::new(record), halt });
    }
    Pushed::Settled
}
