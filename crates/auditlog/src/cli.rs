//! `verify-log`: [`VerifyLogArgs`] + [`verify_log_main`], also embedded in `auditgate verify-log`.
//!
//! Exit codes: 0 intact and attested; 1 integrity failure; 2 usage or I/O error; 3 intact but not
//! attested (key not pinned, entries not yet signed, the witness quorum not met, or entries not
//! covered by a valid time stamp). Output to a closed pipe ends quietly.

use crate::bundle;
use crate::cosign::WitnessKey;
use crate::db::LogDb;
use crate::merkle::stored_position;
use crate::note::{parse_fingerprint, PublicKey};
use crate::timestamp::{self, TrustedCert};
use crate::verify::{Broken, Claim, Failure, Report, Trust, Verifier};
use crate::witness::{self, WitnessPolicy};
use crate::{FILE_CHECKPOINTS, FILE_DB, FILE_PUB, FILE_VERIFIED};
use clap::Parser;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The `verify-log` binary: parse the command line, verify, return the exit code.
pub fn main() -> i32 {
    verify_log_main(VerifyLogArgs::parse())
}

/// `verify-log [--data-dir DIR] [--db FILE] [--public-key FILE | --key-fingerprint HASH]
/// [--checkpoint FILE] [--witness-key FILE ... [--witness-quorum N]] [--tsa-cert FILE ...]
/// [--json] [--bundle DIR]`
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
    /// A witness's verifier key (the `witness.pub` it published), received out of band; repeat
    /// for each witness you trust.
    #[arg(long, value_name = "FILE", conflicts_with = "bundle")]
    pub witness_key: Vec<PathBuf>,
    /// How many of the --witness-key witnesses must have cosigned the checkpoint that covers the
    /// log (default: all of them). Without the quorum the verdict is "not attested" (exit 3).
    #[arg(long, value_name = "N", requires = "witness_key")]
    pub witness_quorum: Option<usize>,
    /// A time-stamping authority's certificate (PEM: the TSA's own, or the CA that issued it),
    /// received out of band; repeat for each TSA you trust. Every stored RFC 3161 token is
    /// checked, the time each entry is proven to have existed by is printed, and a log not
    /// covered by a valid token is "not attested" (exit 3).
    #[arg(long, value_name = "FILE", conflicts_with = "bundle")]
    pub tsa_cert: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Verify an export bundle offline instead of a log.
    #[arg(long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Verify the logs kept in a PostgreSQL database (libpq URL) by several gateway nodes: every
    /// node's chain, or the one named by --node.
    #[cfg(feature = "postgres")]
    #[arg(long, value_name = "URL", conflicts_with_all = ["data_dir", "db", "bundle"])]
    pub postgres: Option<String>,
    /// With --postgres: verify this node's chain only.
    #[cfg(feature = "postgres")]
    #[arg(long, value_name = "NAME", requires = "postgres")]
    pub node: Option<String>,
    /// With --postgres: a file of `NODE FINGERPRINT` lines, received out of band, pinning each
    /// node's key (a node not listed is checked against its own genesis key: not attested).
    #[cfg(feature = "postgres")]
    #[arg(long, value_name = "FILE", requires = "postgres", conflicts_with = "pin")]
    pub node_keys: Option<PathBuf>,
}

#[cfg(feature = "postgres")]
mod postgres;

/// Run `verify-log`; returns the process exit code.
pub fn verify_log_main(args: VerifyLogArgs) -> i32 {
    #[cfg(feature = "postgres")]
    if let Some(url) = &args.postgres {
        return postgres::verify_main(url, &args);
    }
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
    let store = LogDb::open(&db).map_err(|e| e.to_string())?;
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
    let mut report = verifier.finish(&bodies);
    assess_attestations(
        args,
        &mut report,
        || store.checkpoints().map_err(|e| e.to_string()),
        || store.cosignatures().map_err(|e| e.to_string()),
        || store.timestamps().map_err(|e| e.to_string()),
    )?;
    Ok(report)
}

/// With `--witness-key` or `--tsa-cert`: the witnesses' cosignatures and the time stamps of the
/// stored checkpoints, into the report's verdict (read only when asked for).
fn assess_attestations(
    args: &VerifyLogArgs,
    report: &mut Report,
    mut checkpoints: impl FnMut() -> Result<Vec<crate::db::StoredCheckpoint>, String>,
    cosignatures: impl FnOnce() -> Result<Vec<crate::db::StoredCosignature>, String>,
    timestamps: impl FnOnce() -> Result<Vec<crate::db::StoredTimestamp>, String>,
) -> Result<(), String> {
    if let Some(policy) = witness_policy(args)? {
        match witness::assess(&policy, &checkpoints()?, &cosignatures()?) {
            Ok(summary) => report.witnesses = Some(summary),
            Err(f) if report.failure.is_none() => report.failure = Some(f),
            Err(_) => {}
        }
        report.conclude();
    }
    if let Some(certs) = tsa_certs(args)? {
        match timestamp::assess(&certs, &checkpoints()?, &timestamps()?) {
            Ok(summary) => report.timestamps = Some(summary),
            Err(f) if report.failure.as_ref().is_none_or(|g| f.seq < g.seq) => report.failure = Some(f),
            Err(_) => {}
        }
        report.conclude();
    }
    Ok(())
}

/// The certificates of `--tsa-cert`, when given.
fn tsa_certs(args: &VerifyLogArgs) -> Result<Option<Vec<TrustedCert>>, String> {
    if args.tsa_cert.is_empty() {
        return Ok(None);
    }
    let mut certs = Vec::new();
    for path in &args.tsa_cert {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        certs.extend(TrustedCert::load_pem(&pem).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(Some(certs))
}

/// The pinned witness keys and the quorum, when `--witness-key` is given.
fn witness_policy(args: &VerifyLogArgs) -> Result<Option<WitnessPolicy>, String> {
    if args.witness_key.is_empty() {
        return Ok(None);
    }
    let mut keys: Vec<WitnessKey> = Vec::new();
    for path in &args.witness_key {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let key = WitnessKey::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let quorum = args.witness_quorum.unwrap_or(keys.len());
    if quorum == 0 || quorum > keys.len() {
        return Err(format!(
            "--witness-quorum {quorum} must be between 1 and the {} distinct witness keys given",
            keys.len()
        ));
    }
    Ok(Some(WitnessPolicy { keys, quorum }))
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
        let notes = crate::note::split_notes(&text);
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
    /// The next stored row; None for a log that keeps no interior nodes.
    rows: Option<NextNode<'s>>,
    held: Option<NodeRow>,
}

/// `(pos, level, idx, hash)` of one `tree_hashes` row.
type NodeRow = (i64, i64, i64, Vec<u8>);

/// Reads the next stored tree row, in position order.
type NextNode<'s> = Box<dyn FnMut() -> Result<Option<NodeRow>, String> + 's>;

impl NodeRows<'_> {
    fn next(&mut self) -> Result<Option<NodeRow>, String> {
        if let Some(h) = self.held.take() {
            return Ok(Some(h));
        }
        match self.rows.as_mut() {
            None => Ok(None),
            Some(next) => next(),
        }
    }

    /// Compare the nodes the last entry completed with their rows.
    fn check(&mut self, v: &mut Verifier) -> Result<bool, String> {
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
                    let seq = crate::chain::node_entry(level, index);
                    let (position, expected) = (pos as u64, want as u64);
                    let f = Failure::new(seq, Broken::TreeHashStray { position, expected });
                    return Ok(v.stop_with(f));
                }
                Some((_, l, i, _)) if (l, i) != (i64::from(level), index as i64) => {
                    let (position, found_level, found_index) = (want as u64, l as u32, i as u64);
                    let kind = Broken::TreeHashMisplaced { position, level, index, found_level, found_index };
                    let f = Failure::new(crate::chain::node_entry(level, index), kind);
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
    fn finish(&mut self, v: &mut Verifier) -> Result<(), String> {
        if let Some((pos, level, index, _)) = self.next()? {
            let n = v.size();
            let kind = Broken::TreeHashBeyondEnd { level: level as u32, index: index as u64, position: pos as u64 };
            v.stop_with(Failure::new(n, kind));
        }
        Ok(())
    }
}

/// Feed every row to the verifier with its stored columns and tree nodes, with a progress line
/// on a terminal for big logs.
fn stream_entries(store: &LogDb, v: &mut Verifier, progress: bool) -> Result<(), String> {
    let total = store.size().unwrap_or(0);
    let show = progress && total > 200_000 && std::io::stderr().is_terminal();
    let conn = store.connection();
    let err = |e: rusqlite::Error| e.to_string();
    let mut stmt = conn.prepare("SELECT seq, kind, leaf_hash, bytes FROM entries ORDER BY seq").map_err(err)?;
    // Old-layout logs (no tree_hashes) keep no interior nodes to compare.
    let mut node_stmt = if store.has_tree_hashes() {
        Some(conn.prepare("SELECT pos, level, idx, hash FROM tree_hashes ORDER BY pos").map_err(err)?)
    } else {
        None
    };
    let mut node_rows = node_stmt.as_mut().map(|s| s.query([])).transpose().map_err(err)?;
    let next_node = node_rows.as_mut().map(|rows| {
        Box::new(move || match rows.next().map_err(err)? {
            None => Ok(None),
            Some(r) => {
                let row: NodeRow =
                    (r.get(0).map_err(err)?, r.get(1).map_err(err)?, r.get(2).map_err(err)?, r.get(3).map_err(err)?);
                Ok(Some(row))
            }
        }) as NextNode<'_>
    });
    let mut nodes = NodeRows { rows: next_node, held: None };
    let mut rows = stmt.query([]).map_err(err)?;
    let mut n = 0u64;
    let mut complete = true;
    while let Some(row) = rows.next().map_err(err)? {
        let seq = row.get::<_, i64>(0).map_err(err)?;
        let kind = row.get_ref(1).map_err(err)?.as_str_or_null().map_err(|e| e.to_string())?;
        let leaf_hash = row.get_ref(2).map_err(err)?.as_blob_or_null().map_err(|e| e.to_string())?;
        let bytes = row.get_ref(3).map_err(err)?.as_blob().map_err(|e| e.to_string())?;
        if !v.push(crate::chain::Row { seq: seq.max(0) as u64, leaf_hash, kind, bytes }) || !nodes.check(v)? {
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
        Some(f) => writeln!(out, "INTEGRITY FAILURE at entry {}: {}", f.seq, f.kind)?,
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
    if let Some(w) = &r.witnesses {
        writeln!(
            out,
            "  witnessed: cosigned by at least {} of {} pinned witnesses up to tree size {} ({} cosignatures verified)",
            w.quorum,
            w.keys.len(),
            w.witnessed_size,
            w.cosignatures_verified
        )?;
        for c in &w.latest {
            let at = chrono::DateTime::from_timestamp(c.time as i64, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
            writeln!(out, "    witness {} cosigned tree size {} at {at}", c.witness, c.tree_size)?;
        }
    }
    if let Some(t) = &r.timestamps {
        print_timestamps(out, t)?;
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

/// The time bounds, one line per range of entries.
fn print_timestamps(out: &mut impl Write, t: &timestamp::TimestampSummary) -> std::io::Result<()> {
    writeln!(
        out,
        "  time-stamped: {} tokens verified (certificates: {}), up to tree size {}{}",
        t.tokens_verified,
        t.certificates.join("; "),
        t.stamped_size,
        if t.tokens_other > 0 { format!("; {} tokens by other TSAs skipped", t.tokens_other) } else { String::new() }
    )?;
    for b in &t.bounds {
        writeln!(
            out,
            "    entries {}..{} existed by {} (time stamp on tree size {} from {})",
            b.from, b.to, b.existed_by, b.tree_size, b.tsa
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Host {
        #[command(subcommand)]
        cmd: HostCmd,
    }

    #[derive(clap::Subcommand)]
    enum HostCmd {
        VerifyLog(VerifyLogArgs),
    }

    #[test]
    fn args_embed_in_a_host_cli() {
        let h =
            Host::try_parse_from(["auditgate", "verify-log", "--db", "x.db", "--public-key", "k", "--json"]).unwrap();
        assert!(matches!(h.cmd, HostCmd::VerifyLog(VerifyLogArgs { json: true, .. })));
        assert!(Host::try_parse_from(["auditgate", "verify-log", "--db", "x.db"]).is_err());
    }
}
