//! What an integrity failure is: the entry it names ([`Failure::seq`]) and, as a precise enum, what
//! broke there ([`Broken`]). `verify-log` prints the enum's words; its JSON report carries both
//! the words (`reason`) and a stable code (`kind`, docs/audit-format.md 9), so scripts and tests
//! match the code, never the prose.

use crate::timestamp::TimestampError;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// The first integrity failure: the entry it names and what broke there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {seq}: {kind}")]
pub struct Failure {
    pub seq: u64,
    pub kind: Broken,
}

impl Failure {
    pub fn new(seq: u64, kind: Broken) -> Failure {
        Failure { seq, kind }
    }

    /// The failure in plain words, without the entry number.
    pub fn reason(&self) -> String {
        self.kind.to_string()
    }
}

impl Serialize for Failure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut f = s.serialize_struct("Failure", 3)?;
        f.serialize_field("seq", &self.seq)?;
        f.serialize_field("kind", self.kind.code())?;
        f.serialize_field("reason", &self.reason())?;
        f.end()
    }
}

/// Which checkpoint a failure is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The one the auditor saved earlier and passed with `--checkpoint`.
    Given,
    /// One stored beside the log, for tree size `size`, in `file` (a table or file).
    Stored { size: u64, file: String },
    /// A record the writer trusts as it reopens the log, named in words (its verified state,
    /// its own last checkpoint).
    Anchor(String),
}

impl std::fmt::Display for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Claimed::Given => f.write_str("the checkpoint you gave"),
            Claimed::Stored { size, file } => write!(f, "the checkpoint for tree size {size} in {file}"),
            Claimed::Anchor(what) => f.write_str(what),
        }
    }
}

/// What is wrong with a stored body row, against what the chain committed to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyProblem {
    #[error("has no body_stored entry in the log")]
    Uncommitted,
    #[error("was altered")]
    Altered,
    #[error("does not match what entry {stored_by} committed to")]
    NotAsCommitted { stored_by: u64 },
    #[error("was altered (its ciphertext does not hash to what entry {stored_by} committed to)")]
    CiphertextAltered { stored_by: u64 },
    #[error("is still stored although entry {erased_by} erased it")]
    NotErased { erased_by: u64 },
    #[error("was erased without a body_erased entry in the log")]
    ErasedUnrecorded,
}

/// What a time-stamp row fails on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampProblem {
    #[error("there is no such checkpoint")]
    NoCheckpoint,
    #[error("its stored gen_time {stored} is not the token's")]
    GenTimeMismatch { stored: String },
    #[error("{0} (the token or the checkpoint was altered, or the token forged)")]
    Invalid(TimestampError),
}

/// What broke at the entry a [`Failure`] names. The words say what an auditor should suspect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    // The chain of entries (docs/audit-format.md 2, 3).
    #[error("missing: the log starts at entry {found}")]
    FirstMissing { found: u64 },
    #[error("missing: the log jumps from entry {last} to entry {found}")]
    Missing { last: u64, found: u64 },
    #[error("missing: the log ends before entry {last}")]
    EndsEarly { last: u64 },
    #[error("appears again after entry {after}")]
    Repeated { after: u64 },
    #[error("damaged: {detail}")]
    Damaged { detail: String },
    #[error("damaged: its payload does not match its kind")]
    PayloadMismatch,
    #[error("out of place: the entry stored in its position says it is entry {says} (rows moved or swapped)")]
    OutOfPlace { says: u64 },
    #[error("altered after it was written: its bytes no longer match the hash recorded for it")]
    Altered,
    #[error("altered: its stored kind column says {stored:?} but the entry is {actual:?}")]
    KindColumn { stored: String, actual: String },
    #[error("entry 0 is not a genesis entry")]
    NoGenesis,
    #[error("a second genesis entry")]
    SecondGenesis,
    #[error("entry 0 must name an all-zero previous hash")]
    NonZeroStart,
    #[error(
        "does not link to the entry before it: it names a different previous hash (inserted, replaced or spliced from another log)"
    )]
    Unlinked,
    #[error("dated {time}, which is before the entry before it ({previous})")]
    TimeReversed { time: String, previous: String },

    // The stored tree hashes (docs/audit-format.md 4).
    #[error("the stored tree hash over entries {first}..={last} (level {level}, index {index}) does not match the entries: tree_hashes was altered", first = .index << .level, last = crate::chain::node_entry(*.level, *.index))]
    TreeHashAltered { level: u32, index: u64 },
    #[error("the stored tree hash over entries {first}..={last} (level {level}, index {index}) is missing", first = .index << .level, last = crate::chain::node_entry(*.level, *.index))]
    TreeHashMissing { level: u32, index: u64 },
    #[error("tree_hashes holds a row at position {position} that no entry creates (expected the node at position {expected}): tree_hashes was altered")]
    TreeHashStray { position: u64, expected: u64 },
    #[error("the stored tree hash row at position {position} names level {found_level}, index {found_index} instead of level {level}, index {index}: tree_hashes was altered")]
    TreeHashMisplaced { position: u64, level: u32, index: u64, found_level: u32, found_index: u64 },
    #[error("tree_hashes holds a node (level {level}, index {index}, position {position}) over entries the log does not have: entries were removed from the end")]
    TreeHashBeyondEnd { level: u32, index: u64, position: u64 },

    // Keys (docs/audit-format.md 5).
    #[error("rotates a key before any key exists")]
    RotationBeforeKey,
    #[error("rotates away from a key that is not the one in force")]
    RotationFromOtherKey,
    #[error("the key rotation is not signed by the old key")]
    RotationUnsigned,
    #[error("names an unusable key: {detail}")]
    UnusableKey { detail: String },
    #[error("the key {key} never signed this log (its keys: {}): this is not the log the key belongs to", .keys.join(", "))]
    KeyNeverSigned { key: String, keys: Vec<String> },

    // Checkpoints (docs/audit-format.md 6).
    #[error("the checkpoint stored for tree size {stated} in {file} is a note for tree size {actual}")]
    CheckpointSizeMismatch { file: String, stated: u64, actual: u64 },
    #[error("a checkpoint in {file} is malformed: {detail}")]
    CheckpointMalformed { file: String, detail: String },
    #[error("{claimed} is for origin {origin:?}, not this log's origin")]
    CheckpointOrigin { claimed: Claimed, origin: String },
    #[error("{claimed} comes before any key was named")]
    CheckpointBeforeKey { claimed: Claimed },
    #[error("{claimed} is not signed by the log's key {key_id} in force at that size (forged or re-signed)")]
    CheckpointForged { claimed: Claimed, key_id: String },
    #[error("{claimed} signs a root that the entries before it do not hash to")]
    CheckpointRoot { claimed: Claimed },
    #[error("the log does not extend {claimed}: its first {size} entries hash to a different root (history rewritten or forked)")]
    NotExtended { claimed: Claimed, size: u64 },
    #[error("{claimed} is not signed by the log's key")]
    CheckpointUnsigned { claimed: Claimed },
    #[error("the log has {entries} entries but {claimed} covers {covers}: entries {entries} to {last} are missing (truncated or rolled back)", last = .covers - 1)]
    Truncated { claimed: Claimed, entries: u64, covers: u64 },
    #[error("its last signed checkpoint (checkpoints.log, tree size {size}) is missing from log.db: log.db was replaced by an older copy or its checkpoints were removed")]
    CheckpointRemoved { size: u64 },
    #[error("the stored entries hash to a different root than the entries this writer appended: log.db was changed behind its back")]
    ChangedBehindWriter,

    // Bodies (docs/audit-format.md 7).
    #[error("stores the {role} body of entry {of} a second time")]
    BodyStoredTwice { role: String, of: u64 },
    #[error("erases the {role} body of entry {of}, which the log never stored")]
    BodyErasedUnknown { role: String, of: u64 },
    #[error("the stored {role} body of entry {of} {problem}")]
    Body { role: String, of: u64, problem: BodyProblem },
    #[error("the {role} body of entry {of} that entry {stored_by} stored is missing")]
    BodyMissing { role: String, of: u64, stored_by: u64 },

    // Witnesses and time stamps (docs/audit-format.md 10, 11).
    #[error("the stored cosignature of witness {witness} on the checkpoint of tree size {size} does not verify ({detail}): the checkpoint was signed again after the witness cosigned it (history rewritten), or the cosignature was altered")]
    Cosignature { witness: String, size: u64, detail: String },
    #[error("the time stamp from {tsa} on the checkpoint of tree size {size}: {problem}")]
    Timestamp { tsa: String, size: u64, problem: StampProblem },

    // Export bundles (docs/audit-format.md 8).
    #[error("the bundle's key (fingerprint {fingerprint}) is not the pinned key {pinned}")]
    BundleKeyNotPinned { fingerprint: String, pinned: String },
    #[error("the bundle's checkpoint is not signed by key {key_id}")]
    BundleUnsigned { key_id: String },
    #[error("has no inclusion proof for tree size {size}")]
    NoInclusionProof { size: u64 },
    #[error("is not included in the signed checkpoint (its inclusion proof fails)")]
    NotIncluded,
    #[error("the bundle should hold {expected} entries but holds {holds}")]
    BundleCount { expected: u64, holds: u64 },
}

impl Broken {
    /// The stable code of the failure in the JSON report (docs/audit-format.md 9).
    pub fn code(&self) -> &'static str {
        use Broken::*;
        match self {
            FirstMissing { .. } | Missing { .. } | EndsEarly { .. } => "entry_missing",
            Repeated { .. } => "entry_repeated",
            Damaged { .. } | PayloadMismatch => "entry_damaged",
            OutOfPlace { .. } => "entry_out_of_place",
            Altered => "entry_altered",
            KindColumn { .. } => "kind_column_altered",
            NoGenesis => "no_genesis",
            SecondGenesis => "second_genesis",
            NonZeroStart | Unlinked => "chain_unlinked",
            TimeReversed { .. } => "time_reversed",
            TreeHashAltered { .. } | TreeHashStray { .. } | TreeHashMisplaced { .. } => "tree_hash_altered",
            TreeHashMissing { .. } => "tree_hash_missing",
            TreeHashBeyondEnd { .. } => "tree_hash_beyond_end",
            RotationBeforeKey | RotationFromOtherKey | RotationUnsigned => "key_rotation_invalid",
            UnusableKey { .. } => "key_unusable",
            KeyNeverSigned { .. } => "key_never_signed",
            CheckpointSizeMismatch { .. } | CheckpointMalformed { .. } => "checkpoint_malformed",
            CheckpointOrigin { .. } => "checkpoint_other_origin",
            CheckpointBeforeKey { .. } | CheckpointForged { .. } | CheckpointUnsigned { .. } => "checkpoint_not_signed",
            CheckpointRoot { .. } => "checkpoint_root_mismatch",
            NotExtended { .. } => "history_rewritten",
            Truncated { .. } => "truncated",
            CheckpointRemoved { .. } => "checkpoint_removed",
            ChangedBehindWriter => "changed_behind_writer",
            BodyStoredTwice { .. } | BodyErasedUnknown { .. } => "body_record_invalid",
            Body { problem, .. } => match problem {
                BodyProblem::Uncommitted => "body_uncommitted",
                BodyProblem::Altered | BodyProblem::CiphertextAltered { .. } => "body_altered",
                BodyProblem::NotAsCommitted { .. } => "body_not_as_committed",
                BodyProblem::NotErased { .. } => "body_not_erased",
                BodyProblem::ErasedUnrecorded => "body_erased_unrecorded",
            },
            BodyMissing { .. } => "body_missing",
            Cosignature { .. } => "cosignature_invalid",
            Timestamp { problem, .. } => match problem {
                StampProblem::NoCheckpoint => "timestamp_without_checkpoint",
                StampProblem::GenTimeMismatch { .. } => "timestamp_gen_time_altered",
                StampProblem::Invalid(TimestampError::ImprintMismatch) => "timestamp_imprint_mismatch",
                StampProblem::Invalid(_) => "timestamp_invalid",
            },
            BundleKeyNotPinned { .. } => "bundle_key_not_pinned",
            BundleUnsigned { .. } => "bundle_not_signed",
            NoInclusionProof { .. } | NotIncluded => "not_included",
            BundleCount { .. } => "bundle_incomplete",
        }
    }
}
