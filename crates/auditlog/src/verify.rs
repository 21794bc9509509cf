//! The verifier shared by the `verify-log` binary and the library. It trusts nothing but the key
//! it is given: it recomputes every leaf hash from the stored bytes ([`super::chain`]), checks every
//! chain link, sequence number, time and stored column, rebuilds the Merkle tree to check every
//! checkpoint's root and signature and every stored tree hash, follows key rotations, checks an
//! externally saved checkpoint (`--checkpoint`) and reports the unsigned tail and erased bodies.
//!
//! The verdict has three values (docs/audit-format.md 9): attested (intact, and every entry is
//! covered by checkpoints signed by a key the auditor pinned), integrity failure, and intact but not
//! attested (the key was only found beside the log, or entries after the last checkpoint are not
//! yet signed). Entries are streamed through [`Verifier::push`]; the first failure stops the
//! stream, and the reported failure is the one with the lowest sequence number.

use super::chain::{check_node, ChainCheck, Row};
use super::db::BodyRow;
use super::entry::EntryView;
use super::failure::BodyProblem;
pub use super::failure::{Broken, Claimed, Failure};
use super::merkle::{empty_root, Hash};
use super::note::{verify_rotation, Checkpoint, PublicKey};
use super::record::{Record, SystemRecord};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A body that was erased (GDPR); the chain still verifies.
#[derive(Debug, Clone, Serialize)]
pub struct ErasedBody {
    pub seq: u64,
    pub role: String,
    pub erased_at: Option<String>,
    /// The `body_erased` entry that recorded it (None for erasures before such entries existed).
    pub erasure_entry: Option<u64>,
    pub reason: Option<String>,
}

/// What the verification concludes; the exit status follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Intact, and every entry is covered by checkpoints signed by a pinned key (exit 0).
    Attested,
    /// An entry, checkpoint, stored column or body does not check out (exit 1).
    IntegrityFailure,
    /// Intact, but either the key was not pinned or some entries are not signed yet (exit 3).
    NotAttested,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Attested => 0,
            Verdict::IntegrityFailure => 1,
            Verdict::NotAttested => 3,
        }
    }
}

/// What the verifier found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True only for [`Verdict::Attested`] (exit 0).
    pub ok: bool,
    pub verdict: Verdict,
    /// No integrity failure (the chain, the tree, the checkpoints and the bodies check out).
    pub intact: bool,
    /// The key the log was checked against was given by the auditor (`--public-key` or
    /// `--key-fingerprint`), not only found beside the log.
    pub key_pinned: bool,
    /// Fingerprint of the key checked against (SHA-256 of the raw public key, hex).
    pub key_fingerprint: String,
    /// Why the log is not attested, in plain words (empty when it is, or when it is not intact).
    pub not_attested: Vec<String>,
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
    /// With `--witness-key`: the pinned witnesses' cosignatures (docs/audit-format.md 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witnesses: Option<crate::witness::WitnessSummary>,
    /// With `--tsa-cert`: the verified RFC 3161 time stamps and the time bounds they prove
    /// (docs/audit-format.md 11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamps: Option<crate::timestamp::TimestampSummary>,
    pub failure: Option<Failure>,
}

impl Report {
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code()
    }

    /// Set `verdict`, `ok`, `intact` and `not_attested` from the other fields.
    pub fn conclude(&mut self) {
        self.intact = self.failure.is_none();
        self.not_attested.clear();
        if !self.key_pinned {
            self.not_attested.push(format!(
                "the signing key was only found beside the log, not pinned: its fingerprint is {}. Compare it with \
                 the fingerprint the log's operator gave you out of band, then pass --key-fingerprint {}",
                self.key_fingerprint, self.key_fingerprint
            ));
        }
        if self.unsigned_tail > 0 {
            let (n, first, last) = (self.unsigned_tail, self.signed_size, self.entries - 1);
            let which = if n == 1 { format!("1 entry ({first})") } else { format!("{n} entries ({first} to {last})") };
            self.not_attested
                .push(format!("entries after tree size {first} are not covered by a signed checkpoint yet: {which}"));
        }
        if let Some(w) = self.witnesses.as_ref().filter(|w| w.witnessed_size < self.entries) {
            self.not_attested.push(format!(
                "the witness quorum ({} of {} pinned witnesses) is not met: checkpoints are cosigned by that many up to \
                 tree size {} only, so the {} entries after it are not witnessed",
                w.quorum,
                w.keys.len(),
                w.witnessed_size,
                self.entries - w.witnessed_size
            ));
        }
        if let Some(t) = self.timestamps.as_ref().filter(|t| t.stamped_size < self.entries) {
            let why = if t.tokens_verified == 0 {
                format!(
                    "no time stamp verifies with the --tsa-cert given ({} stored tokens are by other TSAs)",
                    t.tokens_other
                )
            } else {
                format!("entries from {} on are not time-stamped yet", t.stamped_size)
            };
            self.not_attested.push(format!(
                "{why}: the {} entries after tree size {} have no proven time",
                self.entries - t.stamped_size,
                t.stamped_size
            ));
        }
        self.verdict = match (self.intact, self.not_attested.is_empty()) {
            (false, _) => Verdict::IntegrityFailure,
            (true, true) => Verdict::Attested,
            (true, false) => Verdict::NotAttested,
        };
        if !self.intact {
            self.not_attested.clear();
        }
        self.ok = self.verdict == Verdict::Attested;
    }
}

/// The key the log is checked against, and whether the auditor pinned it.
#[derive(Debug, Clone)]
pub enum Trust {
    /// `--public-key FILE`: this key.
    Pinned(PublicKey),
    /// `--key-fingerprint HASH`: whichever key of the log's history has this fingerprint.
    Fingerprint(String),
    /// Only the `signing.pub` found beside the log: checked, but not attested.
    Beside(PublicKey),
}

impl Trust {
    fn matches(&self, key: &PublicKey) -> bool {
        match self {
            Trust::Pinned(k) | Trust::Beside(k) => k == key,
            Trust::Fingerprint(f) => key.fingerprint() == *f,
        }
    }

    pub fn pinned(&self) -> bool {
        !matches!(self, Trust::Beside(_))
    }

    pub fn fingerprint(&self) -> String {
        match self {
            Trust::Pinned(k) | Trust::Beside(k) => k.fingerprint(),
            Trust::Fingerprint(f) => f.clone(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Trust::Pinned(k) | Trust::Beside(k) => format!("{} (fingerprint {})", k.key_id(), k.fingerprint()),
            Trust::Fingerprint(f) => format!("with fingerprint {f}"),
        }
    }
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

impl ParsedClaim {
    fn claimed(&self) -> Claimed {
        match self.source.as_str() {
            "--checkpoint" => Claimed::Given,
            file => Claimed::Stored { size: self.cp.size, file: file.to_string() },
        }
    }
}

/// Streaming verifier state.
pub struct Verifier {
    trust: Trust,
    /// Keys in the log's history, in order; `trusted_from` marks those endorsed by the trusted key.
    keys: Vec<PublicKey>,
    trusted_from: Option<usize>,
    origin: Option<String>,
    claims: BTreeMap<u64, Vec<ParsedClaim>>,
    anchor: Option<ParsedClaim>,
    chain: ChainCheck,
    /// Interior nodes completed by the last accepted entry, for the caller to compare.
    created: Vec<(u32, u64, Hash)>,
    verified: u64,
    signed_size: u64,
    anchor_ok: Option<u64>,
    failure: Option<Failure>,
    stopped: bool,
    /// What the chain says about stored bodies, by (entry, role).
    bodies: BTreeMap<(u64, String), BodyCommitment>,
}

/// A `body_stored` entry, and the `body_erased` entry that ended it, if any.
#[derive(Debug, Clone)]
struct BodyCommitment {
    stored_by: u64,
    mode: String,
    sha256: String,
    size: u64,
    retain_until: String,
    erased_by: Option<(u64, String)>,
}

impl Verifier {
    /// `claims`: every stored checkpoint; `anchor`: a checkpoint saved earlier that the log must
    /// extend. A malformed anchor is the caller's error, returned as `Err`.
    pub fn new(trust: Trust, claims: Vec<Claim>, anchor: Option<&str>) -> Result<Verifier, String> {
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
            trust,
            keys: Vec::new(),
            trusted_from: None,
            origin: None,
            claims: BTreeMap::new(),
            anchor,
            chain: ChainCheck::new(),
            created: Vec::new(),
            verified: 0,
            signed_size: 0,
            anchor_ok: None,
            failure: None,
            stopped: false,
            bodies: BTreeMap::new(),
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
                    let file = claim.source.clone();
                    self.fail(seq, Broken::CheckpointSizeMismatch { file, stated, actual: cp.size });
                }
                let size = cp.size;
                self.claims.entry(size).or_default().push(ParsedClaim { source: claim.source, note: claim.note, cp });
            }
            Err(e) => {
                let seq = claim.stated_size.unwrap_or(1).saturating_sub(1);
                self.fail(seq, Broken::CheckpointMalformed { file: claim.source, detail: e.to_string() });
            }
        }
    }

    /// Record a failure, keeping the one with the lowest sequence number.
    fn fail(&mut self, seq: u64, kind: Broken) {
        if self.failure.as_ref().is_none_or(|f| seq < f.seq) {
            self.failure = Some(Failure { seq, kind });
        }
    }

    /// Record a failure found by the caller (e.g. in a stored column) and stop.
    pub fn stop_with(&mut self, failure: Failure) -> bool {
        self.fail(failure.seq, failure.kind);
        self.stopped = true;
        false
    }

    /// Number of entries verified so far.
    pub fn size(&self) -> u64 {
        self.chain.size()
    }

    /// Check the next stored row. Returns false once verification must stop.
    pub fn push(&mut self, row: Row<'_>) -> bool {
        self.created.clear();
        if self.stopped {
            return false;
        }
        let checked = match self.chain.check(row) {
            Ok(c) => c,
            Err(f) => return self.stop_with(f),
        };
        let i = checked.seq;
        if matches!(checked.view.kind, "genesis" | "key_rotated") {
            if let Err(kind) = self.key_entry(&checked.view) {
                return self.stop_with(Failure { seq: i, kind });
            }
        }
        if matches!(checked.view.kind, "body_stored" | "body_erased") {
            if let Err(kind) = self.body_entry(i, &checked.view) {
                return self.stop_with(Failure { seq: i, kind });
            }
        }
        self.created = self.chain.accept(&checked);
        self.check_claims_at(i + 1);
        !self.stopped
    }

    /// The interior tree nodes `(level, index, hash)` the last accepted entry completed.
    pub fn created(&self) -> &[(u32, u64, Hash)] {
        &self.created
    }

    /// Compare a node the last entry completed with its stored copy (`None`: no row).
    pub fn check_stored_node(&mut self, level: u32, index: u64, computed: &Hash, stored: Option<&[u8]>) -> bool {
        match check_node(level, index, computed, stored) {
            Ok(()) => !self.stopped,
            Err(f) => self.stop_with(f),
        }
    }

    /// Follow the key history: genesis names the first key, rotations are signed by the old key.
    fn key_entry(&mut self, view: &EntryView) -> Result<(), Broken> {
        let record = view.record().map_err(|e| Broken::Damaged { detail: e.to_string() })?;
        let new_key = match record {
            Record::System(SystemRecord::Genesis { origin, public_key }) => {
                self.origin = Some(origin);
                public_key
            }
            Record::System(SystemRecord::KeyRotated { old_public_key, new_public_key, signature_by_old }) => {
                let current = self.keys.last().ok_or(Broken::RotationBeforeKey)?;
                if current.vkey() != old_public_key {
                    return Err(Broken::RotationFromOtherKey);
                }
                verify_rotation(current, &new_public_key, &signature_by_old).map_err(|_| Broken::RotationUnsigned)?;
                new_public_key
            }
            _ => return Err(Broken::PayloadMismatch),
        };
        let key = PublicKey::parse(&new_key).map_err(|e| Broken::UnusableKey { detail: e.to_string() })?;
        if self.trusted_from.is_none() && self.trust.matches(&key) {
            self.trusted_from = Some(self.keys.len());
        }
        self.keys.push(key);
        Ok(())
    }

    /// Note what a `body_stored` or `body_erased` entry commits to.
    fn body_entry(&mut self, i: u64, view: &EntryView) -> Result<(), Broken> {
        let record = view.record().map_err(|e| Broken::Damaged { detail: e.to_string() })?;
        match record {
            Record::System(SystemRecord::BodyStored { seq, role, mode, sha256, size, retain_until }) => {
                let c = BodyCommitment { stored_by: i, mode, sha256, size, retain_until, erased_by: None };
                if self.bodies.insert((seq, role.clone()), c).is_some() {
                    return Err(Broken::BodyStoredTwice { role, of: seq });
                }
            }
            Record::System(SystemRecord::BodyErased { seq, roles, reason, .. }) => {
                for role in roles {
                    let Some(c) = self.bodies.get_mut(&(seq, role.clone())) else {
                        return Err(Broken::BodyErasedUnknown { role, of: seq });
                    };
                    c.erased_by = Some((i, reason.clone()));
                }
            }
            _ => return Err(Broken::PayloadMismatch),
        }
        Ok(())
    }

    /// Verify every checkpoint for tree size `size` now that its root is known.
    fn check_claims_at(&mut self, size: u64) {
        let root = self.chain.root();
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
        let claimed = c.claimed();
        if self.origin.as_deref().is_some_and(|o| o != c.cp.origin) {
            return self.fail(seq, Broken::CheckpointOrigin { claimed, origin: c.cp.origin.clone() });
        }
        let Some(key_index) = self.keys.len().checked_sub(1) else {
            return self.fail(seq, Broken::CheckpointBeforeKey { claimed });
        };
        let key = &self.keys[key_index];
        if key.open_note(&c.note).is_err() {
            let key_id = key.key_id().to_string();
            return self.fail(seq, Broken::CheckpointForged { claimed, key_id });
        }
        if &c.cp.root != root {
            let kind = match claimed {
                Claimed::Given => Broken::NotExtended { claimed, size },
                _ => Broken::CheckpointRoot { claimed },
            };
            return self.fail(seq, kind);
        }
        if c.source == "--checkpoint" {
            self.anchor_ok = Some(size);
        } else if c.source != crate::FILE_VERIFIED {
            // The verified-state record is checked like a checkpoint but is not one.
            self.verified += 1;
        }
        if self.trusted_from.is_some_and(|t| key_index >= t) && c.source != crate::FILE_VERIFIED {
            self.signed_size = self.signed_size.max(size);
        }
    }

    /// Finish: checkpoints beyond the end (truncation), trust in the key, bodies, the verdict.
    pub fn finish(mut self, bodies: &[BodyRow]) -> Report {
        let n = self.chain.size();
        if !self.stopped {
            self.check_beyond_end(n);
            if n > 0 && self.trusted_from.is_none() {
                let keys = self.keys.iter().map(|k| k.key_id().to_string()).collect();
                self.fail(0, Broken::KeyNeverSigned { key: self.trust.describe(), keys });
            }
        }
        let (checked, erased) = self.check_bodies(bodies, n);
        let mut report = Report {
            ok: false,
            verdict: Verdict::IntegrityFailure,
            intact: false,
            key_pinned: self.trust.pinned(),
            key_fingerprint: self.trust.fingerprint(),
            not_attested: Vec::new(),
            entries: n,
            root_hash: B64.encode(if n == 0 { empty_root() } else { self.chain.root() }),
            origin: self.origin.clone(),
            checkpoints_verified: self.verified,
            signed_size: self.signed_size,
            unsigned_tail: n.saturating_sub(self.signed_size),
            consistent_with_checkpoint: self.anchor_ok,
            keys: self.keys.iter().map(|k| k.vkey().to_string()).collect(),
            bodies_checked: checked,
            erased_bodies: erased,
            witnesses: None,
            timestamps: None,
            failure: self.failure,
        };
        report.conclude();
        report
    }

    fn check_beyond_end(&mut self, n: u64) {
        let beyond: Vec<ParsedClaim> = std::mem::take(&mut self.claims).into_values().flatten().collect();
        let anchor = self.anchor.take();
        for c in beyond.iter().chain(anchor.iter()) {
            let claimed = c.claimed();
            let signed = self.keys.last().is_some_and(|k| k.open_note(&c.note).is_ok());
            if !signed {
                self.fail(n.min(c.cp.size.saturating_sub(1)), Broken::CheckpointUnsigned { claimed });
            } else {
                self.fail(n, Broken::Truncated { claimed, entries: n, covers: c.cp.size });
            }
        }
    }

    /// Each stored body against what the chain committed to (`body_stored`, `body_erased`);
    /// bodies stored by versions before that commitment only against their own `sha256`.
    fn check_bodies(&mut self, bodies: &[BodyRow], n: u64) -> (u64, Vec<ErasedBody>) {
        let mut checked = 0;
        let mut erased = Vec::new();
        let mut committed = std::mem::take(&mut self.bodies);
        for b in bodies.iter().filter(|b| b.seq < n) {
            let commitment = committed.remove(&(b.seq, b.role.clone()));
            if let Err(problem) = check_body_row(b, commitment.as_ref()) {
                self.fail(b.seq, Broken::Body { role: b.role.clone(), of: b.seq, problem });
            }
            match &b.body {
                None => erased.push(ErasedBody {
                    seq: b.seq,
                    role: b.role.clone(),
                    erased_at: b.erased_at.clone(),
                    erasure_entry: commitment.as_ref().and_then(|c| c.erased_by.as_ref().map(|e| e.0)),
                    reason: commitment.and_then(|c| c.erased_by.map(|e| e.1)),
                }),
                Some(_) => checked += 1,
            }
        }
        // A committed body whose row is gone (the table is guarded against deletes).
        if let Some(((seq, role), c)) = committed.into_iter().find(|((seq, _), _)| *seq < n) {
            self.fail(c.stored_by, Broken::BodyMissing { role, of: seq, stored_by: c.stored_by });
        }
        (checked, erased)
    }
}

/// One body row against its commitment.
fn check_body_row(b: &BodyRow, c: Option<&BodyCommitment>) -> Result<(), BodyProblem> {
    let Some(c) = c else {
        if b.committed() {
            return Err(BodyProblem::Uncommitted);
        }
        // Stored before the chain committed to bodies: only its own digest protects it.
        return match &b.body {
            Some(bytes) if hex::encode(Sha256::digest(bytes)) != b.sha256 => Err(BodyProblem::Altered),
            _ => Ok(()),
        };
    };
    let (stored_by, mode, size) = (c.stored_by, &c.mode, c.size);
    if b.sha256 != c.sha256 || b.mode != *mode || b.size != size || b.retain_until.as_deref() != Some(&c.retain_until) {
        return Err(BodyProblem::NotAsCommitted { stored_by });
    }
    match (&b.body, &c.erased_by) {
        (Some(bytes), _) if hex::encode(Sha256::digest(bytes)) != c.sha256 => {
            Err(BodyProblem::CiphertextAltered { stored_by })
        }
        (Some(_), Some((by, _))) => Err(BodyProblem::NotErased { erased_by: *by }),
        (None, None) => Err(BodyProblem::ErasedUnrecorded),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::encode;
    use crate::merkle::{leaf_hash, Frontier};
    use crate::note::{sign_rotation, KeyPair};
    use crate::record::RequestRecord;

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
        run_with(Trust::Pinned(PublicKey::parse(key.vkey()).unwrap()), rows, claims)
    }

    fn run_with(trust: Trust, rows: &[Vec<u8>], claims: Vec<Claim>) -> Report {
        let mut v = Verifier::new(trust, claims, None).unwrap();
        for (i, bytes) in rows.iter().enumerate() {
            if !v.push(Row { seq: i as u64, leaf_hash: None, kind: None, bytes }) {
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
        assert_eq!(report.exit_code(), 0);
    }

    #[test]
    fn unpinned_key_or_unsigned_tail_is_intact_but_not_attested() {
        let key = KeyPair::generate("o").unwrap();
        let pk = PublicKey::parse(key.vkey()).unwrap();
        let (rows, root) = chain(&[(genesis(&key), T0), (request(), T1)]);
        let beside = run_with(Trust::Beside(pk.clone()), &rows, vec![claim(&key, 2, root)]);
        assert_eq!((beside.verdict, beside.exit_code(), beside.intact), (Verdict::NotAttested, 3, true));
        assert!(beside.not_attested[0].contains(&pk.fingerprint()), "{:?}", beside.not_attested);
        let by_fingerprint = run_with(Trust::Fingerprint(pk.fingerprint()), &rows, vec![claim(&key, 2, root)]);
        assert_eq!(by_fingerprint.exit_code(), 0, "{:?}", by_fingerprint.failure);
        let (rows, _) = chain(&[(genesis(&key), T0), (request(), T1), (request(), T1)]);
        let tail = run(&key, &rows, vec![claim(&key, 2, root)]);
        assert_eq!((tail.exit_code(), tail.signed_size, tail.unsigned_tail), (3, 2, 1));
        assert!(tail.not_attested[0].contains("after tree size 2"), "{:?}", tail.not_attested);
        let stranger = KeyPair::generate("o").unwrap();
        let fp = PublicKey::parse(stranger.vkey()).unwrap().fingerprint();
        let (rows, root) = chain(&[(genesis(&key), T0), (request(), T1)]);
        let wrong = run_with(Trust::Fingerprint(fp), &rows, vec![claim(&key, 2, root)]);
        assert_eq!((wrong.exit_code(), wrong.failure.map(|f| f.seq)), (1, Some(0)));
    }

    #[test]
    fn time_going_backwards_is_named() {
        let key = KeyPair::generate("o").unwrap();
        let (rows, _) = chain(&[(genesis(&key), T1), (request(), T1), (request(), T0)]);
        let failure = run(&key, &rows, vec![]).failure.unwrap();
        assert_eq!(failure.seq, 2);
        assert_eq!(failure.kind, Broken::TimeReversed { time: T0.into(), previous: T1.into() });
    }

    #[test]
    fn second_genesis_is_rejected() {
        let key = KeyPair::generate("o").unwrap();
        let (rows, _) = chain(&[(genesis(&key), T0), (genesis(&key), T0)]);
        assert_eq!(run(&key, &rows, vec![]).failure, Some(Failure::new(1, Broken::SecondGenesis)));
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
