//! The checks one stored row must pass, shared by `verify-log` ([`super::verify`]) and the writer,
//! which runs them before it signs anything ([`super::writer`]). A row is checked against the
//! chain so far: its position, its bytes (decoded as in docs/audit-format.md 2.1), the stored
//! copies of its leaf hash and kind, the link to the previous entry and the time order. Accepting
//! it grows the recomputed Merkle tree and yields the interior nodes it completes, which the caller
//! compares with the stored `tree_hashes` rows through [`check_node`].
//!
//! Nothing here trusts a stored hash: every leaf is rehashed from the bytes, every node recomputed.

use super::entry::{decode, EntryView};
use super::merkle::{leaf_hash, Frontier, Hash};

pub use crate::failure::{Broken, Failure};

/// One stored row as read: its position and what the store keeps beside the bytes (absent in
/// sources that keep only the bytes, such as bundles).
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub seq: u64,
    pub leaf_hash: Option<&'a [u8]>,
    pub kind: Option<&'a str>,
    pub bytes: &'a [u8],
}

/// A row that passed [`ChainCheck::check`], ready to be accepted.
pub struct Checked<'a> {
    pub seq: u64,
    pub hash: Hash,
    pub view: EntryView<'a>,
}

/// The chain recomputed so far: the tree of the rows accepted, the last leaf hash and time.
#[derive(Debug, Clone, Default)]
pub struct ChainCheck {
    frontier: Frontier,
    prev: Hash,
    last_time: String,
}

impl ChainCheck {
    /// An empty chain: the next row must be entry 0.
    pub fn new() -> ChainCheck {
        ChainCheck::default()
    }

    /// Continue a chain verified earlier: its tree, its last leaf hash and the last entry's time.
    pub fn resume(frontier: Frontier, prev: Hash, last_time: String) -> ChainCheck {
        ChainCheck { frontier, prev, last_time }
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// The leaf hash of the last accepted entry (zeros before entry 0).
    pub fn prev(&self) -> Hash {
        self.prev
    }

    pub fn last_time(&self) -> &str {
        &self.last_time
    }

    /// Check the next row without accepting it.
    pub fn check<'a>(&self, row: Row<'a>) -> Result<Checked<'a>, Failure> {
        let i = self.size();
        if row.seq != i {
            return Err(missing_or_repeated(i, row.seq));
        }
        let hash = leaf_hash(row.bytes);
        let view = decode(row.bytes).map_err(|e| Failure::new(i, Broken::Damaged { detail: e.to_string() }))?;
        if view.seq != i {
            return Err(Failure::new(i, Broken::OutOfPlace { says: view.seq }));
        }
        if row.leaf_hash.is_some_and(|r| r != hash) {
            return Err(Failure::new(i, Broken::Altered));
        }
        if let Some(kind) = row.kind.filter(|k| *k != view.kind) {
            let (stored, actual) = (kind.to_string(), view.kind.to_string());
            return Err(Failure::new(i, Broken::KindColumn { stored, actual }));
        }
        self.check_link(i, &view)?;
        match (i == 0, view.kind == "genesis") {
            (true, false) => Err(Failure::new(0, Broken::NoGenesis)),
            (false, true) => Err(Failure::new(i, Broken::SecondGenesis)),
            _ => Ok(Checked { seq: i, hash, view }),
        }
    }

    fn check_link(&self, i: u64, view: &EntryView<'_>) -> Result<(), Failure> {
        let prev = view.prev_hash().map_err(|e| Failure::new(i, Broken::Damaged { detail: e.to_string() }))?;
        if prev != self.prev {
            return Err(Failure::new(i, if i == 0 { Broken::NonZeroStart } else { Broken::Unlinked }));
        }
        if view.time < self.last_time.as_str() {
            let (time, previous) = (view.time.to_string(), self.last_time.clone());
            return Err(Failure::new(i, Broken::TimeReversed { time, previous }));
        }
        Ok(())
    }

    /// Accept a checked row; returns the interior nodes `(level, index, hash)` it completes.
    pub fn accept(&mut self, checked: &Checked<'_>) -> Vec<(u32, u64, Hash)> {
        self.prev = checked.hash;
        self.last_time.clear();
        self.last_time.push_str(checked.view.time);
        self.frontier.push(checked.hash)
    }
}

fn missing_or_repeated(i: u64, row_seq: u64) -> Failure {
    let kind = match i.checked_sub(1) {
        _ if row_seq < i => Broken::Repeated { after: i - 1 },
        None => Broken::FirstMissing { found: row_seq },
        Some(last) => Broken::Missing { last, found: row_seq },
    };
    Failure::new(i.min(row_seq), kind)
}

/// The entry that completes node `(level, index)`: its last leaf. A wrong node is reported there,
/// the first tree size whose root it changes.
pub fn node_entry(level: u32, index: u64) -> u64 {
    ((index + 1) << level) - 1
}

/// Compare a recomputed interior node with the stored one (`None`: no row for it).
pub fn check_node(level: u32, index: u64, computed: &Hash, stored: Option<&[u8]>) -> Result<(), Failure> {
    let seq = node_entry(level, index);
    match stored {
        Some(s) if s == computed => Ok(()),
        Some(_) => Err(Failure::new(seq, Broken::TreeHashAltered { level, index })),
        None => Err(Failure::new(seq, Broken::TreeHashMissing { level, index })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::encode;
    use crate::record::{Record, RequestRecord, SystemRecord};

    const T: &str = "2026-01-01T00:00:00.000000Z";

    fn rows() -> Vec<Vec<u8>> {
        let genesis = Record::System(SystemRecord::Genesis { origin: "o".into(), public_key: "k".into() });
        let request = Record::Request(RequestRecord::default());
        let mut prev = [0u8; 32];
        [genesis, request.clone(), request]
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let bytes = encode(i as u64, T, &prev, r).unwrap();
                prev = leaf_hash(&bytes);
                bytes
            })
            .collect()
    }

    fn run(rows: &[Vec<u8>], kinds: &[&str]) -> Result<ChainCheck, Failure> {
        let mut c = ChainCheck::new();
        for (i, bytes) in rows.iter().enumerate() {
            let hash = leaf_hash(bytes);
            let row = Row { seq: i as u64, leaf_hash: Some(&hash), kind: kinds.get(i).copied(), bytes };
            let checked = c.check(row)?;
            c.accept(&checked);
        }
        Ok(c)
    }

    #[test]
    fn a_good_chain_passes_and_a_wrong_kind_column_is_named() {
        let rows = rows();
        assert_eq!(run(&rows, &["genesis", "request", "request"]).unwrap().size(), 3);
        let err = run(&rows, &["genesis", "response", "request"]).err().unwrap();
        assert_eq!(err.seq, 1);
        assert_eq!(err.kind, Broken::KindColumn { stored: "response".into(), actual: "request".into() });
    }

    #[test]
    fn nodes_are_compared_and_named_by_their_last_entry() {
        assert_eq!(node_entry(2, 1), 7);
        let h = [1u8; 32];
        assert!(check_node(1, 0, &h, Some(&h)).is_ok());
        assert_eq!(check_node(2, 1, &h, Some(&[2u8; 32])).unwrap_err().seq, 7);
        assert_eq!(check_node(1, 3, &h, None).unwrap_err().seq, 7);
    }
}
