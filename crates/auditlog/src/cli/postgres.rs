//! `verify-log --postgres URL [--node NAME]`: the logs several gateway nodes keep in one
//! PostgreSQL database, each node's chain verified on its own as a `log.db` is (chain, tree
//! rows, checkpoints, bodies, and with `--witness-key` / `--tsa-cert` its cosignatures and time
//! stamps). Everything is read in one REPEATABLE READ, READ ONLY transaction, so the nodes that
//! keep appending meanwhile cannot make entries, tree rows and checkpoints disagree.

use super::{assess_attestations, print_report, read_key, NodeRow, NodeRows, VerifyLogArgs};
use crate::db::StoreError;
use crate::note::{parse_fingerprint, PublicKey};
use crate::pg;
use crate::record::{Record, SystemRecord};
use crate::verify::{Claim, Report, Trust, Verifier};
use postgres::{IsolationLevel, Transaction};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::time::Duration;

/// Where the stored checkpoints come from, in the report's words.
const SOURCE: &str = "audit_checkpoints";

/// Run the check; returns the exit code: 1 when a node fails its integrity check, else 3 when a
/// node is intact but not attested, else 0; 2 for usage and connection problems.
pub(super) fn verify_main(url: &str, args: &VerifyLogArgs) -> i32 {
    match verify(url, args) {
        Ok(reports) => {
            let _ = print_all(&mut std::io::stdout().lock(), &reports, args);
            fleet_exit_code(&reports)
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

fn fleet_exit_code(reports: &[(String, Report)]) -> i32 {
    let codes: Vec<i32> = reports.iter().map(|(_, r)| r.exit_code()).collect();
    [1, 3].into_iter().find(|c| codes.contains(c)).unwrap_or(0)
}

/// Each node's report, by node name.
pub fn verify(url: &str, args: &VerifyLogArgs) -> Result<Vec<(String, Report)>, String> {
    let mut client = pg::connect(url, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| pg::describe(&e))?;
    let err = |e: StoreError| e.to_string();
    if !pg::has_schema(&mut tx).map_err(err)? {
        return Err("the database holds no audit log (no audit_entries table)".into());
    }
    let present = pg::nodes(&mut tx).map_err(err)?;
    let nodes = match &args.node {
        Some(node) if !present.contains(node) => {
            return Err(format!("node {node:?} has no entries (nodes in the database: {})", present.join(", ")))
        }
        Some(node) => vec![node.clone()],
        None if present.is_empty() => return Err("the database holds no entries".into()),
        None => present,
    };
    if args.checkpoint.is_some() && args.node.is_none() {
        return Err("--checkpoint names one node's checkpoint: give --node too".into());
    }
    let anchor = match &args.checkpoint {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let pinned = node_keys(args)?;
    let tx = RefCell::new(tx);
    let mut reports = Vec::new();
    for node in nodes {
        let trust = trust_for(&node, args, &pinned, &mut tx.borrow_mut())?;
        let report =
            verify_node(&tx, &node, trust, anchor.as_deref(), args).map_err(|e| format!("node {node}: {e}"))?;
        reports.push((node, report));
    }
    Ok(reports)
}

/// `--node-keys FILE`: `NODE FINGERPRINT` per line (`#` comments and blank lines skipped).
fn node_keys(args: &VerifyLogArgs) -> Result<BTreeMap<String, String>, String> {
    let Some(path) = &args.node_keys else { return Ok(BTreeMap::new()) };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut keys = BTreeMap::new();
    for (i, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: String| format!("{}:{i}: {why}", path.display());
        let (node, fp) = line.split_once(char::is_whitespace).ok_or_else(|| bad("expected NODE FINGERPRINT".into()))?;
        let fp = parse_fingerprint(fp.trim()).map_err(|e| bad(e.to_string()))?;
        if keys.insert(node.to_string(), fp).is_some() {
            return Err(bad(format!("node {node} is listed twice")));
        }
    }
    Ok(keys)
}

/// The key a node is checked against: pinned on the command line or in `--node-keys`, else the
/// one its own newest key entry names (checked, but not attested).
fn trust_for(
    node: &str,
    args: &VerifyLogArgs,
    pinned: &BTreeMap<String, String>,
    tx: &mut Transaction<'_>,
) -> Result<Trust, String> {
    if let Some(path) = &args.public_key {
        return Ok(Trust::Pinned(read_key(path)?));
    }
    if let Some(fp) = args.key_fingerprint.as_ref().or(pinned.get(node)) {
        return parse_fingerprint(fp).map(Trust::Fingerprint).map_err(|e| e.to_string());
    }
    let entry = pg::last_key_entry(tx, node).map_err(|e| e.to_string())?;
    let named = entry.and_then(|e| {
        let record = crate::entry::decode(&e.bytes).ok()?.record().ok()?;
        match record {
            Record::System(SystemRecord::Genesis { public_key, .. }) => Some(public_key),
            Record::System(SystemRecord::KeyRotated { new_public_key, .. }) => Some(new_public_key),
            _ => None,
        }
    });
    let key = named.ok_or_else(|| format!("node {node}: no genesis entry names its key; pin one with --node-keys"))?;
    PublicKey::parse(&key).map(Trust::Beside).map_err(|e| format!("node {node}: {e}"))
}

/// One node's chain, tree rows, checkpoints and bodies.
fn verify_node(
    tx: &RefCell<Transaction<'_>>,
    node: &str,
    trust: Trust,
    anchor: Option<&str>,
    args: &VerifyLogArgs,
) -> Result<Report, String> {
    let err = |e: StoreError| e.to_string();
    let checkpoints = pg::checkpoints(&mut *tx.borrow_mut(), node).map_err(err)?;
    let claims = checkpoints
        .iter()
        .map(|c| Claim { source: SOURCE.into(), note: c.note.clone(), stated_size: Some(c.size) })
        .collect();
    let mut verifier = Verifier::new(trust, claims, anchor)?;
    stream_node(tx, node, &mut verifier)?;
    let bodies = pg::bodies(&mut *tx.borrow_mut(), node, None).map_err(err)?;
    let mut report = verifier.finish(&bodies);
    assess_attestations(
        args,
        &mut report,
        || Ok(checkpoints.clone()),
        || pg::cosignatures(&mut *tx.borrow_mut(), node).map_err(err),
        || pg::timestamps(&mut *tx.borrow_mut(), node).map_err(err),
    )?;
    Ok(report)
}

/// Feed the node's entry rows, in chunks, to the verifier, with its tree rows beside them.
fn stream_node(tx: &RefCell<Transaction<'_>>, node: &str, v: &mut Verifier) -> Result<(), String> {
    let mut pending: VecDeque<NodeRow> = VecDeque::new();
    let mut next_pos = 0i64;
    let mut nodes_done = false;
    let next_node = move || -> Result<Option<NodeRow>, String> {
        if pending.is_empty() && !nodes_done {
            let rows = pg::node_rows_from(&mut *tx.borrow_mut(), node, next_pos).map_err(|e| e.to_string())?;
            nodes_done = (rows.len() as i64) < pg::CHUNK;
            next_pos = rows.last().map_or(next_pos, |r| r.0 + 1);
            pending.extend(rows);
        }
        Ok(pending.pop_front())
    };
    let mut nodes = NodeRows { rows: Some(Box::new(next_node)), held: None };
    let mut from = 0i64;
    loop {
        let rows = pg::entry_rows_from(&mut *tx.borrow_mut(), node, from).map_err(|e| e.to_string())?;
        for (seq, kind, leaf_hash, bytes) in &rows {
            let row =
                crate::chain::Row { seq: (*seq).max(0) as u64, leaf_hash: Some(leaf_hash), kind: Some(kind), bytes };
            if !v.push(row) || !nodes.check(v)? {
                return Ok(());
            }
        }
        if (rows.len() as i64) < pg::CHUNK {
            return nodes.finish(v);
        }
        from = rows.last().map_or(from, |r| r.0 + 1);
    }
}

fn print_all(out: &mut impl Write, reports: &[(String, Report)], args: &VerifyLogArgs) -> std::io::Result<()> {
    if args.node.is_some() {
        // One node: the same output as for one log.db.
        return reports.iter().try_for_each(|(_, r)| print_report(out, r, args.json));
    }
    if args.json {
        let nodes: serde_json::Map<String, serde_json::Value> =
            reports.iter().map(|(n, r)| (n.clone(), serde_json::to_value(r).unwrap_or_default())).collect();
        let ok = reports.iter().all(|(_, r)| r.ok);
        return writeln!(out, "{}", serde_json::to_string_pretty(&serde_json::json!({ "ok": ok, "nodes": nodes }))?);
    }
    for (node, report) in reports {
        writeln!(out, "node {node}:")?;
        print_report(out, report, false)?;
    }
    let failed: Vec<&str> = reports.iter().filter(|(_, r)| !r.ok).map(|(n, _)| n.as_str()).collect();
    match failed.as_slice() {
        [] => writeln!(out, "all {} nodes intact and attested", reports.len()),
        _ => writeln!(
            out,
            "{} of {} nodes not intact or not attested: {}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        ),
    }
}
