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

pub fn request(i: u64) -> Record {
    Record::Request(RequestRecord {
        generation_id: format!("gen-{i}"),
        key_id: format!("key-{i}"),
        endpoint: "/v1/chat/completions".into(),
        models: vec!["demo/echo".into()],
        body_sha256: format!("{i:064x}"),
        ..Default::default()
    })
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

pub fn verify_dir(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let d = dir.to_str().expect("utf-8 path");
    let mut args = vec!["--data-dir", d];
    args.extend_from_slice(extra);
    verify(&args)
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
