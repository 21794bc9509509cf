//! `auditgate audit` ([`AuditCommand`] + [`audit_main`]: `prove`, `export`, `snapshot`,
//! `rotate-key`, `erase`, `checkpoint`, `fingerprint`). `verify-log` ([`VerifyLogArgs`] +
//! [`verify_log_main`]) lives in the `auditlog` crate and is re-exported here.
//!
//! `auditgate audit` exit codes: 0
//! success; 1 entry not found / not yet covered by a checkpoint (prove, export) or the log fails
//! its check before signing; 2 usage or I/O error. Output to a closed pipe ends quietly.

pub use auditlog::cli::{verify_log, verify_log_main, VerifyLogArgs};

use super::bundle::{self, BundleError};
use super::note::PublicKey;
use super::store::{LogStore, SqliteStore};
use super::{FILE_DB, FILE_PUB};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `auditgate audit ...`
#[derive(clap::Subcommand, Debug, Clone)]
pub enum AuditCommand {
    /// Print an inclusion proof (JSON) for entry N against the latest checkpoint.
    Prove {
        #[arg(long)]
        entry: u64,
    },
    /// Print an RFC 9162 consistency proof (JSON) from an older tree size to the latest checkpoint.
    Consistency {
        #[arg(long)]
        old_size: u64,
    },
    /// Write a self-contained bundle of entries FROM..=TO that `verify-log --bundle DIR` checks.
    Export {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Replace the signing key (gateway stopped); the log records the rotation signed by the old key.
    RotateKey,
    /// Erase the stored bodies of entry N (GDPR); the log still verifies and reports the erasure.
    Erase {
        #[arg(long)]
        entry: u64,
        /// Only this body role (request, upstream_request, response).
        #[arg(long)]
        role: Option<String>,
    },
    /// Sign a checkpoint now if the log grew (gateway stopped), after verifying the log.
    Checkpoint,
    /// Write a consistent copy for auditors into DIR (log.db, signing.pub, checkpoint.txt), up to
    /// a freshly signed checkpoint; works while the gateway runs.
    Snapshot {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
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
    if !dir.join(FILE_DB).is_file() {
        return Err(BundleError::Invalid(format!("no audit log at {}", dir.join(FILE_DB).display())));
    }
    let open = || SqliteStore::open_read_only(&dir.join(FILE_DB));
    let public_key = || std::fs::read_to_string(dir.join(FILE_PUB)).map(|s| s.trim().to_string());
    match cmd {
        AuditCommand::Prove { entry } => {
            let receipt = bundle::prove(&open()?, &public_key()?, entry)?;
            say!("{}", pretty(&receipt)?);
        }
        AuditCommand::Consistency { old_size } => {
            let proof = bundle::prove_consistency(&open()?, old_size)?;
            say!("{}", pretty(&proof)?);
        }
        AuditCommand::Export { from, to, out } => {
            let store = open()?;
            if store.checkpoints()?.last().is_none_or(|c| c.size <= to) {
                // Gateway stopped: sign what is there. Running: the writer lock makes this a no-op.
                let _ = super::checkpoint_offline(dir);
            }
            let n = bundle::export(&store, &public_key()?, from, to, &out)?;
            say!("exported {n} entries to {}", out.display());
        }
        AuditCommand::RotateKey => {
            let vkey = super::rotate_key(dir)?;
            say!("new signing key: {vkey}");
            say!("signing key fingerprint: {}", fingerprint_of(&vkey)?);
        }
        AuditCommand::Erase { entry, role } => {
            let mut store = SqliteStore::open_writer(&dir.join(FILE_DB))?;
            let now = super::entry::format_time(chrono::Utc::now());
            let n = store.erase_bodies(entry, role.as_deref(), &now)?;
            if n == 0 {
                return Err(BundleError::NotCovered(format!("entry {entry} has no stored body to erase")));
            }
            say!("erased {n} stored bodies of entry {entry}");
        }
        AuditCommand::Checkpoint => {
            match super::checkpoint_offline(dir)? {
                Some(size) => say!("signed checkpoint for tree size {size}"),
                None => say!("no new entries since the last checkpoint"),
            }
            say!("signing key fingerprint: {}", fingerprint_of(&public_key()?)?);
        }
        AuditCommand::Snapshot { out } => {
            let snap = super::snapshot::snapshot(dir, &out)?;
            say!("snapshot of {} entries in {}, all covered by its checkpoint.txt", snap.entries, out.display());
            say!("signing key fingerprint: {}", snap.fingerprint);
            say!(
                "auditors check it with: verify-log --data-dir {} --key-fingerprint FINGERPRINT, using the fingerprint \
                 received from you out of band",
                out.display()
            );
        }
        AuditCommand::Fingerprint => {
            let vkey = public_key()?;
            say!("{}", fingerprint_of(&vkey)?);
            say!("signing key: {vkey}");
        }
    }
    Ok(())
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
        assert!(matches!(h.cmd, HostCmd::Audit(AuditCommand::Prove { entry: 5 })));
        assert!(Host::try_parse_from(["auditgate", "verify-log", "--db", "x.db"]).is_err());
    }
}
