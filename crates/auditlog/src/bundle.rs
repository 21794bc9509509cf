//! Export bundles and inclusion proofs an auditor checks offline: the format and its check (the
//! gateway writes them).
//!
//! A bundle directory holds `manifest.json`, `entries.jsonl` (the exact entry bytes, one per
//! line), `proofs.jsonl` (one RFC 9162 inclusion proof per entry against the bundled checkpoint),
//! `checkpoint.txt` (a signed checkpoint covering every bundled entry) and `signing.pub` (the key
//! that signed it). See docs/audit-format.md.

use crate::entry::decode;
use crate::merkle::{leaf_hash, verify_inclusion, Hash};
use crate::note::{Checkpoint, PublicKey};
use crate::verify::{Broken, Failure, Report, Trust, Verdict};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::Path;

/// A bundle that cannot be read (exit 2; a bundle that reads but does not check out is a report).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

/// An inclusion proof as printed by `auditgate audit prove` and stored in `proofs.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InclusionProof {
    pub entry: u64,
    pub tree_size: u64,
    /// Hex SHA-256(0x00 || entry bytes).
    pub leaf_hash: String,
    /// Hex node hashes, leaf to root, in RFC 9162 PATH order.
    pub inclusion_proof: Vec<String>,
}

/// `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub origin: String,
    pub from: u64,
    pub to: u64,
    pub tree_size: u64,
}

/// The `format` of the bundles this crate reads.
pub const FORMAT: &str = "auditgate-bundle/1";

/// A consistency proof between an older tree size and the latest checkpoint (for witnesses and
/// auditors holding an older checkpoint).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    /// Base64 root of the old size, as the old checkpoint states it.
    pub old_root_hash: String,
    /// Base64 root of the latest checkpoint.
    pub new_root_hash: String,
    /// Hex node hashes in RFC 9162 PROOF order.
    pub consistency_proof: Vec<String>,
    pub checkpoint: String,
}

/// Verify a bundle offline against `trust`: a pinned key or fingerprint, or the bundle's own
/// `signing.pub` (which can only give "not attested").
pub fn verify_bundle(dir: &Path, trust: &Trust) -> Result<Report, BundleError> {
    let manifest: Manifest = serde_json::from_str(&fs::read_to_string(dir.join("manifest.json"))?)
        .map_err(|e| BundleError::Invalid(format!("manifest.json: {e}")))?;
    // The manifest is untrusted input: its range must make sense before any arithmetic on it.
    if manifest.from > manifest.to || manifest.to >= manifest.tree_size {
        return Err(BundleError::Invalid(format!(
            "manifest.json: range {}..={} does not fit tree size {}",
            manifest.from, manifest.to, manifest.tree_size
        )));
    }
    if manifest.format != FORMAT {
        return Err(BundleError::Invalid(format!("unknown bundle format {:?}", manifest.format)));
    }
    let key = match trust {
        Trust::Pinned(k) | Trust::Beside(k) => k.clone(),
        Trust::Fingerprint(_) => PublicKey::parse(&fs::read_to_string(dir.join("signing.pub"))?)
            .map_err(|e| BundleError::Invalid(format!("signing.pub: {e}")))?,
    };
    let note = fs::read_to_string(dir.join("checkpoint.txt"))?;
    let cp = Checkpoint::parse_note(&note).map_err(|e| BundleError::Invalid(format!("checkpoint.txt: {e}")))?;
    let entries = fs::read_to_string(dir.join("entries.jsonl"))?;
    let proofs = fs::read_to_string(dir.join("proofs.jsonl"))?;
    let mut report = Report {
        ok: false,
        verdict: Verdict::IntegrityFailure,
        intact: false,
        key_pinned: trust.pinned(),
        key_fingerprint: trust.fingerprint(),
        not_attested: Vec::new(),
        entries: 0,
        root_hash: B64.encode(cp.root),
        origin: Some(cp.origin.clone()),
        checkpoints_verified: 0,
        signed_size: 0,
        unsigned_tail: 0,
        consistent_with_checkpoint: None,
        keys: vec![key.vkey().to_string()],
        bodies_checked: 0,
        erased_bodies: Vec::new(),
        witnesses: None,
        timestamps: None,
        failure: None,
    };
    let seq = cp.size.saturating_sub(1);
    if matches!(trust, Trust::Fingerprint(fp) if *fp != key.fingerprint()) {
        let (fingerprint, pinned) = (key.fingerprint(), trust.fingerprint());
        report.failure = Some(Failure::new(seq, Broken::BundleKeyNotPinned { fingerprint, pinned }));
    } else if key.open_note(&note).is_err() || cp.origin != manifest.origin {
        let key_id = key.key_id().to_string();
        report.failure = Some(Failure::new(seq, Broken::BundleUnsigned { key_id }));
    } else {
        report.checkpoints_verified = 1;
        report.signed_size = cp.size;
        report.failure = check_bundle_entries(&manifest, &cp, &entries, &proofs, &mut report.entries);
    }
    // The bundle covers its entries only: they are all under the checkpoint, or it failed.
    report.conclude();
    Ok(report)
}

fn check_bundle_entries(
    m: &Manifest,
    cp: &Checkpoint,
    entries: &str,
    proofs: &str,
    count: &mut u64,
) -> Option<Failure> {
    let fail = |seq: u64, kind: Broken| Some(Failure { seq, kind });
    let mut proofs = proofs.lines();
    let mut prev: Option<Hash> = None;
    let mut last_time = String::new();
    for (k, line) in entries.lines().enumerate() {
        let seq = m.from + k as u64;
        let bytes = line.as_bytes();
        let hash = leaf_hash(bytes);
        let view = match decode(bytes) {
            Ok(v) => v,
            Err(e) => return fail(seq, Broken::Damaged { detail: e.to_string() }),
        };
        if view.seq != seq {
            return fail(seq, Broken::OutOfPlace { says: view.seq });
        }
        if prev.is_some_and(|p| view.prev_hash().ok() != Some(p)) {
            return fail(seq, Broken::Unlinked);
        }
        if view.time < last_time.as_str() {
            let (time, previous) = (view.time.to_string(), last_time);
            return fail(seq, Broken::TimeReversed { time, previous });
        }
        let proof: Option<InclusionProof> = proofs.next().and_then(|p| serde_json::from_str(p).ok());
        let Some(proof) = proof.filter(|p| p.entry == seq && p.tree_size == cp.size) else {
            return fail(seq, Broken::NoInclusionProof { size: cp.size });
        };
        let path: Option<Vec<Hash>> =
            proof.inclusion_proof.iter().map(|h| hex::decode(h).ok().and_then(|v| v.try_into().ok())).collect();
        let included = path.is_some_and(|p| verify_inclusion(seq, cp.size, &hash, &p, &cp.root).is_ok());
        if !included {
            return fail(seq, Broken::NotIncluded);
        }
        prev = Some(hash);
        last_time = view.time.to_string();
        *count += 1;
    }
    let expected = m.to - m.from + 1;
    if *count != expected {
        return fail(m.from + *count, Broken::BundleCount { expected, holds: *count });
    }
    None
}
