//! RFC 9162 (Certificate Transparency v2) Merkle tree hashing, kept apart from storage like Go's
//! `sumdb/tlog`: leaf and node hashes, an incremental frontier (the roots of the perfect subtrees
//! that make up a tree of any size), inclusion and consistency proof generation over any source of
//! subtree hashes, and the RFC 9162 section 2.1.3.2 / 2.1.4.2 verification algorithms.
//!
//! Stored node addressing: the node at `(level, index)` is the root of the perfect subtree over
//! leaves `[index * 2^level, (index + 1) * 2^level)`. Level 0 nodes are leaf hashes.
//! [`stored_position`] numbers all nodes in the order appends complete them (as tlog's
//! `StoredHashIndex` does), so a store keyed by it only ever writes at its end.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old size {old} is larger than new size {new}")]
    SizeOrder { old: u64, new: u64 },
    #[error("proof has the wrong number of hashes")]
    WrongLength,
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
}

/// Leaf hash: SHA-256(0x00 || entry bytes).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// Interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly below `n` (n >= 2), the RFC's split point `k`.
pub fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees `(level, index)` that make up leaves `[lo, hi)`, left to right, where `lo`
/// is aligned to a power of two at least `hi - lo` (always the case inside RFC recursion) or
/// `lo == 0`.
pub fn decompose(lo: u64, hi: u64) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut start = lo;
    while start < hi {
        let remaining = hi - start;
        // Largest aligned perfect subtree starting at `start` that fits in the remaining range.
        let mut level = 63 - remaining.leading_zeros();
        if start != 0 {
            level = level.min(start.trailing_zeros());
        }
        out.push((level, start >> level));
        start += 1u64 << level;
    }
    out
}

/// Position of node `(level, index)` in the sequence of all node hashes in the order appends create
/// them: each leaf, then the subtree roots it completes, lowest level first.
///
/// Leaf `k` is preceded by the `2k - popcount(k)` nodes the leaves before it created (leaf `j`
/// creates one node per trailing one bit of `j`, plus itself). Node `(level, index)` is created by
/// its last leaf `m = (index + 1) * 2^level - 1`, `level` places after that leaf. Positions grow
/// with every append, so storage keyed by them is append-only.
pub fn stored_position(level: u32, index: u64) -> u64 {
    let last_leaf = ((index + 1) << level) - 1;
    2 * last_leaf - u64::from(last_leaf.count_ones()) + u64::from(level)
}

/// Fold perfect-subtree roots (left to right) into the MTH of their concatenated range.
pub fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    let mut iter = hashes.iter().rev();
    let mut acc = *iter.next()?;
    for h in iter {
        acc = node_hash(h, &acc);
    }
    Some(acc)
}

/// The right edge of a growing tree: one perfect-subtree root per set bit of the size, highest
/// level first. Appending is amortised O(1) hashes; the root costs O(log n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `(level, hash)` of the perfect subtrees covering `[0, size)`, left to right.
    nodes: Vec<(u32, Hash)>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Rebuild from stored perfect-subtree roots; `nodes` must be `decompose(0, size)` in order.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Frontier> {
        let shape = decompose(0, size);
        if shape.len() != hashes.len() {
            return None;
        }
        let nodes = shape.iter().map(|(l, _)| *l).zip(hashes).collect();
        Some(Frontier { size, nodes })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append one leaf hash; returns the interior nodes `(level, index, hash)` completed by it, so a
    /// store can keep them for proofs.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u32, u64, Hash)> {
        let mut created = Vec::new();
        let mut index = self.size;
        let mut level = 0u32;
        let mut hash = leaf;
        while let Some(&(top_level, left)) = self.nodes.last() {
            if top_level != level {
                break;
            }
            self.nodes.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            created.push((level, index, hash));
        }
        self.nodes.push((level, hash));
        self.size += 1;
        created
    }

    /// The Merkle tree hash of all leaves so far.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.nodes.iter().map(|(_, h)| *h).collect();
        fold_right(&hashes).unwrap_or_else(empty_root)
    }
}

/// Inclusion proof (RFC 9162 2.1.3.1 PATH) for leaf `index` in a tree of `size` leaves.
/// `subtree(lo, hi)` must return MTH(D[lo:hi]).
pub fn inclusion_proof<E>(
    index: u64,
    size: u64,
    subtree: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut proof = Vec::new();
    path(index, 0, size, subtree, &mut proof)?;
    Ok(proof)
}

fn path<E>(
    m: u64,
    lo: u64,
    hi: u64,
    subtree: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(m, lo, lo + k, subtree, out)?;
        out.push(subtree(lo + k, hi)?);
    } else {
        path(m - k, lo + k, hi, subtree, out)?;
        out.push(subtree(lo, lo + k)?);
    }
    Ok(())
}

/// Consistency proof (RFC 9162 2.1.4.1 PROOF) between sizes `old` and `new`.
pub fn consistency_proof<E>(
    old: u64,
    new: u64,
    subtree: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    let mut proof = Vec::new();
    if old > 0 && old < new {
        subproof(old, 0, new, true, subtree, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<E>(
    m: u64,
    lo: u64,
    hi: u64,
    complete: bool,
    subtree: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
    out: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push(subtree(lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, lo, lo + k, complete, subtree, out)?;
        out.push(subtree(lo + k, hi)?);
    } else {
        subproof(m - k, lo + k, hi, false, subtree, out)?;
        out.push(subtree(lo, lo + k)?);
    }
    Ok(())
}

/// RFC 9162 2.1.3.2: verify that `leaf` is at `index` in the tree of `size` with `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 2.1.4.2: verify that the tree `(new, new_root)` extends `(old, old_root)`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == new {
        return match (proof.is_empty(), old_root == new_root) {
            (true, true) => Ok(()),
            (false, _) => Err(ProofError::WrongLength),
            (true, false) => Err(ProofError::RootMismatch),
        };
    }
    if old == 0 {
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::WrongLength) };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    // If old is a power of two, the old root itself starts the path.
    let mut full: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        full.push(*old_root);
    }
    full.extend_from_slice(proof);
    let (first, rest) = full.split_first().ok_or(ProofError::WrongLength)?;
    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// Naive recursive MTH straight from the RFC definition, independent of the frontier code.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("entry {i}").as_bytes())).collect()
    }

    fn naive_subtree(all: &[Hash]) -> impl FnMut(u64, u64) -> Result<Hash, Infallible> + '_ {
        move |lo, hi| Ok(mth(&all[lo as usize..hi as usize]))
    }

    #[test]
    fn rfc6962_reference_vectors() {
        // The eight leaf inputs used by the RFC 6962 reference tests (certificate-transparency,
        // transparency-dev/merkle); the size-8 root is the published expected value.
        let inputs: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
        ];
        let mut f = Frontier::new();
        for i in inputs {
            f.push(leaf_hash(i));
        }
        assert_eq!(hex::encode(leaf_hash(b"")), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
        assert_eq!(hex::encode(f.root()), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
        assert_eq!(hex::encode(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn frontier_matches_naive_root_for_every_size() {
        let all = leaves(130);
        let mut f = Frontier::new();
        assert_eq!(f.root(), mth(&[]));
        for (i, l) in all.iter().enumerate() {
            f.push(*l);
            assert_eq!(f.root(), mth(&all[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn created_nodes_are_the_perfect_subtrees() {
        let all = leaves(40);
        let mut f = Frontier::new();
        for l in &all {
            for (level, index, hash) in f.push(*l) {
                let lo = (index << level) as usize;
                let hi = ((index + 1) << level) as usize;
                assert_eq!(hash, mth(&all[lo..hi]));
            }
        }
        // A frontier rebuilt from the decomposition equals the grown one.
        let shape = decompose(0, 40);
        let hashes = shape.iter().map(|(l, i)| mth(&all[(i << l) as usize..((i + 1) << l) as usize])).collect();
        assert_eq!(Frontier::from_parts(40, hashes), Some(f));
    }

    #[test]
    fn inclusion_proofs_verify_and_reject_tampering() {
        let all = leaves(70);
        for size in 1..=70u64 {
            let root = mth(&all[..size as usize]);
            for index in 0..size {
                let proof = inclusion_proof(index, size, &mut naive_subtree(&all)).unwrap();
                let leaf = all[index as usize];
                assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));
                let other = leaf_hash(b"forged");
                assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
                if let Some((_, rest)) = proof.split_first() {
                    assert!(verify_inclusion(index, size, &leaf, rest, &root).is_err());
                }
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_reject_forks() {
        let all = leaves(50);
        let mut fork = all.clone();
        fork[3] = leaf_hash(b"fork");
        for new in 1..=50u64 {
            let new_root = mth(&all[..new as usize]);
            for old in 1..=new {
                let old_root = mth(&all[..old as usize]);
                let proof = consistency_proof(old, new, &mut naive_subtree(&all)).unwrap();
                assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));
                if old > 3 {
                    let forked_old = mth(&fork[..old as usize]);
                    assert!(verify_consistency(old, new, &forked_old, &new_root, &proof).is_err());
                }
            }
        }
    }

    #[test]
    fn stored_positions_follow_creation_order() {
        let mut frontier = Frontier::new();
        let mut next = 0u64;
        for leaf in 0..1000u64 {
            assert_eq!(stored_position(0, leaf), next, "leaf {leaf}");
            next += 1;
            for (level, index, _) in frontier.push(leaf_hash(&leaf.to_be_bytes())) {
                assert_eq!(stored_position(level, index), next, "node ({level}, {index})");
                next += 1;
            }
        }
    }

    #[test]
    fn decompose_covers_range_exactly() {
        for hi in 0..100u64 {
            let mut next = 0;
            for (level, index) in decompose(0, hi) {
                assert_eq!(index << level, next);
                next += 1 << level;
            }
            assert_eq!(next, hi);
        }
        assert_eq!(decompose(8, 13), vec![(2, 2), (0, 12)]);
    }
}
