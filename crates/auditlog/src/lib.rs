//! The auditgate audit log format and its verifier: the reference implementation of
//! docs/audit-format.md, and everything `verify-log` needs, without the gateway.
//!
//! Layout: [`entry`] (the exact bytes hashed and stored) and [`record`] (what entries carry),
//! [`merkle`] (RFC 9162 hashing and proofs), [`note`] (keys, C2SP signed notes, checkpoints),
//! [`chain`] (the per-entry checks the gateway's writer shares), [`db`] (reading `log.db`), `pg`
//! (reading a log kept in PostgreSQL, with the `postgres` feature),
//! [`verify`] (the verifier over a stream of rows), [`witness`] and [`cosign`] (witness
//! cosignatures), [`timestamp`] (RFC 3161 time stamps), [`bundle`] (export bundle format and its
//! check), [`cli`] (`verify-log`).
//!
//! The gateway (`auditgate`) depends on this crate for the format and writes the log; this crate
//! only reads. It builds without an HTTP stack, an async runtime or the PII engine, so an auditor
//! can build and run it alone.

pub mod bundle;
pub mod chain;
pub mod cli;
pub mod cosign;
pub mod db;
pub mod entry;
pub mod failure;
pub mod merkle;
pub mod note;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod record;
pub mod timestamp;
pub mod verify;
pub mod witness;

/// File names under the data directory (docs/audit-format.md section 1).
pub const FILE_DB: &str = "log.db";
pub const FILE_KEY: &str = "signing.key";
pub const FILE_PUB: &str = "signing.pub";
pub const FILE_CHECKPOINTS: &str = "checkpoints.log";
/// Held locked by the single writer.
pub const FILE_LOCK: &str = "writer.lock";
/// The writer's signed record of how far it has verified the log (docs/audit-format.md 6.1).
pub const FILE_VERIFIED: &str = "verified-state";
