//! Witnesses (C2SP `tlog-witness`): the `add-checkpoint` request body, and how a verifier weighs
//! the cosignatures stored with a log's checkpoints against the witness keys an auditor pinned.
//!
//! Request body: `old <size>\n`, up to 63 lines of one base64 hash each (an RFC 6962 consistency
//! proof from the old size to the checkpoint's), an empty line, then the signed checkpoint note.
//! Answers: 200 with cosignature lines; 409 with `text/x.tlog.size` and the witness's size when
//! `old` is not the size it last cosigned (or the same size with another root); 422 when the
//! proof fails; 404 for an unknown origin; 403 when no signature is by the log's key; 400 when
//! the body is malformed.

use crate::cosign::{note_text, CosignError, WitnessKey};
use crate::db::{StoredCheckpoint, StoredCosignature};
use crate::merkle::Hash;
use crate::verify::{Broken, Failure};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;
/// The content type of a 409 answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// A malformed `add-checkpoint` body (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed add-checkpoint request: {0}")]
pub struct MalformedRequest(pub String);

/// One `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the client believes the witness last cosigned (0: none).
    pub old: u64,
    /// Consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub note: String,
}

impl AddCheckpoint {
    /// The request body.
    pub fn encode(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for h in &self.proof {
            body.push_str(&B64.encode(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }

    /// Parse a request body.
    pub fn parse(body: &str) -> Result<AddCheckpoint, MalformedRequest> {
        let bad = |why: &str| MalformedRequest(why.to_string());
        let (head, note) = body.split_once("\n\n").ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (*n == "0" || !n.starts_with('0')))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("the first line is not `old <size>`"))?;
        let proof = lines
            .map(|l| B64.decode(l).ok().and_then(|h| Hash::try_from(h).ok()))
            .collect::<Option<Vec<Hash>>>()
            .ok_or_else(|| bad("a proof line is not the base64 of a 32-byte hash"))?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(bad("more than 63 proof lines"));
        }
        Ok(AddCheckpoint { old, proof, note: note.to_string() })
    }
}

/// The witness keys an auditor pinned and how many of them must have cosigned.
#[derive(Debug, Clone)]
pub struct WitnessPolicy {
    pub keys: Vec<WitnessKey>,
    pub quorum: usize,
}

/// The newest valid cosignature of one pinned witness.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cosigned {
    pub witness: String,
    pub tree_size: u64,
    /// The witness's timestamp (POSIX seconds): by then it had seen this tree.
    pub time: u64,
}

/// What the cosignatures show.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WitnessSummary {
    pub quorum: usize,
    pub keys: Vec<String>,
    /// Largest checkpoint size cosigned by at least `quorum` pinned witnesses (0: none).
    pub witnessed_size: u64,
    pub cosignatures_verified: u64,
    pub latest: Vec<Cosigned>,
}

/// Weigh the stored cosignatures: each must be a valid cosignature, by a pinned witness, on the
/// stored checkpoint of its size (already verified by the log's key). A cosignature of a pinned
/// witness that does not verify fails the log: the checkpoint it names was signed again after the
/// witness cosigned it (a rewritten history), or the row was altered.
pub fn assess(
    policy: &WitnessPolicy,
    checkpoints: &[StoredCheckpoint],
    cosignatures: &[StoredCosignature],
) -> Result<WitnessSummary, Failure> {
    let by_size: BTreeMap<u64, &StoredCheckpoint> = checkpoints.iter().map(|c| (c.size, c)).collect();
    let mut witnesses_at: BTreeMap<u64, BTreeSet<usize>> = BTreeMap::new();
    let mut latest: BTreeMap<usize, Cosigned> = BTreeMap::new();
    let mut verified = 0;
    for row in cosignatures {
        let Some(k) = policy.keys.iter().position(|k| k.vkey() == row.witness) else { continue };
        let Some(text) = by_size.get(&row.size).and_then(|c| note_text(&c.note)) else { continue };
        let key = &policy.keys[k];
        match key.check(text, &row.line) {
            Ok(time) => {
                verified += 1;
                witnesses_at.entry(row.size).or_default().insert(k);
                let newer = latest.get(&k).is_none_or(|c| c.tree_size <= row.size);
                if newer {
                    latest.insert(k, Cosigned { witness: key.vkey().to_string(), tree_size: row.size, time });
                }
            }
            Err(e @ (CosignError::BadSignature(_) | CosignError::OtherKey(_) | CosignError::Malformed(_))) => {
                let (witness, size, detail) = (key.name().to_string(), row.size, e.to_string());
                return Err(Failure::new(size.saturating_sub(1), Broken::Cosignature { witness, size, detail }));
            }
            Err(CosignError::BadKey(_)) => continue,
        }
    }
    let witnessed_size = witnesses_at.iter().rev().find(|(_, w)| w.len() >= policy.quorum).map_or(0, |(size, _)| *size);
    Ok(WitnessSummary {
        quorum: policy.quorum,
        keys: policy.keys.iter().map(|k| k.vkey().to_string()).collect(),
        witnessed_size,
        cosignatures_verified: verified,
        latest: latest.into_values().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies_round_trip_and_reject_bad_shapes() {
        let req =
            AddCheckpoint { old: 20, proof: vec![[1; 32], [2; 32]], note: "o\n25\nroot\n\n\u{2014} o sig\n".into() };
        let body = req.encode();
        assert!(body.starts_with("old 20\nAQEB"));
        assert_eq!(AddCheckpoint::parse(&body), Ok(req));
        for bad in ["old 01\n\nx", "old -1\n\nx", "old 5\nnot-base64\n\nx", "old 5\nx", "new 5\n\nx"] {
            assert!(AddCheckpoint::parse(bad).is_err(), "{bad:?}");
        }
        let many = format!("old 1\n{}\nnote", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n".repeat(64));
        assert!(AddCheckpoint::parse(&many).is_err());
    }
}
