//! The verifier shared by the `verify-log` binary and the library. It trusts nothing but the public
//! key it is given: it recomputes every leaf hash from the stored bytes, checks every chain link,
//! sequence number and time, rebuilds the Merkle tree to check every checkpoint's root and
//! signature, follows key rotations, checks an externally saved checkpoint (`--checkpoint`) and
//! reports the unsigned tail and erased bodies.
//!
//! Entries are streamed through [`Verifier::push`]; the first failure stops the stream, and the
//! reported failure is the one with the lowest sequence number.

use super::entry::{decode, EntryView};
use super::merkle::{empty_root, leaf_hash, Frontier, Hash};
use super::note::{verify_rotation, Checkpoint, PublicKey};
use super::record::{Record, SystemRecord};
use super::store::BodyRow;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The first integrity failure: the entry it names and why, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub seq: u64,
    pub reason: String,
}

/// A body that was erased (GDPR); the chain still verifies.
#[derive(Debug, Clone, Serialize)]
pub struct ErasedBody {
    pub seq: u64,
    pub role: String,
    pub erased_at: Option<String>,
}

/// What the verifier found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub entries: u64,
    /// Base64 Merkle root of the entries verified (up to the first failure).
    pub root_hash: String,
    pub origin: Option<String>,
    pub checkpoints_verified: u64,
    /// Largest tree size covered by a valid checkpoint signed by a trusted key.
    pub signed_size: u64,
    /// Entries after the last trusted checkpoint: intact but not yet signed.
    pub unsigned_tail: u64,
    /// Tree size of the `--checkpoint` the log was checked to extend.
    pub consistent_with_checkpoint: Option<u64>,
    pub keys: Vec<String>,
    pub bodies_checked: u64,
    pub erased_bodies: Vec<ErasedBody>,
    pub failure: Option<Failure>,
}

/// A checkpoint note offered for verification and where it came from.
#[derive(Debug, Clone)]
pub struct Claim {
    /// `log.db`, `checkpoints.log`, `bundle`...
    pub source: String,
    pub note: String,
    /// The size the storage row says the note is for, if the source records one.
    pub stated_size: Option<u64>,
}

struct ParsedClaim {
    source: String,
    note: String,
    cp: Checkpoint,
}

/// Streaming verifier state.
pub struct Verifier {
    trusted: PublicKey,
    /// Keys in the log's history, in order; `trusted_from` marks those endorsed by the trusted key.
    keys: Vec<PublicKey>,
    trusted_from: Option<usize>,
    origin: Option<String>,
    claims: BTreeMap<u64, Vec<ParsedClaim>>,
    anchor: Option<ParsedClaim>,
    frontier: Frontier,
    prev: Hash,
    last_time: String,
    verified: u64,
    signed_size: u64,
    anchor_ok: Option<u64>,
    failure: Option<Failure>,
    stopped: bool,
}

impl Verifier {
    /// `claims`: every stored checkpoint; `anchor`: a checkpoint saved earlier that the log must
    /// extend. A malformed anchor is the caller's error, returned as `Err`.
    pub fn new(trusted: PublicKey, claims: Vec<Claim>, anchor: Option<&str>) -> Result<Verifier, String> {
        let anchor = match anchor {
            Some(note) => Some(ParsedClaim {
                source: "--checkpoint".into(),
                note: note.to_string(),
                cp: Checkpoint::parse_note(note)
                    .map_err(|e| format!("the --checkpoint file is not a checkpoint note: {e}"))?,
            }),
            None => None,
        };
        let mut v = Verifier {
            trusted,
            keys: Vec::new(),
            trusted_from: None,
            origin: None,
            claims: BTreeMap::new(),
            anchor,
            frontier: Frontier::new(),
            prev: [0; 32],
            last_time: String::new(),
            verified: 0,
            signed_size: 0,
            anchor_ok: None,
            failure: None,
            stopped: false,
        };
        for claim in claims {
            v.add_claim(claim);
        }
        Ok(v)
    }

    fn add_claim(&mut self, claim: Claim) {
        match Checkpoint::parse_note(&claim.note) {
            Ok(cp) => {
                if let Some(stated) = claim.stated_size.filter(|s| *s != cp.size) {
                    let seq = stated.min(cp.size).saturating_sub(1);
                    self.fail(
                        seq,
                        format!(
                            "the checkpoint stored for tree size {stated} in {} is a note for tree size {}",
                            claim.source, cp.size
                        ),
                    );
                }
                let size = cp.size;
                self.claims.entry(size).or_default().push(ParsedClaim { source: claim.source, note: claim.note, cp });
            }
            Err(e) => {
                let seq = claim.stated_size.unwrap_or(1).saturating_sub(1);
                self.fail(seq, format!("a checkpoint in {} is malformed: {e}", claim.source));
            }
        }
    }

    /// Record a failure, keeping the one with the lowest sequence number.
    fn fail(&mut self, seq: u64, reason: String) {
        if self.failure.as_ref().is_none_or(|f| seq < f.seq) {
            self.failure = Some(Failure { seq, reason });
        }
    }

    fn stop(&mut self, seq: u64, reason: String) -> bool {
        self.fail(seq, reason);
        self.stopped = true;
        false
    }

    /// Number of entries verified so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Check the next stored row: its position `row_seq`, the leaf hash recorded when it was
    /// written (if the store keeps one) and its bytes. Returns false once verification must stop.
    pub fn push(&mut self, row_seq: u64, recorded_hash: Option<&[u8]>, bytes: &[u8]) -> bool {
        if self.stopped {
            return false;
        }
        let i = self.frontier.size();
        if row_seq != i {
            let reason = match i.checked_sub(1) {
                _ if row_seq < i => format!("entry {row_seq} appears again after entry {}", i - 1),
                None => format!("entry 0 is missing: the log starts at entry {row_seq}"),
                Some(last) => format!("entry {i} is missing: the log jumps from entry {last} to entry {row_seq}"),
            };
            return self.stop(i.min(row_seq), reason);
        }
        let hash = leaf_hash(bytes);
        let view = match decode(bytes) {
            Ok(v) => v,
            Err(e) => return self.stop(i, format!("entry {i} is damaged: {e}")),
        };
        if let Err(reason) = self.check_entry(i, hash, recorded_hash, &view) {
            return self.stop(i, reason);
        }
        self.frontier.push(hash);
        self.prev = hash;
        self.last_time = view.time.to_string();
        self.check_claims_at(i + 1);
        !self.stopped
    }

    fn check_entry(&mut self, i: u64, hash: Hash, recorded: Option<&[u8]>, view: &EntryView) -> Result<(), String> {
        if view.seq != i {
            return Err(format!("entry {i} is out of place: the entry stored at position {i} says it is entry {} (rows moved or swapped)", view.seq));
        }
        if recorded.is_some_and(|r| r != hash) {
            return Err(format!(
                "entry {i} was altered after it was written: its bytes no longer match the hash recorded for it"
            ));
        }
        let prev = view.prev_hash().map_err(|e| format!("entry {i} is damaged: {e}"))?;
        if prev != self.prev {
            return Err(if i == 0 {
                "entry 0 must name an all-zero previous hash".to_string()
            } else {
                format!("entry {i} does not link to entry {}: it names a different previous hash (inserted, replaced or spliced from another log)", i - 1)
            });
        }
        if view.time < self.last_time.as_str() {
            return Err(format!(
                "entry {i} is dated {} which is before entry {} ({})",
                view.time,
                i - 1,
                self.last_time
            ));
        }
        match (i == 0, view.kind) {
            (true, "genesis") | (false, "key_rotated") => self.key_entry(i, view),
            (true, _) => Err("entry 0 is not a genesis entry".to_string()),
            (false, "genesis") => Err(format!("entry {i} is a second genesis entry")),
            _ => Ok(()),
        }
    }

    /// Follow the key history: genesis names the first key, rotations are signed by the old key.
    fn key_entry(&mut self, i: u64, view: &EntryView) -> Result<(), String> {
        let record = view.record().map_err(|e| format!("entry {i} is damaged: {e}"))?;
        let new_key = match record {
            Record::System(SystemRecord::Genesis { origin, public_key }) => {
                self.origin = Some(origin);
                public_key
            }
            Record::System(SystemRecord::KeyRotated { old_public_key, new_public_key, signature_by_old }) => {
                let current =
                    self.keys.last().ok_or_else(|| format!("entry {i} rotates a key before any key exists"))?;
                if current.vkey() != old_public_key {
                    return Err(format!("entry {i} rotates away from a key that is not the one in force"));
                }
                verify_rotation(current, &new_public_key, &signature_by_old)
                    .map_err(|_| format!("entry {i}: the key rotation is not signed by the old key"))?;
                new_public_key
            }
            _ => return Err(format!("entry {i} is damaged: its payload does not match its kind")),
        };
        let key = PublicKey::parse(&new_key).map_err(|e| format!("entry {i} names an unusable key: {e}"))?;
        if self.trusted_from.is_none() && key == self.trusted {
            self.trusted_from = Some(self.keys.len());
        }
        self.keys.push(key);
        Ok(())
    }

    /// Verify every checkpoint for tree size `size` now that its root is known.
    fn check_claims_at(&mut self, size: u64) {
        let root = self.frontier.root();
        if let Some(claims) = self.claims.remove(&size) {
            for c in claims {
                self.check_claim(&c, &root);
            }
        }
        if let Some(anchor) = self.anchor.take() {
            if anchor.cp.size == size {
                self.check_claim(&anchor, &root);
            } else {
                self.anchor = Some(anchor);
            }
        }
    }

    fn check_claim(&mut self, c: &ParsedClaim, root: &Hash) {
        let size = c.cp.size;
        let seq = size.saturating_sub(1);
        let what = if c.source == "--checkpoint" {
            "the checkpoint you gave".to_string()
        } else {
            format!("the checkpoint for tree size {size} in {}", c.source)
        };
        if self.origin.as_deref().is_some_and(|o| o != c.cp.origin) {
            return self.fail(seq, format!("{what} is for origin {:?}, not this log's origin", c.cp.origin));
        }
        let Some(key_index) = self.keys.len().checked_sub(1) else {
            return self.fail(seq, format!("{what} comes before any key was named"));
        };
        let key = &self.keys[key_index];
        if key.open_note(&c.note).is_err() {
            let id = key.key_id().to_string();
            return self.fail(
                seq,
                format!("{what} is not signed by the log's key {id} in force at that size (forged or re-signed)"),
            );
        }
        if &c.cp.root != root {
            let reason = if c.source == "--checkpoint" {
                format!("the log does not extend the checkpoint you gave: its first {size} entries hash to a different root (history rewritten or forked)")
            } else {
                format!("{what} signs a root that entries 0..{seq} do not hash to")
            };
            return self.fail(seq, reason);
        }
        if c.source == "--checkpoint" {
            self.anchor_ok = Some(size);
        } else {
            self.verified += 1;
        }
        if self.trusted_from.is_some_and(|t| key_index >= t) {
            self.signed_size = self.signed_size.max(size);
        }
    }

    /// Finish: checkpoints beyond the end (truncation), trust in the key, bodies.
    pub fn finish(mut self, bodies: &[BodyRow]) -> Report {
        let n = self.frontier.size();
        if !self.stopped {
            self.check_beyond_end(n);
            if n > 0 && self.trusted_from.is_none() {
                let keys: Vec<&str> = self.keys.iter().map(|k| k.key_id()).collect();
                self.fail(
                    0,
                    format!(
                        "the public key given ({}) never signed this log (its keys: {})",
                        self.trusted.key_id(),
                        keys.join(", ")
                    ),
                );
            }
        }
        let (checked, erased) = self.check_bodies(bodies, n);
        Report {
            ok: self.failure.is_none(),
            entries: n,
            root_hash: B64.encode(if n == 0 { empty_root() } else { self.frontier.root() }),
            origin: self.origin.clone(),
            checkpoints_verified: self.verified,
            signed_size: self.signed_size,
            unsigned_tail: n.saturating_sub(self.signed_size),
            consistent_with_checkpoint: self.anchor_ok,
            keys: self.keys.iter().map(|k| k.vkey().to_string()).collect(),
            bodies_checked: checked,
            erased_bodies: erased,
            failure: self.failure,
        }
    }

    fn check_beyond_end(&mut self, n: u64) {
        let beyond: Vec<ParsedClaim> = std::mem::take(&mut self.claims).into_values().flatten().collect();
        let anchor = self.anchor.take();
        for c in beyond.iter().chain(anchor.iter()) {
            let what = if c.source == "--checkpoint" {
                "the checkpoint you gave".to_string()
            } else {
                format!("a checkpoint in {}", c.source)
            };
            let signed = self.keys.last().is_some_and(|k| k.open_note(&c.note).is_ok());
            if !signed {
                self.fail(
                    n.min(c.cp.size.saturating_sub(1)),
                    format!("{what} for tree size {} is not signed by the log's key", c.cp.size),
                );
            } else {
                self.fail(n, format!("the log has {n} entries but {what} covers {}: entries {n} to {} are missing (truncated or rolled back)", c.cp.size, c.cp.size - 1));
            }
        }
    }

    fn check_bodies(&mut self, bodies: &[BodyRow], n: u64) -> (u64, Vec<ErasedBody>) {
        let mut checked = 0;
        let mut erased = Vec::new();
        for b in bodies {
            if b.seq >= n {
                continue;
            }
            match &b.body {
                None => erased.push(ErasedBody { seq: b.seq, role: b.role.clone(), erased_at: b.erased_at.clone() }),
                Some(bytes) => {
                    checked += 1;
                    if hex::encode(Sha256::digest(bytes)) != b.sha256 {
                        self.fail(b.seq, format!("the stored {} body of entry {} was altered", b.role, b.seq));
                    }
                }
            }
        }
        (checked, erased)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::entry::encode;
    use crate::audit::note::{sign_rotation, KeyPair};
    use crate::audit::record::RequestRecord;

    const T0: &str = "2026-01-01T00:00:00.000000Z";
    const T1: &str = "2026-01-01T00:00:01.000000Z";

    /// Encode records as a chain with the given times; returns rows and the final root.
    fn chain(records: &[(Record, &str)]) -> (Vec<Vec<u8>>, Hash) {
        let mut prev = [0u8; 32];
        let mut f = Frontier::new();
        let rows = records
            .iter()
            .enumerate()
            .map(|(i, (r, t))| {
                let bytes = encode(i as u64, t, &prev, r).unwrap();
                prev = leaf_hash(&bytes);
                f.push(prev);
                bytes
            })
            .collect();
        (rows, f.root())
    }

    fn genesis(key: &KeyPair) -> Record {
        Record::System(SystemRecord::Genesis { origin: "o".into(), public_key: key.vkey().into() })
    }

    fn request() -> Record {
        Record::Request(RequestRecord::default())
    }

    fn run(key: &KeyPair, rows: &[Vec<u8>], claims: Vec<Claim>) -> Report {
        let mut v = Verifier::new(PublicKey::parse(key.vkey()).unwrap(), claims, None).unwrap();
        for (i, r) in rows.iter().enumerate() {
            if !v.push(i as u64, None, r) {
                break;
            }
        }
        v.finish(&[])
    }

    fn claim(key: &KeyPair, size: u64, root: Hash) -> Claim {
        let note = key.sign_note(&Checkpoint { origin: "o".into(), size, root }.text()).unwrap();
        Claim { source: "test".into(), note, stated_size: Some(size) }
    }

    #[test]
    fn signed_chain_verifies_with_no_tail() {
        let key = KeyPair::generate("o").unwrap();
        let (rows, root) = chain(&[(genesis(&key), T0), (request(), T1)]);
        let report = run(&key, &rows, vec![claim(&key, 2, root)]);
        assert!(report.ok, "{:?}", report.failure);
        assert_eq!((report.signed_size, report.unsigned_tail), (2, 0));
    }

    #[test]
    fn time_going_backwards_is_named() {
        let key = KeyPair::generate("o").unwrap();
        let (rows, _) = chain(&[(genesis(&key), T1), (request(), T1), (request(), T0)]);
        let report = run(&key, &rows, vec![]);
        assert_eq!(report.failure.map(|f| f.seq), Some(2));
    }

    #[test]
    fn second_genesis_is_rejected() {
        let key = KeyPair::generate("o").unwrap();
        let (rows, _) = chain(&[(genesis(&key), T0), (genesis(&key), T0)]);
        assert_eq!(run(&key, &rows, vec![]).failure.map(|f| f.seq), Some(1));
    }

    #[test]
    fn rotation_needs_the_old_keys_signature() {
        let old = KeyPair::generate("o").unwrap();
        let new = KeyPair::generate("o").unwrap();
        let thief = KeyPair::generate("o").unwrap();
        let rotate = |by: &KeyPair| {
            Record::System(SystemRecord::KeyRotated {
                old_public_key: old.vkey().into(),
                new_public_key: new.vkey().into(),
                signature_by_old: sign_rotation(by, new.vkey()).unwrap(),
            })
        };
        let (rows, root) = chain(&[(genesis(&old), T0), (rotate(&old), T0)]);
        let report = run(&new, &rows, vec![claim(&new, 2, root)]);
        assert!(report.ok, "{:?}", report.failure);
        assert_eq!(report.keys.len(), 2);
        let (rows, _) = chain(&[(genesis(&old), T0), (rotate(&thief), T0)]);
        assert_eq!(run(&old, &rows, vec![]).failure.map(|f| f.seq), Some(1));
    }

    #[test]
    fn checkpoint_signed_by_the_old_key_after_rotation_fails() {
        let old = KeyPair::generate("o").unwrap();
        let new = KeyPair::generate("o").unwrap();
        let rotation = Record::System(SystemRecord::KeyRotated {
            old_public_key: old.vkey().into(),
            new_public_key: new.vkey().into(),
            signature_by_old: sign_rotation(&old, new.vkey()).unwrap(),
        });
        let (rows, root) = chain(&[(genesis(&old), T0), (rotation, T0)]);
        let report = run(&old, &rows, vec![claim(&old, 2, root)]);
        assert_eq!(report.failure.map(|f| f.seq), Some(1));
    }
}
