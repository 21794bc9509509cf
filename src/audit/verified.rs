//! What the writer checks before it signs anything, and its signed record of how far it checked.
//!
//! The writer never signs a root it has not recomputed from the stored bytes. [`scan`] reads
//! stored rows past the verified point and runs the checks of [`super::chain`] on each (leaf hash
//! from the bytes, the stored `leaf_hash` and `kind` columns, the `prev` link, the time order) and
//! compares every interior node it recomputes with the stored `tree_hashes` row.
//!
//! The verified-state record (`verified-state`, docs/audit-format.md 6.1) is a checkpoint note over
//! the last verified size, signed with the log's key, with extension lines: the last entry's leaf
//! hash and the requests still waiting for an outcome at that size. It lets a restart resume the
//! check where it stopped instead of rehashing the whole log, and it is an anchor the log must
//! extend: a log rewritten or rolled back behind the writer's back no longer hashes to it.
//! [`check_at_open`] runs at every open; it refuses a log that does not extend the verified state,
//! its own last signed checkpoint (`checkpoints.log`) or the last checkpoint in `log.db`, or whose
//! last signed checkpoint is missing from `log.db`.

use super::chain::{check_node, Broken, ChainCheck, Checked, Failure, Row};
use super::entry::decode;
use super::merkle::{consistency_proof, leaf_hash, stored_position, verify_consistency, Hash};
use super::note::{split_notes, write_private, Checkpoint, KeyPair, NoteError, PublicKey};
use super::store::{LogStore, StoreError};
use super::{AuditError, FILE_CHECKPOINTS, FILE_DB, FILE_VERIFIED};
use auditlog::failure::Claimed;
use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The extension line that tells a verified-state note from a checkpoint.
const MARKER: &str = "auditgate-verified-state";

/// Entries read per query while scanning.
const CHUNK: u64 = 2048;

/// How much of the end of `checkpoints.log` is read to find the last note (a note is ~200 bytes).
const TAIL_BYTES: u64 = 64 * 1024;

/// How far the writer has verified the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedState {
    pub size: u64,
    pub root: Hash,
    /// Leaf hash of entry `size - 1`.
    pub last_leaf: Hash,
    /// Request entries below `size` without an outcome entry below `size`.
    pub open: BTreeSet<u64>,
}

impl VerifiedState {
    /// The note text: a checkpoint body, then the marker and the two extension lines.
    fn text(&self, origin: &str) -> String {
        let cp = Checkpoint { origin: origin.to_string(), size: self.size, root: self.root };
        let open: Vec<String> = self.open.iter().map(u64::to_string).collect();
        let open = if open.is_empty() { "-".to_string() } else { open.join(",") };
        format!("{}{MARKER}\nlast {}\nopen {open}\n", cp.text(), hex::encode(self.last_leaf))
    }

    /// Parse a note after checking its signature with `key`.
    fn open_note(note: &str, key: &PublicKey) -> Result<VerifiedState, String> {
        let text = key.open_note(note).map_err(|e| e.to_string())?;
        let cp = Checkpoint::parse_text(&text).map_err(|e| e.to_string())?;
        let mut lines = text.lines().skip(3);
        if lines.next() != Some(MARKER) {
            return Err(format!("not a verified-state note (no {MARKER} line)"));
        }
        let last = lines.next().and_then(|l| l.strip_prefix("last ")).ok_or("no last line")?;
        let mut last_leaf = [0u8; 32];
        hex::decode_to_slice(last, &mut last_leaf).map_err(|e| format!("last line: {e}"))?;
        let open = lines.next().and_then(|l| l.strip_prefix("open ")).ok_or("no open line")?;
        let open = match open {
            "-" => BTreeSet::new(),
            list => list.split(',').map(str::parse).collect::<Result<_, _>>().map_err(|e| format!("open line: {e}"))?,
        };
        Ok(VerifiedState { size: cp.size, root: cp.root, last_leaf, open })
    }

    /// Sign and write the record (mode 0600, replaced atomically).
    pub(crate) fn write(&self, dir: &Path, key: &KeyPair, origin: &str) -> Result<(), NoteError> {
        let note = key.sign_note(&self.text(origin))?;
        write_private(&dir.join(FILE_VERIFIED), &note)
    }

    /// The record in `dir` if it is there and signed by `key`; anything else means "verify from
    /// entry 0" (a missing or foreign record can make the check slower, never weaker).
    fn load(dir: &Path, key: &PublicKey) -> Option<VerifiedState> {
        let path = dir.join(FILE_VERIFIED);
        let note = match std::fs::read_to_string(&path) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(error = %e, "{} unreadable; verifying the whole log", path.display());
                return None;
            }
        };
        match VerifiedState::open_note(&note, key) {
            Ok(state) => Some(state),
            Err(e) => {
                tracing::warn!(error = %e, "{} not usable; verifying the whole log", path.display());
                None
            }
        }
    }
}

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Integrity(#[from] Failure),
}

impl From<ScanError> for AuditError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Store(e) => AuditError::unavailable(e),
            ScanError::Integrity(f) => AuditError::Integrity(f),
        }
    }
}

/// Verify the stored rows `check.size()..to` and the tree nodes they complete, advancing `check`.
/// `seen` is called with each accepted row and may stop the scan with a failure of its own.
pub(crate) fn scan(
    store: &dyn LogStore,
    check: &mut ChainCheck,
    to: u64,
    mut seen: impl FnMut(&ChainCheck, &Checked<'_>) -> Result<(), Failure>,
) -> Result<(), ScanError> {
    while check.size() < to {
        let (a, b) = (check.size(), (check.size() + CHUNK).min(to));
        let rows = store.read_range(a, b)?;
        if rows.is_empty() {
            return Err(Failure::new(a, Broken::EndsEarly { last: to - 1 }).into());
        }
        let nodes = store.read_nodes(stored_position(0, a), stored_position(0, b))?;
        for e in &rows {
            let row = Row { seq: e.seq, leaf_hash: Some(&e.leaf_hash), kind: Some(&e.kind), bytes: &e.bytes };
            let checked = check.check(row)?;
            for (level, index, hash) in check.accept(&checked) {
                let stored = nodes
                    .get(&stored_position(level, index))
                    .filter(|n| (n.level, n.index) == (i64::from(level), index as i64))
                    .map(|n| n.hash.as_slice());
                check_node(level, index, &hash, stored)?;
            }
            seen(check, &checked)?;
        }
    }
    Ok(())
}

/// Keep `open` (requests without an outcome) up to date with one accepted entry. A request the
/// policy denied is its own outcome: nothing was forwarded.
pub(crate) fn track_outcomes(open: &mut BTreeSet<u64>, checked: &Checked<'_>) {
    #[derive(serde::Deserialize)]
    struct RequestPart {
        #[serde(default)]
        decision: String,
    }
    #[derive(serde::Deserialize)]
    struct OutcomePart {
        request_seq: u64,
    }
    let payload = checked.view.payload.get();
    match checked.view.kind {
        "request" => {
            let denied = serde_json::from_str::<RequestPart>(payload).is_ok_and(|p| p.decision == "deny");
            if !denied {
                open.insert(checked.seq);
            }
        }
        "response" | "outcome" => {
            if let Ok(p) = serde_json::from_str::<OutcomePart>(payload) {
                open.remove(&p.request_seq);
            }
        }
        _ => {}
    }
}

/// What [`check_at_open`] established.
pub(crate) struct Started {
    /// Every stored entry verified.
    pub check: ChainCheck,
    /// Requests without an outcome.
    pub open: BTreeSet<u64>,
    /// Kind of the last entry (None for an empty log).
    pub last_kind: Option<String>,
}

/// A tree size and root the log must extend.
struct Anchor {
    size: u64,
    root: Hash,
    what: String,
}

impl Anchor {
    fn not_extended(&self) -> Broken {
        Broken::NotExtended { claimed: Claimed::Anchor(self.what.clone()), size: self.size }
    }
}

fn integrity(seq: u64, kind: Broken) -> AuditError {
    AuditError::Integrity(Failure::new(seq, kind))
}

/// Verify the log in `dir` before the writer continues it: from the verified-state record when it
/// holds, else from entry 0; and check it extends every anchor (see the module doc).
pub(crate) fn check_at_open(store: &dyn LogStore, dir: &Path, key: &PublicKey) -> Result<Started, AuditError> {
    let unavailable = |e: StoreError| AuditError::unavailable(e);
    let n = store.size().map_err(unavailable)?;
    let state = VerifiedState::load(dir, key);
    let stored = store.checkpoints().map_err(unavailable)?;
    let own = last_own_checkpoint(dir, key).map_err(AuditError::unavailable)?;
    let mut anchors = Vec::new();
    if let Some(s) = &state {
        let what = format!("the state the gateway verified and signed ({FILE_VERIFIED}, tree size {})", s.size);
        anchors.push(Anchor { size: s.size, root: s.root, what });
    }
    if let Some(cp) = &own {
        let what = format!("its last signed checkpoint ({FILE_CHECKPOINTS}, tree size {})", cp.size);
        anchors.push(Anchor { size: cp.size, root: cp.root, what });
    }
    if let Some(cp) = stored.last() {
        let what = format!("the last checkpoint in {FILE_DB} (tree size {})", cp.size);
        anchors.push(Anchor { size: cp.size, root: cp.root, what });
    }
    if let Some(a) = anchors.iter().filter(|a| a.size > n).max_by_key(|a| a.size) {
        let claimed = Claimed::Anchor(a.what.clone());
        return Err(integrity(n, Broken::Truncated { claimed, entries: n, covers: a.size }));
    }
    if let Some(cp) = own.as_ref().filter(|cp| !stored.iter().any(|s| s.size == cp.size && s.root == cp.root)) {
        return Err(integrity(cp.size.saturating_sub(1), Broken::CheckpointRemoved { size: cp.size }));
    }
    let resumed = state.as_ref().and_then(|s| resume(store, s).map(|c| (c, s.open.clone())));
    let (mut check, mut open) = resumed.unwrap_or_default();
    let start = check.size();
    for a in anchors.iter().filter(|a| a.size <= start) {
        extended_below(store, a, start, &check.root())?;
    }
    scan(store, &mut check, n, |check, checked| {
        track_outcomes(&mut open, checked);
        match anchors.iter().find(|a| a.size == check.size() && check.root() != a.root) {
            Some(a) => Err(Failure::new(a.size - 1, a.not_extended())),
            None => Ok(()),
        }
    })?;
    let last_kind = match n {
        0 => None,
        _ => store.read_range(n - 1, n).map_err(unavailable)?.pop().map(|e| e.kind),
    };
    Ok(Started { check, open, last_kind })
}

/// Continue from a verified state: the stored frontier at its size must hash to its root (then
/// those stored nodes are the ones verified), and the stored last entry must hash to its leaf.
fn resume(store: &dyn LogStore, state: &VerifiedState) -> Option<ChainCheck> {
    if state.size == 0 {
        return None;
    }
    let frontier = store.frontier_at(state.size).ok()?;
    let last = store.read_range(state.size - 1, state.size).ok()?.pop()?;
    let time = decode(&last.bytes).ok()?.time.to_string();
    if frontier.root() != state.root || leaf_hash(&last.bytes) != state.last_leaf {
        tracing::warn!(
            size = state.size,
            "the stored tree no longer matches the verified state; verifying the whole log"
        );
        return None;
    }
    Some(ChainCheck::resume(frontier, state.last_leaf, time))
}

/// An anchor at or below the verified start: the stored nodes must prove the verified tree
/// extends it (RFC 9162 consistency proof, checked against both trusted roots).
fn extended_below(store: &dyn LogStore, a: &Anchor, start: u64, start_root: &Hash) -> Result<(), AuditError> {
    let ok = if a.size == start {
        a.root == *start_root
    } else {
        consistency_proof(a.size, start, &mut |lo, hi| store.subtree_hash(lo, hi))
            .is_ok_and(|proof| verify_consistency(a.size, start, &a.root, start_root, &proof).is_ok())
    };
    if ok {
        return Ok(());
    }
    Err(integrity(a.size.saturating_sub(1), a.not_extended()))
}

/// The newest note at the end of `checkpoints.log` signed by `key` (older keys' notes and junk
/// appended after it are skipped).
fn last_own_checkpoint(dir: &Path, key: &PublicKey) -> std::io::Result<Option<Checkpoint>> {
    let mut file = match std::fs::File::open(dir.join(FILE_CHECKPOINTS)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    // The first note may be cut by the seek: it then fails to parse and is skipped.
    let text = String::from_utf8_lossy(&tail);
    Ok(split_notes(&text)
        .iter()
        .rev()
        .find(|note| key.open_note(note).is_ok())
        .and_then(|note| Checkpoint::parse_note(note).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_note_round_trips_and_needs_the_key() {
        let key = KeyPair::generate("o").unwrap();
        let state = VerifiedState { size: 9, root: [3; 32], last_leaf: [4; 32], open: [2, 5].into() };
        let note = key.sign_note(&state.text("o")).unwrap();
        let pk = PublicKey::parse(key.vkey()).unwrap();
        assert_eq!(VerifiedState::open_note(&note, &pk).unwrap(), state);
        // It is also a checkpoint note for its size and root (extension lines are ignored).
        let cp = Checkpoint::parse_note(&note).unwrap();
        assert_eq!((cp.size, cp.root), (9, [3; 32]));
        let other = PublicKey::parse(KeyPair::generate("o").unwrap().vkey()).unwrap();
        assert!(VerifiedState::open_note(&note, &other).is_err());
        let empty = VerifiedState { open: BTreeSet::new(), ..state };
        let note = key.sign_note(&empty.text("o")).unwrap();
        assert_eq!(VerifiedState::open_note(&note, &pk).unwrap(), empty);
        let checkpoint = key.sign_note(&Checkpoint { origin: "o".into(), size: 9, root: [3; 32] }.text()).unwrap();
        assert!(VerifiedState::open_note(&checkpoint, &pk).is_err(), "a plain checkpoint is not a state");
    }
}
