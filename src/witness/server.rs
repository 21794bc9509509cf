//! `POST /add-checkpoint` (C2SP tlog-witness): verify the log's signature and the consistency
//! proof from the size last cosigned, persist the new size, answer with a cosignature.
//!
//! Check and update happen under one lock and the state is durable before the answer, so two
//! racing requests cannot roll the stored size back (the spec's warning).

use super::state::{Cosigned, LogEntry, WitnessDir};
use crate::audit::cosign::WitnessSigner;
use crate::audit::merkle::verify_consistency;
use crate::audit::note::{Checkpoint, PublicKey};
use crate::audit::witness::{AddCheckpoint, SIZE_CONTENT_TYPE};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Largest request body: a note (signed-note caps it at 1 MB) and 63 proof lines.
const MAX_BODY: usize = 1 << 20;

/// Why a checkpoint was not cosigned; each maps to the status the spec prescribes.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Malformed(String),
    #[error("unknown log origin {0:?}")]
    UnknownLog(String),
    #[error("the checkpoint is not signed by the key configured for {0:?}")]
    NotSigned(String),
    /// `old` is not the size last cosigned (or the same size with another root).
    #[error("{0}")]
    Conflict(u64),
    #[error("the consistency proof from tree size {old} to {new} does not verify")]
    BadProof { old: u64, new: u64 },
    #[error("the witness state could not be saved: {0}")]
    Storage(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match &self {
            Refusal::Malformed(_) => StatusCode::BAD_REQUEST,
            Refusal::UnknownLog(_) => StatusCode::NOT_FOUND,
            Refusal::NotSigned(_) => StatusCode::FORBIDDEN,
            Refusal::Conflict(size) => {
                return (StatusCode::CONFLICT, [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)], format!("{size}\n"))
                    .into_response()
            }
            Refusal::BadProof { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, format!("{self}\n")).into_response()
    }
}

/// The running witness.
pub struct Witness {
    dir: WitnessDir,
    signer: WitnessSigner,
    /// The accepted logs; re-read from `logs.json` when an unknown origin arrives, so
    /// `witness add-log` takes effect without a restart.
    logs: std::sync::RwLock<BTreeMap<String, PublicKey>>,
    /// The latest cosigned checkpoint per origin; the lock spans check, save and answer.
    cosigned: Mutex<BTreeMap<String, Cosigned>>,
}

impl Witness {
    pub fn new(dir: WitnessDir, signer: WitnessSigner, logs: Vec<LogEntry>) -> Result<Witness, String> {
        let logs = std::sync::RwLock::new(keys_of(logs)?);
        let cosigned = dir.cosigned().map_err(|e| e.to_string())?;
        Ok(Witness { dir, signer, logs, cosigned: Mutex::new(cosigned) })
    }

    /// The key configured for `origin`, reading `logs.json` again if it is not known yet.
    fn log_key(&self, origin: &str) -> Option<PublicKey> {
        if let Some(k) = self.logs.read().ok()?.get(origin) {
            return Some(k.clone());
        }
        let fresh = self.dir.logs().ok().and_then(|l| keys_of(l).ok())?;
        let key = fresh.get(origin).cloned();
        *self.logs.write().ok()? = fresh;
        key
    }

    /// Handle one `add-checkpoint` body; returns the cosignature line.
    pub async fn add_checkpoint(&self, body: &str) -> Result<String, Refusal> {
        let req = AddCheckpoint::parse(body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let cp = Checkpoint::parse_note(&req.note).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let key = self.log_key(&cp.origin).ok_or_else(|| Refusal::UnknownLog(cp.origin.clone()))?;
        let text = key.open_note(&req.note).map_err(|_| Refusal::NotSigned(cp.origin.clone()))?;
        if req.old > cp.size {
            return Err(Refusal::Malformed(format!(
                "old size {} is larger than the checkpoint's {}",
                req.old, cp.size
            )));
        }
        let mut cosigned = self.cosigned.lock().await;
        let held = cosigned.get(&cp.origin).copied();
        let held_size = held.map_or(0, |c| c.size);
        if req.old != held_size {
            return Err(Refusal::Conflict(held_size));
        }
        match held {
            Some(h) if h.size == cp.size && h.root != cp.root => return Err(Refusal::Conflict(h.size)),
            Some(h) if h.size < cp.size => verify_consistency(h.size, cp.size, &h.root, &cp.root, &req.proof)
                .map_err(|_| Refusal::BadProof { old: h.size, new: cp.size })?,
            Some(_) => {}
            None if !req.proof.is_empty() => {
                return Err(Refusal::Malformed("a request from old size 0 carries no proof".into()))
            }
            None => {}
        }
        let mut next = cosigned.clone();
        next.insert(cp.origin.clone(), Cosigned { size: cp.size, root: cp.root });
        self.dir.save_cosigned(&next).map_err(|e| Refusal::Storage(e.to_string()))?;
        *cosigned = next;
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        tracing::info!(origin = %cp.origin, size = cp.size, "cosigned");
        self.signer.cosign(&text, now).map_err(|e| Refusal::Storage(e.to_string()))
    }
}

fn keys_of(logs: Vec<LogEntry>) -> Result<BTreeMap<String, PublicKey>, String> {
    logs.into_iter()
        .map(|l| PublicKey::parse(&l.public_key).map(|k| (l.origin, k)).map_err(|e| e.to_string()))
        .collect()
}

/// The witness's routes.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: String) -> Response {
    match witness.add_checkpoint(&body).await {
        Ok(line) => (StatusCode::OK, line).into_response(),
        Err(refusal) => {
            tracing::warn!(reason = %refusal, "checkpoint refused");
            refusal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle::{consistency_proof, Frontier, Hash};
    use crate::audit::note::KeyPair;

    const ORIGIN: &str = "example.test/log";

    /// Signed checkpoints of a log of `n` leaves whose leaf `i` is `[i + seed; 32]`.
    fn checkpoint(log: &KeyPair, n: u64, seed: u8) -> (String, Vec<Hash>) {
        let leaves: Vec<Hash> = (0..n).map(|i| [i as u8 + seed; 32]).collect();
        let mut f = Frontier::new();
        leaves.iter().for_each(|l| drop(f.push(*l)));
        let cp = Checkpoint { origin: ORIGIN.into(), size: n, root: f.root() };
        (log.sign_note(&cp.text()).unwrap(), leaves)
    }

    fn proof(leaves: &[Hash], old: u64, new: u64) -> Vec<Hash> {
        let mut sub = |lo: u64, hi: u64| -> Result<Hash, std::convert::Infallible> {
            let mut f = Frontier::new();
            leaves[lo as usize..hi as usize].iter().for_each(|l| drop(f.push(*l)));
            Ok(f.root())
        };
        consistency_proof(old, new, &mut sub).unwrap()
    }

    fn body(old: u64, proof: Vec<Hash>, note: &str) -> String {
        AddCheckpoint { old, proof, note: note.to_string() }.encode()
    }

    #[tokio::test]
    async fn the_witness_answers_as_the_spec_prescribes() {
        let tmp = tempfile::tempdir().unwrap();
        let log = KeyPair::generate(ORIGIN).unwrap();
        let dir = WitnessDir::open(tmp.path()).unwrap();
        dir.add_log(ORIGIN, log.vkey()).unwrap();
        let signer = dir.key("w.test/w").unwrap();
        let key = signer.public();
        let w = Witness::new(WitnessDir::open(tmp.path()).unwrap(), signer, dir.logs().unwrap()).unwrap();

        let (note5, leaves) = checkpoint(&log, 5, 0);
        let line = w.add_checkpoint(&body(0, vec![], &note5)).await.unwrap();
        key.check(crate::audit::cosign::note_text(&note5).unwrap(), &line).unwrap();
        // The same checkpoint again is fine; a stale `old` gets 409 with the size held.
        w.add_checkpoint(&body(5, vec![], &note5)).await.unwrap();
        assert!(matches!(w.add_checkpoint(&body(0, vec![], &note5)).await, Err(Refusal::Conflict(5))));
        // Growth with a valid proof is cosigned; with a proof of another history it is 422.
        let (note8, _) = checkpoint(&log, 8, 0);
        let (forged8, forged) = checkpoint(&log, 8, 100);
        assert!(matches!(
            w.add_checkpoint(&body(5, proof(&forged, 5, 8), &forged8)).await,
            Err(Refusal::BadProof { old: 5, new: 8 })
        ));
        let leaves8: Vec<Hash> = (0..8).map(|i| [i as u8; 32]).collect();
        assert_eq!(&leaves8[..5], &leaves[..]);
        w.add_checkpoint(&body(5, proof(&leaves8, 5, 8), &note8)).await.unwrap();
        // Same size, another root: 409. Another key, another origin, bad shapes: 403, 404, 400.
        assert!(matches!(w.add_checkpoint(&body(8, vec![], &forged8)).await, Err(Refusal::Conflict(8))));
        let stranger = KeyPair::generate(ORIGIN).unwrap();
        let (foreign, _) = checkpoint(&stranger, 9, 0);
        assert!(matches!(w.add_checkpoint(&body(8, vec![], &foreign)).await, Err(Refusal::NotSigned(_))));
        let other = KeyPair::generate("other.test/log").unwrap();
        let cp = Checkpoint { origin: "other.test/log".into(), size: 1, root: [0; 32] };
        let unknown = other.sign_note(&cp.text()).unwrap();
        assert!(matches!(w.add_checkpoint(&body(0, vec![], &unknown)).await, Err(Refusal::UnknownLog(_))));
        assert!(matches!(w.add_checkpoint(&body(9, vec![], &note8)).await, Err(Refusal::Malformed(_))));
        assert!(matches!(w.add_checkpoint("garbage").await, Err(Refusal::Malformed(_))));
        // The state is durable: a restarted witness holds size 8.
        let again =
            Witness::new(WitnessDir::open(tmp.path()).unwrap(), dir.key("w.test/w").unwrap(), dir.logs().unwrap());
        assert!(matches!(again.unwrap().add_checkpoint(&body(5, vec![], &note8)).await, Err(Refusal::Conflict(8))));
        assert_eq!(Refusal::Conflict(8).into_response().status(), StatusCode::CONFLICT);
        assert_eq!(Refusal::BadProof { old: 1, new: 2 }.into_response().status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
