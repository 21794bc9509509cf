//! `auditgate audit` ([`AuditCommand`] + [`audit_main`]: `prove`, `consistency`, `export`,
//! `snapshot`, `show-body`, `rotate-key`, `erase`, `checkpoint`, `fingerprint`). Every read of
//! audit data first appends an `access` entry (see `operator`). `verify-log` ([`VerifyLogArgs`] +
//! [`verify_log_main`]) lives in the `auditlog` crate and is re-exported here.
//!
//! `auditgate audit` exit codes: 0
//! success; 1 entry not found / not yet covered by a checkpoint (prove, export) or the log fails
//! its check before signing; 2 usage or I/O error. Output to a closed pipe ends quietly.

pub use auditlog::cli::{verify_log, verify_log_main, VerifyLogArgs};

use super::bundle::{self, BundleError};
use super::location::LogLocation;
use super::note::PublicKey;
use super::operator::{self, operator_name, OperatorRequest};
use super::sealed::{MasterKey, Sealed};
use super::{body_key_path, AuditError, AuditOptions, FILE_PUB};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `auditgate audit ...`
#[derive(clap::Subcommand, Debug, Clone)]
pub enum AuditCommand {
    /// Print an inclusion proof (JSON) for entry N against the latest checkpoint.
    Prove {
        #[arg(long)]
        entry: u64,
        /// Why (recorded in the access entry this read appends).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print an RFC 9162 consistency proof (JSON) from an older tree size to the latest checkpoint.
    Consistency {
        #[arg(long)]
        old_size: u64,
        /// Why (recorded in the access entry this read appends).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Write a self-contained bundle of entries FROM..=TO that `verify-log --bundle DIR` checks.
    Export {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Why (recorded in the access entry this read appends).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print a stored body of entry N, decrypted (appends an access entry first).
    ShowBody {
        #[arg(long)]
        entry: u64,
        /// request, upstream_request or response.
        #[arg(long, default_value = "request")]
        role: String,
        /// The body master key, if `[audit] body_key_file` moved it out of the data directory.
        #[arg(long, value_name = "FILE")]
        body_key: Option<PathBuf>,
        /// Why (recorded in the access entry this read appends).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Replace the signing key (gateway stopped); the log records the rotation signed by the old key.
    RotateKey,
    /// Erase the stored bodies of entry N (GDPR art. 17): their keys and ciphertext are destroyed
    /// and a body_erased entry records it; the log still verifies. Refused while the statutory
    /// hold runs, unless --force (recorded).
    Erase {
        #[arg(long)]
        entry: u64,
        /// Only this body role (request, upstream_request, response).
        #[arg(long)]
        role: Option<String>,
        /// Why (required; recorded in the log).
        #[arg(long)]
        reason: String,
        /// Erase although the statutory hold has not ended (recorded as forced).
        #[arg(long)]
        force: bool,
    },
    /// Sign a checkpoint now if the log grew (gateway stopped), after verifying the log.
    Checkpoint,
    /// Write a consistent copy for auditors into DIR (log.db, signing.pub, checkpoint.txt), up to
    /// a freshly signed checkpoint; works while the gateway runs.
    Snapshot {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Why (recorded in the access entry this read appends).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print the signing key's fingerprint (SHA-256 of the public key), to give auditors out of band.
    Fingerprint,
}

/// Run one `auditgate audit` command on the log in `data_dir`; returns the exit code.
pub fn audit_main(cmd: AuditCommand, data_dir: &Path) -> i32 {
    match run_audit(cmd, data_dir) {
        Ok(()) => 0,
        Err(BundleError::NotCovered(msg) | BundleError::Integrity(msg)) => {
            eprintln!("auditgate audit: {msg}");
            1
        }
        Err(e) => {
            eprintln!("auditgate audit: {e}");
            2
        }
    }
}

/// One line of command output; a closed pipe ends the output quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

fn run_audit(cmd: AuditCommand, dir: &Path) -> Result<(), BundleError> {
    // Every command works on an existing log; never create one by accident.
    let public_key = || std::fs::read_to_string(dir.join(FILE_PUB)).map(|s| s.trim().to_string());
    if let AuditCommand::Fingerprint = cmd {
        // Only the key: also for a node whose log is in PostgreSQL.
        let vkey = public_key()?;
        say!("{}", fingerprint_of(&vkey)?);
        say!("signing key: {vkey}");
        return Ok(());
    }
    let location = LogLocation::in_dir(dir);
    if !location.exists() {
        return Err(BundleError::Invalid(format!("no audit log at {}", location.describe())));
    }
    let open = || location.open_reader();
    match cmd {
        AuditCommand::Prove { entry, reason } => {
            record_access(dir, "prove", Some((entry, entry)), None, reason)?;
            let receipt = bundle::prove(open()?.as_ref(), &public_key()?, entry)?;
            say!("{}", pretty(&receipt)?);
        }
        AuditCommand::Consistency { old_size, reason } => {
            record_access(dir, "consistency", None, Some(format!("from tree size {old_size}")), reason)?;
            let proof = bundle::prove_consistency(open()?.as_ref(), old_size)?;
            say!("{}", pretty(&proof)?);
        }
        AuditCommand::Export { from, to, out, reason } => {
            record_access(dir, "export", Some((from, to)), Some(format!("to {}", out.display())), reason)?;
            let store = open()?;
            if store.checkpoints()?.last().is_none_or(|c| c.size <= to) {
                // Gateway stopped: sign what is there. Running: the writer lock makes this a no-op.
                let _ = super::checkpoint_offline(dir);
            }
            let n = bundle::export(store.as_ref(), &public_key()?, from, to, &out)?;
            say!("exported {n} entries to {}", out.display());
        }
        AuditCommand::ShowBody { entry, role, body_key, reason } => {
            let key_file = body_key.unwrap_or_else(|| body_key_path(dir, &AuditOptions::default()));
            let body = show_body(dir, entry, &role, &key_file, reason)?;
            let _ = std::io::stdout().lock().write_all(&body);
        }
        AuditCommand::RotateKey => {
            let vkey = super::rotate_key(dir)?;
            say!("new signing key: {vkey}");
            say!("signing key fingerprint: {}", fingerprint_of(&vkey)?);
        }
        AuditCommand::Erase { entry, role, reason, force } => {
            let request = OperatorRequest::Erase { by: operator_name(), seq: entry, role: role.clone(), reason, force };
            let recorded = operator::submit(dir, &request).map_err(refused)?;
            let what = role.map_or("the stored bodies".to_string(), |r| format!("the stored {r} body"));
            say!("erased {what} of entry {entry}; recorded in entry {recorded}");
        }
        AuditCommand::Checkpoint => {
            match super::checkpoint_offline(dir)? {
                Some(size) => say!("signed checkpoint for tree size {size}"),
                None => say!("no new entries since the last checkpoint"),
            }
            say!("signing key fingerprint: {}", fingerprint_of(&public_key()?)?);
        }
        AuditCommand::Snapshot { out, reason } => {
            if let LogLocation::Postgres { node, .. } = &location {
                return Err(BundleError::Invalid(format!(
                    "a snapshot copies log.db; node {node}'s log is in PostgreSQL: copy it with pg_dump and check \
                     the copy with verify-log --postgres (docs/deployment.md, Backups)"
                )));
            }
            record_access(dir, "snapshot", None, Some(format!("to {}", out.display())), reason)?;
            let snap = super::snapshot::snapshot(dir, &out)?;
            say!("snapshot of {} entries in {}, all covered by its checkpoint.txt", snap.entries, out.display());
            say!("signing key fingerprint: {}", snap.fingerprint);
            say!(
                "auditors check it with: verify-log --data-dir {} --key-fingerprint FINGERPRINT, using the fingerprint \
                 received from you out of band",
                out.display()
            );
        }
        // Answered above, before the log is opened.
        AuditCommand::Fingerprint => {}
    }
    Ok(())
}

/// Record a read of audit data in the log before anything is revealed (GeBueV art. 8).
fn record_access(
    dir: &Path,
    action: &str,
    range: Option<(u64, u64)>,
    detail: Option<String>,
    reason: Option<String>,
) -> Result<u64, BundleError> {
    let request = OperatorRequest::Access {
        by: operator_name(),
        action: action.to_string(),
        from_seq: range.map(|r| r.0),
        to_seq: range.map(|r| r.1),
        detail,
        reason,
    };
    operator::submit(dir, &request).map_err(refused)
}

/// A request the log did not record: nothing is revealed.
fn refused(e: AuditError) -> BundleError {
    match e {
        AuditError::Invalid(msg) => BundleError::NotCovered(msg),
        AuditError::Integrity(f) => BundleError::Integrity(f.to_string()),
        AuditError::Unavailable(msg) => BundleError::Invalid(format!("the access could not be recorded: {msg}")),
    }
}

/// A stored body, decrypted with the body master key, after its access is recorded.
fn show_body(
    dir: &Path,
    entry: u64,
    role: &str,
    key_file: &Path,
    reason: Option<String>,
) -> Result<Vec<u8>, BundleError> {
    let row = LogLocation::in_dir(dir)
        .open_reader()?
        .bodies_of(entry)?
        .into_iter()
        .find(|b| b.role == role)
        .ok_or_else(|| BundleError::NotCovered(format!("entry {entry} has no stored {role} body")))?;
    record_access(dir, "show_body", Some((entry, entry)), Some(role.to_string()), reason)?;
    let (Some(ciphertext), Some(wrapped_key)) = (row.body.clone(), row.wrapped_key.clone()) else {
        return match row.body {
            Some(clear) if !row.committed() => Ok(clear),
            _ => Err(BundleError::NotCovered(format!("the {role} body of entry {entry} was erased"))),
        };
    };
    let key = MasterKey::load(key_file).map_err(|e| BundleError::Invalid(e.to_string()))?;
    key.open(entry, role, &Sealed { ciphertext, wrapped_key }).map_err(|e| BundleError::Invalid(e.to_string()))
}

fn fingerprint_of(vkey: &str) -> Result<String, BundleError> {
    PublicKey::parse(vkey).map(|k| k.fingerprint()).map_err(|e| BundleError::Invalid(format!("{FILE_PUB}: {e}")))
}

fn pretty(value: &impl serde::Serialize) -> Result<String, BundleError> {
    serde_json::to_string_pretty(value).map_err(|e| BundleError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Host {
        #[command(subcommand)]
        cmd: HostCmd,
    }

    // A test host parsed once: its size does not matter.
    #[allow(clippy::large_enum_variant)]
    #[derive(clap::Subcommand)]
    enum HostCmd {
        VerifyLog(VerifyLogArgs),
        #[command(subcommand)]
        Audit(AuditCommand),
    }

    #[test]
    fn args_embed_in_a_host_cli() {
        let h =
            Host::try_parse_from(["auditgate", "verify-log", "--db", "x.db", "--public-key", "k", "--json"]).unwrap();
        assert!(matches!(h.cmd, HostCmd::VerifyLog(VerifyLogArgs { json: true, .. })));
        let h = Host::try_parse_from(["auditgate", "audit", "prove", "--entry", "5"]).unwrap();
        assert!(matches!(h.cmd, HostCmd::Audit(AuditCommand::Prove { entry: 5, .. })));
        assert!(Host::try_parse_from(["auditgate", "verify-log", "--db", "x.db"]).is_err());
    }
}
