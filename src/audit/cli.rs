//! Command-line entry points shared by the `verify-log` binary and `auditgate`:
//! [`VerifyLogArgs`] + [`verify_log_main`], and [`AuditCommand`] + [`audit_main`]
//! (`prove`, `export`, `rotate-key`, `erase`, `checkpoint`).
//!
//! Exit codes: 0 success (log intact); 1 integrity failure (verify) or entry not found / not yet
//! covered by a checkpoint (prove, export); 2 usage or I/O error.

use super::bundle::{self, BundleError};
use super::note::PublicKey;
use super::store::{LogStore, SqliteStore};
use super::verify::{Claim, Report, Verifier};
use super::{FILE_CHECKPOINTS, FILE_DB, FILE_PUB};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// `verify-log [--data-dir DIR] [--db FILE --public-key FILE] [--checkpoint FILE] [--json] [--bundle DIR]`
#[derive(clap::Parser, Debug, Clone, Default)]
#[command(name = "verify-log", about = "Verify an auditgate audit log using only its public key", version)]
pub struct VerifyLogArgs {
    /// Data directory holding log.db, signing.pub and checkpoints.log (default ./audit).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["db", "bundle"])]
    pub data_dir: Option<PathBuf>,
    /// A log database file to verify (requires --public-key).
    #[arg(long, value_name = "FILE", requires = "public_key", conflicts_with = "bundle")]
    pub db: Option<PathBuf>,
    /// The trusted public key (signing.pub form); overrides the data directory's copy.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// A checkpoint note saved earlier; the log must be a consistent extension of it.
    #[arg(long, value_name = "FILE", conflicts_with = "bundle")]
    pub checkpoint: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Verify an export bundle offline instead of a log.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
}

/// Run `verify-log`; returns the process exit code.
pub fn verify_log_main(args: VerifyLogArgs) -> i32 {
    let result = if let Some(dir) = &args.bundle {
        verify_bundle_cmd(dir, args.public_key.as_deref())
    } else {
        verify_log(&args)
    };
    match result {
        Ok(report) => {
            print_report(&report, args.json);
            i32::from(!report.ok)
        }
        Err(msg) => {
            if args.json {
                println!("{}", serde_json::json!({ "ok": false, "error": msg }));
            }
            eprintln!("verify-log: {msg}");
            2
        }
    }
}

fn read_key(path: &Path) -> Result<PublicKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    PublicKey::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn verify_bundle_cmd(dir: &Path, key: Option<&Path>) -> Result<Report, String> {
    let key = key.map(read_key).transpose()?;
    bundle::verify_bundle(dir, key.as_ref()).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Verify a log directory or database file as `verify-log` does (without `--bundle`), returning
/// the report instead of printing it. Errors are usage or I/O problems (exit 2).
pub fn verify_log(args: &VerifyLogArgs) -> Result<Report, String> {
    let (db, key_path, cp_log) = match (&args.db, &args.data_dir) {
        (Some(db), _) => (db.clone(), args.public_key.clone().unwrap_or_default(), None),
        (None, dir) => {
            let dir = dir.clone().unwrap_or_else(|| PathBuf::from("./audit"));
            let key = args.public_key.clone().unwrap_or_else(|| dir.join(FILE_PUB));
            (dir.join(FILE_DB), key, Some(dir.join(FILE_CHECKPOINTS)))
        }
    };
    let trusted = read_key(&key_path)?;
    let anchor = match &args.checkpoint {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let store = SqliteStore::open_read_only(&db).map_err(|e| e.to_string())?;
    let mut claims: Vec<Claim> = store
        .checkpoints()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|c| Claim { source: FILE_DB.into(), note: c.note, stated_size: Some(c.size) })
        .collect();
    if let Some(path) = cp_log.filter(|p| p.exists()) {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let notes = super::note::split_notes(&text);
        claims.extend(notes.into_iter().map(|note| Claim { source: FILE_CHECKPOINTS.into(), note, stated_size: None }));
    }
    let mut verifier = Verifier::new(trusted, claims, anchor.as_deref())?;
    stream_entries(&store, &mut verifier, !args.json).map_err(|e| format!("reading {}: {e}", db.display()))?;
    let bodies = store.bodies().map_err(|e| e.to_string())?;
    Ok(verifier.finish(&bodies))
}

/// Feed every row to the verifier, with a progress line on a terminal for big logs.
fn stream_entries(store: &SqliteStore, v: &mut Verifier, progress: bool) -> rusqlite::Result<()> {
    let total = store.size().unwrap_or(0);
    let show = progress && total > 200_000 && std::io::stderr().is_terminal();
    let mut stmt = store.connection().prepare("SELECT seq, leaf_hash, bytes FROM entries ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let seq = row.get::<_, i64>(0)?;
        let recorded = row.get_ref(1)?.as_blob_or_null()?;
        let bytes = row.get_ref(2)?.as_blob()?;
        if !v.push(seq.max(0) as u64, recorded, bytes) {
            break;
        }
        n += 1;
        if show && n.is_multiple_of(100_000) {
            eprint!("\rverify-log: {n}/{total} entries ({}%)", n * 100 / total.max(1));
        }
    }
    if show {
        eprintln!("\rverify-log: {n}/{total} entries checked      ");
    }
    Ok(())
}

fn print_report(r: &Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        return;
    }
    match &r.failure {
        None => println!("log intact: {} entries", r.entries),
        Some(f) => println!("INTEGRITY FAILURE at entry {}: {}", f.seq, f.reason),
    }
    if let Some(origin) = &r.origin {
        println!("  origin: {origin}");
    }
    println!("  root hash of the {} entries verified: {}", r.entries, r.root_hash);
    println!(
        "  checkpoint notes verified (log.db and checkpoints.log): {}; signed by the trusted key up to tree size {}",
        r.checkpoints_verified, r.signed_size
    );
    if r.unsigned_tail > 0 {
        println!(
            "  unsigned tail: {} entries ({} to {}) are after the last checkpoint",
            r.unsigned_tail,
            r.signed_size,
            r.entries - 1
        );
    }
    if let Some(size) = r.consistent_with_checkpoint {
        println!("  the log extends the given checkpoint of tree size {size}");
    }
    if r.keys.len() > 1 {
        println!("  signing keys over time: {}", r.keys.join(" -> "));
    }
    if r.bodies_checked > 0 || !r.erased_bodies.is_empty() {
        println!("  stored bodies: {} checked, {} erased", r.bodies_checked, r.erased_bodies.len());
    }
    for b in &r.erased_bodies {
        println!("    entry {} {} body erased at {}", b.seq, b.role, b.erased_at.as_deref().unwrap_or("unknown time"));
    }
}

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
    /// Sign a checkpoint now if the log grew (gateway stopped).
    Checkpoint,
}

/// Run one `auditgate audit` command on the log in `data_dir`; returns the exit code.
pub fn audit_main(cmd: AuditCommand, data_dir: &Path) -> i32 {
    match run_audit(cmd, data_dir) {
        Ok(()) => 0,
        Err(BundleError::NotCovered(msg)) => {
            eprintln!("auditgate audit: {msg}");
            1
        }
        Err(e) => {
            eprintln!("auditgate audit: {e}");
            2
        }
    }
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
            println!("{}", serde_json::to_string_pretty(&receipt).map_err(|e| BundleError::Invalid(e.to_string()))?);
        }
        AuditCommand::Consistency { old_size } => {
            let proof = bundle::prove_consistency(&open()?, old_size)?;
            let text = serde_json::to_string_pretty(&proof).map_err(|e| BundleError::Invalid(e.to_string()))?;
            println!("{text}");
        }
        AuditCommand::Export { from, to, out } => {
            let store = open()?;
            if store.checkpoints()?.last().is_none_or(|c| c.size <= to) {
                // Gateway stopped: sign what is there. Running: the writer lock makes this a no-op.
                let _ = super::checkpoint_offline(dir);
            }
            let n = bundle::export(&store, &public_key()?, from, to, &out)?;
            println!("exported {n} entries to {}", out.display());
        }
        AuditCommand::RotateKey => {
            let vkey = super::rotate_key(dir).map_err(|e| BundleError::Invalid(e.to_string()))?;
            println!("new signing key: {vkey}");
        }
        AuditCommand::Erase { entry, role } => {
            let mut store = SqliteStore::open_writer(&dir.join(FILE_DB))?;
            let now = super::entry::format_time(chrono::Utc::now());
            let n = store.erase_bodies(entry, role.as_deref(), &now)?;
            if n == 0 {
                return Err(BundleError::NotCovered(format!("entry {entry} has no stored body to erase")));
            }
            println!("erased {n} stored bodies of entry {entry}");
        }
        AuditCommand::Checkpoint => {
            match super::checkpoint_offline(dir).map_err(|e| BundleError::Invalid(e.to_string()))? {
                Some(size) => println!("signed checkpoint for tree size {size}"),
                None => println!("no new entries since the last checkpoint"),
            }
        }
    }
    Ok(())
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
