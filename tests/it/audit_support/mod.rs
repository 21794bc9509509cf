//! Shared helpers for the audit integration tests: build a log, run the real `verify-log` binary,
//! tamper with the database behind the triggers' back.
#![allow(dead_code)]

use auditgate::audit::{AuditLog, AuditOptions, Record, RequestRecord};
use std::path::Path;
use std::process::Command;

/// Options with checkpoints only when asked (interval far away), so tests control sizes.
pub fn manual_options() -> AuditOptions {
    AuditOptions { checkpoint_interval_ms: 3_600_000, checkpoint_every_entries: 1_000_000, ..Default::default() }
}

/// A request the policy denied: complete on its own (nothing was forwarded, no outcome follows),
/// so logs built of these need no response entries.
pub fn request(i: u64) -> Record {
    Record::Request(RequestRecord {
        generation_id: format!("gen-{i}"),
        key_id: format!("key-{i}"),
        endpoint: "/v1/chat/completions".into(),
        models: vec!["demo/echo".into()],
        decision: "deny".into(),
        body_sha256: format!("{i:064x}"),
        ..Default::default()
    })
}

/// A request that was allowed, so it is forwarded and waits for an outcome entry.
pub fn allowed_request(i: u64) -> Record {
    match request(i) {
        Record::Request(r) => Record::Request(RequestRecord { decision: "allow".into(), ..r }),
        other => other,
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// A log with genesis, `n` request entries (seq 1..=n), checkpoints after every `every` entries,
/// then the stop entry and the final checkpoint.
pub fn make_log(dir: &Path, n: u64, every: u64) {
    make_log_with(dir, n, every, manual_options());
}

pub fn make_log_with(dir: &Path, n: u64, every: u64, opts: AuditOptions) {
    runtime().block_on(async {
        let log = AuditLog::open(dir, opts).expect("open");
        for i in 1..=n {
            let seq = log.append(request(i)).await.expect("append");
            assert_eq!(seq, i);
            if every > 0 && i % every == 0 {
                log.checkpoint().await.expect("checkpoint");
            }
        }
        log.shutdown().await.expect("shutdown");
    });
}

/// Run the built `verify-log` with `--json`; returns the exit code and the parsed report.
pub fn verify(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_verify-log")).args(args).arg("--json").output().expect("run verify-log");
    let code = out.status.code().unwrap_or(-1);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (code, json)
}

/// `verify-log --data-dir DIR`, pinning the directory's own `signing.pub` unless `extra` pins a
/// key itself (tests about integrity, not about where the key came from).
pub fn verify_dir(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let pinned = extra.iter().any(|a| *a == "--public-key" || *a == "--key-fingerprint");
    let key = dir.join("signing.pub");
    let mut args = vec!["--data-dir", dir.to_str().expect("utf-8 path")];
    if !pinned {
        args.extend(["--public-key", key.to_str().expect("utf-8 path")]);
    }
    args.extend_from_slice(extra);
    verify(&args)
}

/// `verify-log --data-dir DIR` with no key pinned: at best "intact but not attested" (exit 3).
pub fn verify_unpinned(dir: &Path) -> (i32, serde_json::Value) {
    verify(&["--data-dir", dir.to_str().expect("utf-8 path")])
}

/// The fingerprint of the key in `dir/signing.pub`, as an auditor would have received it.
pub fn fingerprint(dir: &Path) -> String {
    let vkey = std::fs::read_to_string(dir.join("signing.pub")).expect("signing.pub");
    auditgate::audit::note::PublicKey::parse(&vkey).expect("key").fingerprint()
}

pub fn failing_seq(report: &serde_json::Value) -> Option<u64> {
    report["failure"]["seq"].as_u64()
}

/// Open the database as an attacker would: triggers dropped.
pub fn attacker(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join("log.db")).expect("open db");
    c.execute_batch(
        "DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;
         DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;
         DROP TRIGGER tree_hashes_no_update; DROP TRIGGER tree_hashes_no_delete;
         DROP TRIGGER bodies_no_delete; DROP TRIGGER bodies_erase_only;",
    )
    .expect("drop triggers");
    c
}

pub fn entry_bytes(c: &rusqlite::Connection, seq: u64) -> Vec<u8> {
    c.query_row("SELECT bytes FROM entries WHERE seq = ?1", [seq as i64], |r| r.get(0)).expect("entry")
}

pub fn checkpoint_note(c: &rusqlite::Connection, size: u64) -> String {
    c.query_row("SELECT note FROM checkpoints WHERE tree_size = ?1", [size as i64], |r| r.get(0)).expect("checkpoint")
}

/// Recompute `tree_hashes` from the stored leaf hashes, as a careful attacker would after
/// rewriting entries.
pub fn rebuild_tree(c: &rusqlite::Connection) {
    use auditgate::audit::merkle::{stored_position, Frontier};
    c.execute("DELETE FROM tree_hashes", []).expect("clear tree_hashes");
    let leaves: Vec<Vec<u8>> = {
        let mut stmt = c.prepare("SELECT leaf_hash FROM entries ORDER BY seq").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let mut f = Frontier::new();
    for leaf in leaves {
        for (level, index, hash) in f.push(leaf.try_into().unwrap()) {
            c.execute(
                "INSERT INTO tree_hashes (pos, level, idx, hash) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![stored_position(level, index) as i64, level, index as i64, &hash[..]],
            )
            .unwrap();
        }
    }
}

/// Rewrite entry `from` with `edit`, then re-chain every later entry (new `prev`, new leaf
/// hashes) and rebuild the tree: a history that is consistent in itself.
pub fn rewrite_and_rechain(c: &rusqlite::Connection, from: u64, edit: impl Fn(String) -> String) {
    use auditgate::audit::merkle::leaf_hash;
    let n: i64 = c.query_row("SELECT max(seq) FROM entries", [], |r| r.get(0)).unwrap();
    let mut prev: Option<String> = None;
    for seq in from..=n as u64 {
        let mut text = String::from_utf8(entry_bytes(c, seq)).unwrap();
        if seq == from {
            text = edit(text);
        }
        if let Some(p) = &prev {
            let at = text.find("\"prev\":\"").unwrap() + 8;
            text.replace_range(at..at + 64, p);
        }
        let hash = leaf_hash(text.as_bytes());
        c.execute(
            "UPDATE entries SET bytes = ?1, leaf_hash = ?2 WHERE seq = ?3",
            rusqlite::params![text.as_bytes(), &hash[..], seq as i64],
        )
        .unwrap();
        prev = Some(hex::encode(hash));
    }
    rebuild_tree(c);
}

/// Keep only the checkpoints of size `<= keep` in log.db and checkpoints.log (0: none), and
/// remove the writer's verified-state record: every trace of later signatures.
pub fn drop_checkpoints_after(dir: &Path, c: &rusqlite::Connection, keep: u64) {
    c.execute("DELETE FROM checkpoints WHERE tree_size > ?1", [keep as i64]).unwrap();
    let notes: Vec<String> = {
        let mut stmt = c.prepare("SELECT note FROM checkpoints ORDER BY tree_size").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    std::fs::write(dir.join("checkpoints.log"), notes.join("\n")).unwrap();
    let _ = std::fs::remove_file(dir.join("verified-state"));
}

/// Append a well-formed entry after the last one (chained, tree nodes stored), as someone with
/// write access to the file but without the signing key can.
pub fn append_forged(c: &rusqlite::Connection, record: &Record) -> u64 {
    use auditgate::audit::merkle::{leaf_hash, stored_position, Frontier};
    let (n, last_hash, last_bytes): (i64, Vec<u8>, Vec<u8>) = c
        .query_row("SELECT seq, leaf_hash, bytes FROM entries ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let last: serde_json::Value = serde_json::from_slice(&last_bytes).unwrap();
    let seq = n as u64 + 1;
    let prev: [u8; 32] = last_hash.try_into().unwrap();
    let bytes = auditgate::audit::entry::encode(seq, last["time"].as_str().unwrap(), &prev, record).unwrap();
    let hash = leaf_hash(&bytes);
    let kind = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["kind"].as_str().unwrap().to_string();
    c.execute(
        "INSERT INTO entries (seq, kind, leaf_hash, bytes) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![seq as i64, kind, &hash[..], bytes],
    )
    .unwrap();
    let mut f = Frontier::new();
    let leaves: Vec<Vec<u8>> = {
        let mut stmt = c.prepare("SELECT leaf_hash FROM entries ORDER BY seq").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let mut created = Vec::new();
    for leaf in leaves {
        created = f.push(leaf.try_into().unwrap());
    }
    for (level, index, hash) in created {
        c.execute(
            "INSERT INTO tree_hashes (pos, level, idx, hash) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![stored_position(level, index) as i64, level, index as i64, &hash[..]],
        )
        .unwrap();
    }
    seq
}
