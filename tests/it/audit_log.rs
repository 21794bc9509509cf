//! Library-level behaviour of the audit log: concurrent appends, reopening, failing closed, a
//! second writer, key rotation, proofs and bundles, and recovery after a writer is killed.

use crate::audit_support;

use audit_support::*;
use auditgate::audit::bundle;
use auditgate::audit::merkle::{leaf_hash, verify_inclusion, Hash};
use auditgate::audit::note::KeyPair;
use auditgate::audit::store::SqliteStore;
use auditgate::audit::{rotate_key, AuditLog, Record, SystemRecord};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn concurrent_appends_get_distinct_durable_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let seqs = runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        let tasks: Vec<_> = (0..32u64)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    for i in 0..40 {
                        mine.push(log.append(request(t * 1000 + i)).await.unwrap());
                    }
                    mine
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            let mine = t.await.unwrap();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "one task's appends are ordered");
            all.extend(mine);
        }
        log.shutdown().await.unwrap();
        all
    });
    let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(distinct.len(), 32 * 40);
    assert_eq!(distinct.iter().next(), Some(&1));
    assert_eq!(distinct.iter().last(), Some(&1280));
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["entries"], 1282, "genesis + 1280 + stop");
}

#[test]
fn the_running_writer_checkpoints_its_wal_after_answering() {
    let dir = tempfile::tempdir().unwrap();
    let (db, wal) = (dir.path().join("log.db"), dir.path().join("log.db-wal"));
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        let tasks: Vec<_> = (0..16u64)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..250 {
                        log.append(request(t * 1000 + i)).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        // Still open: only the writer's own checkpoints can have moved entries into log.db.
        let entry_bytes = 4_000 * 300;
        assert!(size(&db) > entry_bytes, "log.db holds {} bytes: no checkpoint ran", size(&db));
        assert!(size(&wal) < 2 * 1024 * 1024, "the WAL grew to {} bytes", size(&wal));
        log.shutdown().await.unwrap();
    });
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["entries"], 4002);
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 5, 0);
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        let start = SystemRecord::GatewayStart { version: "test".into(), config_sha256: "00".into() };
        assert_eq!(log.append(Record::System(start)).await.unwrap(), 7);
        assert_eq!(log.append(request(99)).await.unwrap(), 8);
        log.shutdown().await.unwrap();
    });
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["entries"], 10);
    assert_eq!(report["unsigned_tail"], 0);
}

#[test]
fn appends_fail_closed_when_the_database_becomes_read_only_and_recover() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("log.db");
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        log.append(request(1)).await.unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
        let refused = tokio::time::timeout(Duration::from_secs(30), log.append(request(2))).await;
        assert!(matches!(refused, Ok(Err(_))), "append must fail, not hang or succeed");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(log.append(request(3)).await.unwrap(), 2, "no sequence number is burnt by a failure");
        log.shutdown().await.unwrap();
    });
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn appends_fail_closed_when_the_database_file_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        log.append(request(1)).await.unwrap();
        std::fs::rename(dir.path().join("log.db"), dir.path().join("moved.db")).unwrap();
        let refused = tokio::time::timeout(Duration::from_secs(30), log.append(request(2))).await;
        assert!(matches!(refused, Ok(Err(_))));
    });
}

#[test]
fn appends_fail_closed_while_another_process_locks_the_database() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        log.append(request(1)).await.unwrap();
        let other = rusqlite::Connection::open(dir.path().join("log.db")).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let refused = tokio::time::timeout(Duration::from_secs(30), log.append(request(2))).await;
        assert!(matches!(refused, Ok(Err(_))), "a locked database must refuse, not hang");
        other.execute_batch("ROLLBACK").unwrap();
        assert_eq!(log.append(request(3)).await.unwrap(), 2);
        log.shutdown().await.unwrap();
    });
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn opening_fails_in_a_read_only_location() {
    // A regular file where the data directory should be: nothing can be created.
    let file = tempfile::NamedTempFile::new().unwrap();
    assert!(AuditLog::open(&file.path().join("audit"), manual_options()).is_err());
}

#[test]
fn signing_key_is_private_and_required_for_an_existing_log() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 1, 0);
    let key = dir.path().join("signing.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let public = std::fs::read_to_string(dir.path().join("signing.pub")).unwrap();
    assert!(public.starts_with("auditgate.local/log+") && public.ends_with('\n'));
    std::fs::remove_file(&key).unwrap();
    assert!(AuditLog::open(dir.path(), manual_options()).is_err(), "a lost key must not be replaced silently");
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = AuditLog::open(dir.path(), manual_options()).unwrap();
    let second = AuditLog::open(dir.path(), manual_options());
    assert!(second.is_err());
}

#[test]
fn shutdown_does_not_repeat_a_stop_entry_the_gateway_wrote() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        let stop = SystemRecord::GatewayStop { reason: "signal".into() };
        assert_eq!(log.append(Record::System(stop)).await.unwrap(), 1);
        log.shutdown().await.unwrap();
    });
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["entries"], 2, "genesis and one stop entry");
}

#[test]
fn appends_after_shutdown_fail() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        log.shutdown().await.unwrap();
        assert!(log.append(request(1)).await.is_err());
    });
}

#[test]
fn key_rotation_is_signed_by_the_old_key_and_verifies_with_either() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 3, 0);
    let old_pub = dir.path().join("old.pub");
    std::fs::copy(dir.path().join("signing.pub"), &old_pub).unwrap();
    let new_vkey = rotate_key(dir.path()).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("signing.pub")).unwrap().trim(), new_vkey);
    make_log_continue(dir.path(), 2);
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["keys"].as_array().unwrap().len(), 2);
    let (code, report) = verify_dir(dir.path(), &["--public-key", old_pub.to_str().unwrap()]);
    assert_eq!(code, 0, "the old key endorses the new one: {report}");
    let stranger = tempfile::tempdir().unwrap();
    make_log(stranger.path(), 1, 0);
    let (code, report) =
        verify_dir(dir.path(), &["--public-key", stranger.path().join("signing.pub").to_str().unwrap()]);
    assert_eq!(code, 1, "an unrelated key must not vouch for the log: {report}");
}

fn make_log_continue(dir: &std::path::Path, n: u64) {
    runtime().block_on(async {
        let log = AuditLog::open(dir, manual_options()).unwrap();
        for i in 0..n {
            log.append(request(100 + i)).await.unwrap();
        }
        log.shutdown().await.unwrap();
    });
}

#[test]
fn inclusion_proofs_check_against_the_signed_root() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 20, 0);
    let store = SqliteStore::open_read_only(&dir.path().join("log.db")).unwrap();
    let vkey = std::fs::read_to_string(dir.path().join("signing.pub")).unwrap();
    for seq in [0u64, 7, 21] {
        let receipt = bundle::prove(&store, vkey.trim(), seq).unwrap();
        assert_eq!(receipt.proof.tree_size, 22);
        use base64::Engine;
        let root: Hash =
            base64::engine::general_purpose::STANDARD.decode(&receipt.root_hash).unwrap().try_into().unwrap();
        let path: Vec<Hash> =
            receipt.proof.inclusion_proof.iter().map(|h| hex::decode(h).unwrap().try_into().unwrap()).collect();
        let leaf = leaf_hash(receipt.entry_bytes.as_bytes());
        assert_eq!(verify_inclusion(seq, 22, &leaf, &path, &root), Ok(()));
        assert!(receipt.checkpoint.contains(&receipt.root_hash));
    }
    assert!(matches!(bundle::prove(&store, vkey.trim(), 22), Err(bundle::BundleError::NotCovered(_))));
}

#[test]
fn consistency_proofs_link_old_checkpoints_to_the_latest() {
    use auditgate::audit::merkle::verify_consistency;
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 30, 7);
    let store = SqliteStore::open_read_only(&dir.path().join("log.db")).unwrap();
    let b64 = |s: &str| -> Hash { base64::engine::general_purpose::STANDARD.decode(s).unwrap().try_into().unwrap() };
    for old in [1u64, 8, 15, 22, 29, 32] {
        let p = bundle::prove_consistency(&store, old).unwrap();
        assert_eq!(p.new_size, 32);
        let path: Vec<Hash> = p.consistency_proof.iter().map(|h| hex::decode(h).unwrap().try_into().unwrap()).collect();
        let (old_root, new_root) = (b64(&p.old_root_hash), b64(&p.new_root_hash));
        assert_eq!(verify_consistency(old, 32, &old_root, &new_root, &path), Ok(()));
    }
    // The roots of the stored checkpoints are the old roots the proofs start from.
    let cps = auditgate::audit::store::LogStore::checkpoints(&store).unwrap();
    let at8 = cps.iter().find(|c| c.size == 8).unwrap();
    assert_eq!(
        bundle::prove_consistency(&store, 8).unwrap().old_root_hash,
        base64::engine::general_purpose::STANDARD.encode(at8.root)
    );
}

#[test]
fn exported_bundle_verifies_offline_and_detects_edits() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 20, 0);
    let out = dir.path().join("bundle");
    let export = auditgate::audit::AuditCommand::Export { from: 5, to: 12, out: out.clone(), reason: None };
    assert_eq!(auditgate::audit::audit_main(export, dir.path()), 0);
    let bundle = out.to_str().unwrap();
    let (code, report) = verify(&["--bundle", bundle]);
    assert_eq!(code, 3, "the bundle's own key is not a pinned key: {report}");
    assert_eq!(report["key_fingerprint"], fingerprint(dir.path()).as_str());
    let (code, report) = verify(&["--bundle", bundle, "--key-fingerprint", &fingerprint(dir.path())]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["entries"], 8);
    let stranger = KeyPair::generate("auditgate.local/log").unwrap();
    let other = auditgate::audit::note::PublicKey::parse(stranger.vkey()).unwrap().fingerprint();
    let (code, _) = verify(&["--bundle", bundle, "--key-fingerprint", &other]);
    assert_eq!(code, 1, "a bundle whose key is not the pinned one");
    let entries = std::fs::read_to_string(out.join("entries.jsonl")).unwrap();
    std::fs::write(out.join("entries.jsonl"), entries.replacen("key-9", "key-0", 1)).unwrap();
    let (code, report) = verify(&["--bundle", bundle, "--key-fingerprint", &fingerprint(dir.path())]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(failing_seq(&report), Some(9));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let (code, _) = verify(&["--db", "/nonexistent/log.db", "--public-key", "/nonexistent/k"]);
    assert_eq!(code, 2);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verify-log")).arg("--db").arg("x").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--db without a pinned key is a usage error");
    let (code, _) = verify(&["--db", "x.db", "--key-fingerprint", "not-hex"]);
    assert_eq!(code, 2, "a malformed fingerprint is a usage error");
    let both = ["--data-dir", "d", "--public-key", "k", "--key-fingerprint", &"0".repeat(64)];
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verify-log")).args(both).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a key and a fingerprint at once is a usage error");
}

/// Child half of the crash test: appends concurrently forever, printing each acknowledged seq.
#[test]
fn crash_child_appender() {
    let Ok(dir) = std::env::var("AUDITGATE_CRASH_CHILD_DIR") else {
        return;
    };
    runtime().block_on(async move {
        let log = AuditLog::open(std::path::Path::new(&dir), manual_options()).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for t in 0..8u64 {
            let (log, tx) = (log.clone(), tx.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let seq = log.append(request(t * 1_000_000 + i)).await.unwrap();
                    let _ = tx.send(seq);
                }
            });
        }
        while let Some(seq) = rx.recv().await {
            println!("ACK {seq}");
        }
    });
}

#[test]
fn killed_writer_leaves_a_log_that_verifies_and_keeps_every_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["audit_log::crash_child_appender", "--exact", "--nocapture", "--test-threads=1"])
        .env("AUDITGATE_CRASH_CHILD_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(seq) = line.strip_prefix("ACK ").and_then(|s| s.trim().parse::<u64>().ok()) {
            acked.push(seq);
            if acked.len() >= 500 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no shutdown, no final checkpoint
    child.wait().unwrap();
    assert!(acked.len() >= 500, "child stopped early");
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 3, "intact, but nothing after the crash is signed yet: {report}");
    assert_eq!(report["intact"], true, "{report}");
    assert!(report["unsigned_tail"].as_u64().unwrap() > 0, "{report}");
    let entries = report["entries"].as_u64().unwrap();
    assert!(acked.iter().all(|s| *s < entries), "an acknowledged entry was lost");
    // The log continues after the crash.
    make_log_continue(dir.path(), 3);
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn a_row_altered_while_the_writer_runs_is_never_signed() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        for i in 1..=5 {
            log.append(request(i)).await.unwrap();
        }
        assert_eq!(log.checkpoint().await.unwrap(), Some(6));
        for i in 6..=8 {
            log.append(request(i)).await.unwrap();
        }
        let c = attacker(dir.path());
        let bytes = String::from_utf8(entry_bytes(&c, 7)).unwrap().replacen("key-7", "kez-7", 1);
        c.execute("UPDATE entries SET bytes = ?1 WHERE seq = 7", [bytes.as_bytes()]).unwrap();
        drop(c);
        let refused = log.checkpoint().await;
        assert!(
            matches!(
                &refused,
                Err(auditgate::audit::AuditError::Integrity(auditgate::audit::chain::Failure { seq: 7, .. }))
            ),
            "{refused:?}"
        );
        assert!(log.append(request(9)).await.is_err(), "no append after an integrity failure");
    });
    let notes = std::fs::read_to_string(dir.path().join("checkpoints.log")).unwrap();
    assert_eq!(auditgate::audit::note::split_notes(&notes).len(), 1, "only the checkpoint before the edit");
}

#[test]
fn snapshot_of_a_stopped_log_is_one_attested_file_with_its_key_and_checkpoint() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 40, 0);
    make_log_continue(dir.path(), 2);
    let out = dir.path().join("snap");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_auditgate"))
        .args(["audit", "snapshot", "--out"])
        .arg(&out)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains(&fingerprint(dir.path())), "{stdout}");
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["checkpoint.txt", "log.db", "signing.pub"], "one self-contained database, no WAL");
    for f in &files {
        assert_eq!(std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
    let (code, report) = verify(&[
        "--db",
        out.join("log.db").to_str().unwrap(),
        "--key-fingerprint",
        &fingerprint(dir.path()),
        "--checkpoint",
        out.join("checkpoint.txt").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["entries"], 46, "genesis, 40, stop, 2, stop, and the snapshot's access entry");
    assert_eq!(report["consistent_with_checkpoint"], 46);
    let print = std::process::Command::new(env!("CARGO_BIN_EXE_auditgate"))
        .args(["audit", "fingerprint", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&print.stdout).lines().next(), Some(fingerprint(dir.path()).as_str()));
}

/// Child half of the recovery test: three requests left open, as long streams are, then
/// exchanges (an allowed request, then its response) from 8 tasks, printing each acknowledged
/// entry. The open three make the test deterministic: whether one of the 8 tasks is between
/// its request and its response at the kill depends on how group commits fell.
#[test]
fn crash_child_exchanges() {
    let Ok(dir) = std::env::var("AUDITGATE_CRASH_EXCHANGES_DIR") else {
        return;
    };
    runtime().block_on(async move {
        let log = AuditLog::open(std::path::Path::new(&dir), manual_options()).unwrap();
        for i in 0..3 {
            let seq = log.append(allowed_request(900_000_000 + i)).await.unwrap();
            println!("OPEN {seq}");
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for t in 0..8u64 {
            let (log, tx) = (log.clone(), tx.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let request_seq = log.append(allowed_request(t * 1_000_000 + i)).await.unwrap();
                    tokio::task::yield_now().await;
                    let response = auditgate::audit::ResponseRecord { request_seq, ..Default::default() };
                    let seq = log.append(Record::Response(response)).await.unwrap();
                    let _ = tx.send(seq);
                }
            });
        }
        while let Some(seq) = rx.recv().await {
            println!("ACK {seq}");
        }
    });
}

/// Entries of a log as (seq, kind, payload).
fn log_entries(dir: &std::path::Path) -> Vec<(u64, String, serde_json::Value)> {
    let c = rusqlite::Connection::open(dir.join("log.db")).unwrap();
    let mut stmt = c.prepare("SELECT seq, kind, bytes FROM entries ORDER BY seq").unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)))
        .unwrap();
    rows.map(|r| {
        let (seq, kind, bytes) = r.unwrap();
        (seq, kind, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["payload"].clone())
    })
    .collect()
}

/// Request entries (allowed) that no response or outcome entry names.
fn without_outcome(entries: &[(u64, String, serde_json::Value)]) -> Vec<u64> {
    let closed: BTreeSet<u64> = entries
        .iter()
        .filter(|(_, k, _)| k == "response" || k == "outcome")
        .map(|(_, _, p)| p["request_seq"].as_u64().unwrap())
        .collect();
    entries
        .iter()
        .filter(|(s, k, p)| k == "request" && p["decision"] != "deny" && !closed.contains(s))
        .map(|(s, _, _)| *s)
        .collect()
}

#[test]
fn reopening_after_a_crash_records_the_recovery_and_an_outcome_for_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["audit_log::crash_child_exchanges", "--exact", "--nocapture", "--test-threads=1"])
        .env("AUDITGATE_CRASH_EXCHANGES_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut open, mut acked) = (Vec::new(), 0);
    for line in BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok) {
        // libtest prints "test <name> ... " without a newline before the child's first line.
        if let Some((_, seq)) = line.split_once("OPEN ") {
            open.push(seq.trim().parse::<u64>().unwrap());
        } else if line.starts_with("ACK ") {
            acked += 1;
            if acked == 300 {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!((open.len(), acked), (3, 300), "child stopped early");
    let before = log_entries(dir.path());
    let missing = without_outcome(&before);
    assert!(
        open.iter().all(|s| missing.contains(s)),
        "the open requests {open:?} should be among those without an outcome: {missing:?}"
    );
    make_log_continue(dir.path(), 0); // open (recovering) and close cleanly
    let after = log_entries(dir.path());
    let n = before.len() as u64;
    let (seq, kind, recovered) = &after[before.len()];
    assert_eq!((seq, kind.as_str()), (&n, "recovered"));
    assert_eq!(recovered["last_seq_before"], n - 1);
    assert_eq!(recovered["requests_without_outcome"], missing.len() as u64);
    let outcomes: Vec<u64> = after[before.len() + 1..]
        .iter()
        .filter(|(_, k, p)| k == "outcome" && p["outcome"] == "unknown (gateway stopped)")
        .map(|(_, _, p)| p["request_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(outcomes, missing);
    assert!(without_outcome(&after).is_empty());
    // Another open and close adds no second recovery.
    make_log_continue(dir.path(), 0);
    let last = log_entries(dir.path());
    assert_eq!(last.iter().filter(|(_, k, _)| k == "recovered").count(), 1);
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn requests_still_open_at_shutdown_get_an_outcome_entry() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        let answered = log.append(allowed_request(1)).await.unwrap();
        let response = auditgate::audit::ResponseRecord { request_seq: answered, ..Default::default() };
        log.append(Record::Response(response)).await.unwrap();
        log.append(allowed_request(2)).await.unwrap();
        log.append(request(3)).await.unwrap();
        log.shutdown().await.unwrap();
    });
    let entries = log_entries(dir.path());
    let kinds: Vec<&str> = entries.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["genesis", "request", "response", "request", "request", "gateway_stop", "outcome"]);
    assert_eq!(entries[6].2["request_seq"], 3);
    assert!(without_outcome(&entries).is_empty());
}
