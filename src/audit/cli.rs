//! Command-line entry points shared by the `verify-log` binary and `auditgate`:
//! [`VerifyLogArgs`] + [`verify_log_main`], and [`AuditCommand`] + [`audit_main`]
//! (`prove`, `consistency`, `export`, `snapshot`, `show-body`, `rotate-key`, `erase`, `checkpoint`,
//! `fingerprint`). Every read of audit data first appends an `access` entry (see `operator`).
//!
//! `verify-log` exit codes: 0 intact and attested; 1 integrity failure; 2 usage or I/O error;
//! 3 intact but not attested (key not pinned, or entries not yet signed). `auditgate audit`: 0
//! success; 1 entry not found / not yet covered by a checkpoint (prove, export) or the log fails
//! its check before signing; 2 usage or I/O error. Output to a closed pipe ends quietly.

use super::bundle::{self, BundleError};
use super::merkle::stored_position;
use super::note::{parse_fingerprint, PublicKey};
use super::operator::{self, operator_name, OperatorRequest};
use super::sealed::{MasterKey, Sealed};
use super::store::{LogStore, SqliteStore};
use super::verify::{Claim, Failure, Report, Trust, Verifier};
use super::{body_key_path, AuditError, AuditOptions, FILE_CHECKPOINTS, FILE_DB, FILE_PUB, FILE_VERIFIED};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// `verify-log [--data-dir DIR] [--db FILE] [--public-key FILE | --key-fingerprint HASH]
/// [--checkpoint FILE] [--json] [--bundle DIR]`
#[derive(clap::Parser, Debug, Clone, Default)]
#[command(name = "verify-log", about = "Verify an auditgate audit log using only its public key", version)]
#[command(group(clap::ArgGroup::new("pin").args(["public_key", "key_fingerprint"]).multiple(false)))]
pub struct VerifyLogArgs {
    /// Data directory holding log.db, signing.pub and checkpoints.log (default ./audit).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["db", "bundle"])]
    pub data_dir: Option<PathBuf>,
    /// A log database file to verify (requires --public-key or --key-fingerprint).
    #[arg(long, value_name = "FILE", requires = "pin", conflicts_with = "bundle")]
    pub db: Option<PathBuf>,
    /// The public key you trust (signing.pub form), received out of band: pins it.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// The fingerprint of the key you trust (SHA-256 of the public key, 64 hex digits), received
    /// out of band: pins whichever key of the log's history has it.
    #[arg(long, value_name = "HASH")]
    pub key_fingerprint: Option<String>,
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
    let result = if let Some(dir) = &args.bundle { verify_bundle_cmd(dir, &args) } else { verify_log(&args) };
    match result {
        Ok(report) => {
            // A closed pipe (`verify-log | head`) is not an error of the log: keep the verdict.
            let _ = print_report(&mut std::io::stdout().lock(), &report, args.json);
            report.exit_code()
        }
        Err(msg) => {
            if args.json {
                let _ = writeln!(std::io::stdout().lock(), "{}", serde_json::json!({ "ok": false, "error": msg }));
            }
            let _ = writeln!(std::io::stderr().lock(), "verify-log: {msg}");
            2
        }
    }
}

fn read_key(path: &Path) -> Result<PublicKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    PublicKey::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The key to check against: the one the auditor pinned, else the copy beside the log (which
/// can only give "not attested").
fn trust_of(args: &VerifyLogArgs, beside: Option<&Path>) -> Result<Trust, String> {
    if let Some(path) = &args.public_key {
        return Ok(Trust::Pinned(read_key(path)?));
    }
    if let Some(fp) = &args.key_fingerprint {
        return parse_fingerprint(fp).map(Trust::Fingerprint).map_err(|e| e.to_string());
    }
    match beside {
        Some(path) => Ok(Trust::Beside(read_key(path)?)),
        None => Err("give the key you trust: --public-key FILE or --key-fingerprint HASH".into()),
    }
}

fn verify_bundle_cmd(dir: &Path, args: &VerifyLogArgs) -> Result<Report, String> {
    let trust = trust_of(args, Some(&dir.join(FILE_PUB)))?;
    bundle::verify_bundle(dir, &trust).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Verify a log directory or database file as `verify-log` does (without `--bundle`), returning
/// the report instead of printing it. Errors are usage or I/O problems (exit 2).
pub fn verify_log(args: &VerifyLogArgs) -> Result<Report, String> {
    let (db, trust, dir) = match (&args.db, &args.data_dir) {
        (Some(db), _) => (db.clone(), trust_of(args, None)?, None),
        (None, dir) => {
            let dir = dir.clone().unwrap_or_else(|| PathBuf::from("./audit"));
            (dir.join(FILE_DB), trust_of(args, Some(&dir.join(FILE_PUB)))?, Some(dir))
        }
    };
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
    if let Some(dir) = &dir {
        claims.extend(dir_claims(dir)?);
    }
    let mut verifier = Verifier::new(trust, claims, anchor.as_deref())?;
    stream_entries(&store, &mut verifier, !args.json).map_err(|e| format!("reading {}: {e}", db.display()))?;
    let bodies = store.bodies().map_err(|e| e.to_string())?;
    Ok(verifier.finish(&bodies))
}

/// The notes kept beside the database: every note of `checkpoints.log`, and the writer's
/// verified-state record (a signed checkpoint of what it last verified).
fn dir_claims(dir: &Path) -> Result<Vec<Claim>, String> {
    let read = |path: PathBuf| -> Result<Option<String>, String> {
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    };
    let mut claims = Vec::new();
    if let Some(text) = read(dir.join(FILE_CHECKPOINTS))? {
        let notes = super::note::split_notes(&text);
        claims.extend(notes.into_iter().map(|note| Claim { source: FILE_CHECKPOINTS.into(), note, stated_size: None }));
    }
    if let Some(note) = read(dir.join(FILE_VERIFIED))? {
        claims.push(Claim { source: FILE_VERIFIED.into(), note, stated_size: None });
    }
    Ok(claims)
}

/// The stored `tree_hashes` rows in position order, compared with the nodes the verifier
/// recomputes as it goes. One row is held back when a node is missing, for the next comparison.
struct NodeRows<'s> {
    rows: Option<rusqlite::Rows<'s>>,
    held: Option<NodeRow>,
}

/// `(pos, level, idx, hash)` of one `tree_hashes` row.
type NodeRow = (i64, i64, i64, Vec<u8>);

impl NodeRows<'_> {
    fn next(&mut self) -> rusqlite::Result<Option<NodeRow>> {
        if let Some(h) = self.held.take() {
            return Ok(Some(h));
        }
        match self.rows.as_mut() {
            None => Ok(None),
            Some(rows) => match rows.next()? {
                None => Ok(None),
                Some(r) => Ok(Some((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))),
            },
        }
    }

    /// Compare the nodes the last entry completed with their rows.
    fn check(&mut self, v: &mut Verifier) -> rusqlite::Result<bool> {
        if self.rows.is_none() {
            return Ok(true);
        }
        for (level, index, hash) in v.created().to_vec() {
            let want = stored_position(level, index) as i64;
            let stored = match self.next()? {
                Some(row) if row.0 > want => {
                    self.held = Some(row);
                    None
                }
                Some((pos, ..)) if pos < want => {
                    let seq = super::chain::node_entry(level, index);
                    let f = Failure::new(seq, format!("tree_hashes holds a row at position {pos} that no entry creates (expected the node at position {want}): tree_hashes was altered"));
                    return Ok(v.stop_with(f));
                }
                Some((_, l, i, _)) if (l, i) != (i64::from(level), index as i64) => {
                    let f = Failure::new(super::chain::node_entry(level, index), format!("the stored tree hash row at position {want} names level {l}, index {i} instead of level {level}, index {index}: tree_hashes was altered"));
                    return Ok(v.stop_with(f));
                }
                Some((.., h)) => Some(h),
                None => None,
            };
            if !v.check_stored_node(level, index, &hash, stored.as_deref()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// After the last entry: rows left over describe entries the log does not have.
    fn finish(&mut self, v: &mut Verifier) -> rusqlite::Result<()> {
        if let Some((pos, level, index, _)) = self.next()? {
            let n = v.size();
            v.stop_with(Failure::new(n, format!("tree_hashes holds a node (level {level}, index {index}, position {pos}) over entries the log does not have: entries after {} were removed", n.saturating_sub(1))));
        }
        Ok(())
    }
}

/// Feed every row to the verifier with its stored columns and tree nodes, with a progress line
/// on a terminal for big logs.
fn stream_entries(store: &SqliteStore, v: &mut Verifier, progress: bool) -> rusqlite::Result<()> {
    let total = store.size().unwrap_or(0);
    let show = progress && total > 200_000 && std::io::stderr().is_terminal();
    let conn = store.connection();
    let mut stmt = conn.prepare("SELECT seq, kind, leaf_hash, bytes FROM entries ORDER BY seq")?;
    // Old-layout logs (no tree_hashes) keep no interior nodes to compare.
    let mut node_stmt = if store.has_tree_hashes() {
        Some(conn.prepare("SELECT pos, level, idx, hash FROM tree_hashes ORDER BY pos")?)
    } else {
        None
    };
    let mut nodes = NodeRows { rows: node_stmt.as_mut().map(|s| s.query([])).transpose()?, held: None };
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    let mut complete = true;
    while let Some(row) = rows.next()? {
        let seq = row.get::<_, i64>(0)?;
        let kind = row.get_ref(1)?.as_str_or_null()?;
        let leaf_hash = row.get_ref(2)?.as_blob_or_null()?;
        let bytes = row.get_ref(3)?.as_blob()?;
        if !v.push(super::chain::Row { seq: seq.max(0) as u64, leaf_hash, kind, bytes }) || !nodes.check(v)? {
            complete = false;
            break;
        }
        n += 1;
        if show && n.is_multiple_of(100_000) {
            eprint!("\rverify-log: {n}/{total} entries ({}%)", n * 100 / total.max(1));
        }
    }
    if complete {
        nodes.finish(v)?;
    }
    if show {
        eprintln!("\rverify-log: {n}/{total} entries checked      ");
    }
    Ok(())
}

fn print_report(out: &mut impl Write, r: &Report, json: bool) -> std::io::Result<()> {
    if json {
        return writeln!(out, "{}", serde_json::to_string_pretty(r).unwrap_or_default());
    }
    match &r.failure {
        Some(f) => writeln!(out, "INTEGRITY FAILURE at entry {}: {}", f.seq, f.reason)?,
        None if r.ok => writeln!(
            out,
            "log intact and attested: {} entries, all covered by checkpoints signed by the pinned key (fingerprint {})",
            r.entries, r.key_fingerprint
        )?,
        None => {
            writeln!(out, "log intact but NOT ATTESTED: {} entries", r.entries)?;
            for why in &r.not_attested {
                writeln!(out, "  not attested: {why}")?;
            }
        }
    }
    if let Some(origin) = &r.origin {
        writeln!(out, "  origin: {origin}")?;
    }
    writeln!(out, "  root hash of the {} entries verified: {}", r.entries, r.root_hash)?;
    writeln!(
        out,
        "  checkpoint notes verified (log.db and checkpoints.log): {}; signed by the trusted key up to tree size {}",
        r.checkpoints_verified, r.signed_size
    )?;
    if let Some(size) = r.consistent_with_checkpoint {
        writeln!(out, "  the log extends the given checkpoint of tree size {size}")?;
    }
    if r.keys.len() > 1 {
        writeln!(out, "  signing keys over time: {}", r.keys.join(" -> "))?;
    }
    if r.bodies_checked > 0 || !r.erased_bodies.is_empty() {
        writeln!(out, "  stored bodies: {} checked, {} erased", r.bodies_checked, r.erased_bodies.len())?;
    }
    for b in &r.erased_bodies {
        let at = b.erased_at.as_deref().unwrap_or("unknown time");
        writeln!(out, "    entry {} {} body erased at {at}", b.seq, b.role)?;
    }
    Ok(())
}

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
    if !dir.join(FILE_DB).is_file() {
        return Err(BundleError::Invalid(format!("no audit log at {}", dir.join(FILE_DB).display())));
    }
    let open = || SqliteStore::open_read_only(&dir.join(FILE_DB));
    let public_key = || std::fs::read_to_string(dir.join(FILE_PUB)).map(|s| s.trim().to_string());
    match cmd {
        AuditCommand::Prove { entry, reason } => {
            record_access(dir, "prove", Some((entry, entry)), None, reason)?;
            let receipt = bundle::prove(&open()?, &public_key()?, entry)?;
            say!("{}", pretty(&receipt)?);
        }
        AuditCommand::Consistency { old_size, reason } => {
            record_access(dir, "consistency", None, Some(format!("from tree size {old_size}")), reason)?;
            let proof = bundle::prove_consistency(&open()?, old_size)?;
            say!("{}", pretty(&proof)?);
        }
        AuditCommand::Export { from, to, out, reason } => {
            record_access(dir, "export", Some((from, to)), Some(format!("to {}", out.display())), reason)?;
            let store = open()?;
            if store.checkpoints()?.last().is_none_or(|c| c.size <= to) {
                // Gateway stopped: sign what is there. Running: the writer lock makes this a no-op.
                let _ = super::checkpoint_offline(dir);
            }
            let n = bundle::export(&store, &public_key()?, from, to, &out)?;
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
        AuditCommand::Fingerprint => {
            let vkey = public_key()?;
            say!("{}", fingerprint_of(&vkey)?);
            say!("signing key: {vkey}");
        }
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
        AuditError::Integrity { seq, reason } => BundleError::Integrity(format!("entry {seq}: {reason}")),
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
    let row = SqliteStore::open_read_only(&dir.join(FILE_DB))?
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
