//! Writing self-contained export bundles and inclusion proofs, which an auditor checks offline with
//! `verify-log` ([`auditlog::bundle`] holds the format and the check).
//!
//! A bundle directory holds `manifest.json`, `entries.jsonl` (the exact entry bytes, one per
//! line), `proofs.jsonl` (one RFC 9162 inclusion proof per entry against the bundled checkpoint),
//! `checkpoint.txt` (a signed checkpoint covering every bundled entry) and `signing.pub` (the key
//! that signed it). See docs/audit-format.md.

pub use auditlog::bundle::{verify_bundle, ConsistencyProof, InclusionProof, Manifest, FORMAT};

use super::merkle::{consistency_proof, inclusion_proof, leaf_hash, Hash};
use super::note::Checkpoint;
use super::store::{LogStore, StoreError, StoredCheckpoint};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::path::Path;

/// Bundle and proof problems that are not integrity failures (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
    /// The entry exists but no checkpoint covers it yet (or it does not exist).
    #[error("{0}")]
    NotCovered(String),
    /// The log failed the writer's check before signing: nothing was signed.
    #[error("{0}")]
    Integrity(String),
}

impl From<super::AuditError> for BundleError {
    fn from(e: super::AuditError) -> Self {
        match e {
            super::AuditError::Integrity { .. } => BundleError::Integrity(e.to_string()),
            other => BundleError::Invalid(other.to_string()),
        }
    }
}

/// `auditgate audit prove` output: the proof plus everything needed to check it.
#[derive(Debug, Clone, Serialize)]
pub struct ProofReceipt {
    #[serde(flatten)]
    pub proof: InclusionProof,
    /// Base64 root from the checkpoint.
    pub root_hash: String,
    pub checkpoint: String,
    pub public_key: String,
    /// The entry's exact bytes (UTF-8 JSON) whose leaf hash is proven.
    pub entry_bytes: String,
}

fn latest_covering(store: &dyn LogStore, seq: u64) -> Result<StoredCheckpoint, BundleError> {
    let size = store.size()?;
    if seq >= size {
        return Err(BundleError::NotCovered(format!("entry {seq} does not exist (the log has {size} entries)")));
    }
    store.checkpoints()?.pop().filter(|c| c.size > seq).ok_or_else(|| {
        BundleError::NotCovered(format!(
            "entry {seq} is not covered by a checkpoint yet; try again after the next checkpoint"
        ))
    })
}

fn prove_one(store: &dyn LogStore, seq: u64, size: u64, leaf: &Hash) -> Result<InclusionProof, BundleError> {
    let proof = inclusion_proof(seq, size, &mut |lo, hi| store.subtree_hash(lo, hi))?;
    Ok(InclusionProof {
        entry: seq,
        tree_size: size,
        leaf_hash: hex::encode(leaf),
        inclusion_proof: proof.iter().map(hex::encode).collect(),
    })
}

/// Inclusion proof of entry `seq` against the latest checkpoint.
pub fn prove(store: &dyn LogStore, public_key: &str, seq: u64) -> Result<ProofReceipt, BundleError> {
    let cp = latest_covering(store, seq)?;
    let entry = store
        .read_range(seq, seq + 1)?
        .pop()
        .ok_or_else(|| BundleError::NotCovered(format!("entry {seq} not found")))?;
    let leaf = leaf_hash(&entry.bytes);
    Ok(ProofReceipt {
        proof: prove_one(store, seq, cp.size, &leaf)?,
        root_hash: B64.encode(cp.root),
        checkpoint: cp.note,
        public_key: public_key.to_string(),
        entry_bytes: String::from_utf8_lossy(&entry.bytes).into_owned(),
    })
}

/// RFC 9162 consistency proof from `old_size` to the latest checkpoint.
pub fn prove_consistency(store: &dyn LogStore, old_size: u64) -> Result<ConsistencyProof, BundleError> {
    let cp = store
        .checkpoints()?
        .pop()
        .filter(|c| c.size >= old_size && old_size > 0)
        .ok_or_else(|| BundleError::NotCovered(format!("no checkpoint covers tree size {old_size}")))?;
    let proof = consistency_proof(old_size, cp.size, &mut |lo, hi| store.subtree_hash(lo, hi))?;
    let old_root = store.subtree_hash(0, old_size)?;
    Ok(ConsistencyProof {
        old_size,
        new_size: cp.size,
        old_root_hash: B64.encode(old_root),
        new_root_hash: B64.encode(cp.root),
        consistency_proof: proof.iter().map(hex::encode).collect(),
        checkpoint: cp.note,
    })
}

/// Write a bundle of entries `from..=to` into `out` (created; must be empty or absent).
pub fn export(store: &dyn LogStore, public_key: &str, from: u64, to: u64, out: &Path) -> Result<u64, BundleError> {
    if from > to {
        return Err(BundleError::Invalid(format!("--from {from} is after --to {to}")));
    }
    let cp = latest_covering(store, to)?;
    let origin = Checkpoint::parse_note(&cp.note).map_err(|e| BundleError::Invalid(e.to_string()))?.origin;
    fs::create_dir_all(out)?;
    if fs::read_dir(out)?.next().is_some() {
        return Err(BundleError::Invalid(format!("{} is not empty", out.display())));
    }
    let mut entries = fs::File::create(out.join("entries.jsonl"))?;
    let mut proofs = fs::File::create(out.join("proofs.jsonl"))?;
    let mut start = from;
    while start <= to {
        let end = (start + 10_000).min(to + 1);
        for e in store.read_range(start, end)? {
            entries.write_all(&e.bytes)?;
            entries.write_all(b"\n")?;
            let proof = prove_one(store, e.seq, cp.size, &leaf_hash(&e.bytes))?;
            serde_json::to_writer(&mut proofs, &proof).map_err(|e| BundleError::Invalid(e.to_string()))?;
            proofs.write_all(b"\n")?;
        }
        start = end;
    }
    let manifest = Manifest { format: FORMAT.into(), origin, from, to, tree_size: cp.size };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| BundleError::Invalid(e.to_string()))?;
    fs::write(out.join("manifest.json"), text + "\n")?;
    fs::write(out.join("checkpoint.txt"), &cp.note)?;
    fs::write(out.join("signing.pub"), format!("{public_key}\n"))?;
    entries.sync_all()?;
    proofs.sync_all()?;
    Ok(to - from + 1)
}
