//! The tamper suite: each case alters a finished log the way an attacker with database access
//! would (triggers dropped first) and runs the real `verify-log`, which must exit 1 and name the
//! entry concerned. Erasing a stored body is the one legitimate change: it still verifies.

use crate::audit_support;

use audit_support::*;
use auditgate::audit::note::KeyPair;
use auditgate::audit::{audit_main, AuditCommand, AuditLog, AuditOptions, BodyStorage};
use rusqlite::params;

/// Genesis, entries 1..=30, checkpoints at sizes 11, 21, 31, stop entry 31, final checkpoint 32.
fn sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    make_log(dir.path(), 30, 10);
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "untouched log must verify: {report}");
    assert_eq!(report["entries"], 32);
    assert_eq!(report["checkpoints_verified"], 8, "4 in log.db and 4 in checkpoints.log");
    assert_eq!(report["unsigned_tail"], 0);
    dir
}

fn assert_fails_at(dir: &std::path::Path, extra: &[&str], seq: u64) -> serde_json::Value {
    let (code, report) = verify_dir(dir, extra);
    assert_eq!(code, 1, "expected an integrity failure: {report}");
    assert_eq!(failing_seq(&report), Some(seq), "wrong entry named: {report}");
    report
}

#[test]
fn flipped_byte_in_one_entry_is_named() {
    let dir = sample();
    let c = attacker(dir.path());
    let bytes = String::from_utf8(entry_bytes(&c, 5)).unwrap().replacen("key-5", "kez-5", 1);
    c.execute("UPDATE entries SET bytes = ?1 WHERE seq = 5", [bytes.as_bytes()]).unwrap();
    let report = assert_fails_at(dir.path(), &[], 5);
    assert_eq!(report["failure"]["kind"], "entry_altered", "{report}");
}

#[test]
fn deleted_row_is_named() {
    let dir = sample();
    attacker(dir.path()).execute("DELETE FROM entries WHERE seq = 7", []).unwrap();
    let report = assert_fails_at(dir.path(), &[], 7);
    assert_eq!(report["failure"]["kind"], "entry_missing", "{report}");
}

#[test]
fn swapped_rows_are_named() {
    let dir = sample();
    let c = attacker(dir.path());
    let (a, b) = (entry_bytes(&c, 4), entry_bytes(&c, 9));
    let hash = |seq: i64| -> Vec<u8> {
        c.query_row("SELECT leaf_hash FROM entries WHERE seq = ?1", [seq], |r| r.get(0)).unwrap()
    };
    let (ha, hb) = (hash(4), hash(9));
    c.execute("UPDATE entries SET bytes = ?1, leaf_hash = ?2 WHERE seq = 4", params![b, hb]).unwrap();
    c.execute("UPDATE entries SET bytes = ?1, leaf_hash = ?2 WHERE seq = 9", params![a, ha]).unwrap();
    let report = assert_fails_at(dir.path(), &[], 4);
    assert_eq!(report["failure"]["kind"], "entry_out_of_place", "{report}");
}

#[test]
fn truncated_tail_is_caught_with_a_saved_checkpoint() {
    let dir = sample();
    let saved = dir.path().join("saved-checkpoint.txt");
    let c = attacker(dir.path());
    std::fs::write(&saved, checkpoint_note(&c, 31)).unwrap();
    // A careful attacker removes the tail and every trace of the later checkpoints.
    c.execute("DELETE FROM entries WHERE seq >= 21", []).unwrap();
    let first_removed = auditgate::audit::merkle::stored_position(0, 21) as i64;
    c.execute("DELETE FROM tree_hashes WHERE pos >= ?1", [first_removed]).unwrap();
    drop_checkpoints_after(dir.path(), &c, 21);
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "without an outside checkpoint the shortened log looks intact: {report}");
    let report = assert_fails_at(dir.path(), &["--checkpoint", saved.to_str().unwrap()], 21);
    assert_eq!(report["failure"]["kind"], "truncated", "{report}");
}

#[test]
fn entries_spliced_from_another_log_are_named() {
    let dir = sample();
    let other = tempfile::tempdir().unwrap();
    make_log(other.path(), 30, 10);
    let theirs = rusqlite::Connection::open(other.path().join("log.db")).unwrap();
    let c = attacker(dir.path());
    for seq in 10..=12u64 {
        let (hash, bytes): (Vec<u8>, Vec<u8>) = theirs
            .query_row("SELECT leaf_hash, bytes FROM entries WHERE seq = ?1", [seq as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        c.execute("UPDATE entries SET bytes = ?1, leaf_hash = ?2 WHERE seq = ?3", params![bytes, hash, seq as i64])
            .unwrap();
    }
    let report = assert_fails_at(dir.path(), &[], 10);
    assert_eq!(report["failure"]["kind"], "chain_unlinked", "{report}");
}

#[test]
fn checkpoint_resigned_with_another_key_is_named() {
    let dir = sample();
    let c = attacker(dir.path());
    let note = checkpoint_note(&c, 21);
    let text = &note[..note.find("\n\n").unwrap() + 1];
    let forged = KeyPair::generate("auditgate.local/log").unwrap().sign_note(text).unwrap();
    c.execute("UPDATE checkpoints SET note = ?1 WHERE tree_size = 21", [forged]).unwrap();
    let report = assert_fails_at(dir.path(), &[], 20);
    assert_eq!(report["failure"]["kind"], "checkpoint_not_signed", "{report}");
}

#[test]
fn checkpoint_with_altered_size_is_named() {
    let dir = sample();
    let c = attacker(dir.path());
    let altered = checkpoint_note(&c, 11).replacen("\n11\n", "\n12\n", 1);
    c.execute("UPDATE checkpoints SET tree_size = 12, note = ?1 WHERE tree_size = 11", [altered]).unwrap();
    let report = assert_fails_at(dir.path(), &[], 11);
    assert_eq!(report["failure"]["kind"], "checkpoint_not_signed", "{report}");
}

/// A log of five request entries with stored bodies (`patient 1` to `patient 5`), each followed
/// by the `body_stored` entry committing to it; returns the request entries' numbers.
fn log_with_bodies() -> (tempfile::TempDir, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = AuditOptions { store_bodies: BodyStorage::Full, ..manual_options() };
    let seqs = runtime().block_on(async {
        let log = AuditLog::open(dir.path(), opts).unwrap();
        let mut seqs = Vec::new();
        for i in 1..=5 {
            let seq = log.append(request(i)).await.unwrap();
            let body = format!("{{\"secret\":\"patient {i}\"}}").into_bytes();
            log.store_body(seq, "request", body, None).await.unwrap();
            seqs.push(seq);
        }
        log.shutdown().await.unwrap();
        seqs
    });
    (dir, seqs)
}

/// The sealed ciphertext of entry `seq`'s request body, as stored.
fn ciphertext(dir: &std::path::Path, seq: u64) -> (Vec<u8>, Vec<u8>) {
    let c = rusqlite::Connection::open(dir.join("log.db")).unwrap();
    c.query_row("SELECT body, wrapped_key FROM bodies WHERE seq = ?1 AND role = 'request'", [seq as i64], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .unwrap()
}

fn erase(entry: u64, force: bool) -> AuditCommand {
    AuditCommand::Erase { entry, role: None, reason: "data subject request 2026-17".into(), force }
}

#[test]
fn stored_bodies_never_reach_the_database_in_clear() {
    let (dir, _) = log_with_bodies();
    let raw = std::fs::read(dir.path().join("log.db")).unwrap();
    assert!(!raw.windows(7).any(|w| w == b"patient"), "a stored body is readable in log.db");
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!((code, report["bodies_checked"].as_u64()), (0, Some(5)), "{report}");
}

#[test]
fn erasure_within_the_statutory_hold_needs_force_and_is_recorded() {
    let (dir, seqs) = log_with_bodies();
    let third = seqs[2];
    assert_eq!(audit_main(erase(third, false), dir.path()), 1, "held for 10 years: refused without --force");
    assert_eq!(verify_dir(dir.path(), &[]).1["erased_bodies"].as_array().unwrap().len(), 0);
    let (sealed, wrapped) = ciphertext(dir.path(), third);
    assert_eq!(audit_main(erase(third, true), dir.path()), 0);
    let (code, report) = verify_dir(dir.path(), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["bodies_checked"], 4);
    let erased = &report["erased_bodies"][0];
    assert_eq!((erased["seq"].as_u64(), erased["role"].as_str()), (Some(third), Some("request")));
    assert_eq!(erased["reason"], "data subject request 2026-17");
    let c = rusqlite::Connection::open(dir.path().join("log.db")).unwrap();
    let entry: Vec<u8> = c
        .query_row("SELECT bytes FROM entries WHERE seq = ?1", [erased["erasure_entry"].as_i64().unwrap()], |r| {
            r.get(0)
        })
        .unwrap();
    let entry = String::from_utf8(entry).unwrap();
    assert!(entry.contains("\"event\":\"body_erased\"") && entry.contains("\"forced\":true"), "{entry}");
    drop(c);
    // Neither the ciphertext nor the key that opened it survives anywhere in the files.
    for name in ["log.db", "log.db-wal"] {
        let raw = std::fs::read(dir.path().join(name)).unwrap_or_default();
        for (what, bytes) in [("ciphertext", &sealed[8..40]), ("wrapped key", &wrapped[8..40])] {
            assert!(!raw.windows(bytes.len()).any(|w| w == bytes), "the erased body's {what} is still in {name}");
        }
    }
    assert_eq!(audit_main(erase(third, true), dir.path()), 1, "nothing left to erase");
}

#[test]
fn altered_stored_body_is_named() {
    let (dir, seqs) = log_with_bodies();
    attacker(dir.path()).execute("UPDATE bodies SET body = x'00' WHERE seq = ?1", [seqs[1]]).unwrap();
    assert_fails_at(dir.path(), &[], seqs[1]);
}

#[test]
fn a_stored_body_and_its_digest_changed_together_are_caught_by_the_chain() {
    let (dir, seqs) = log_with_bodies();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"forged"));
    attacker(dir.path())
        .execute("UPDATE bodies SET body = 'forged', sha256 = ?1 WHERE seq = ?2", rusqlite::params![digest, seqs[1]])
        .unwrap();
    let report = assert_fails_at(dir.path(), &[], seqs[1]);
    assert_eq!(report["failure"]["kind"], "body_not_as_committed", "{report}");
}

#[test]
fn a_body_erased_behind_the_logs_back_is_named() {
    let (dir, seqs) = log_with_bodies();
    attacker(dir.path())
        .execute("UPDATE bodies SET body = NULL, wrapped_key = NULL, erased_at = 'x' WHERE seq = ?1", [seqs[3]])
        .unwrap();
    let report = assert_fails_at(dir.path(), &[], seqs[3]);
    assert_eq!(report["failure"]["kind"], "body_erased_unrecorded", "{report}");
}

#[test]
fn a_deleted_body_row_is_named_at_the_entry_that_stored_it() {
    let (dir, seqs) = log_with_bodies();
    let c = attacker(dir.path());
    let stored_by: i64 = c
        .query_row(
            "SELECT seq FROM entries WHERE kind = 'body_stored' AND json_extract(bytes, '$.payload.seq') = ?1",
            [seqs[4]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored_by as u64, seqs[4] + 1, "the commitment follows its request entry");
    c.execute("DELETE FROM bodies WHERE seq = ?1", [seqs[4]]).unwrap();
    let report = assert_fails_at(dir.path(), &[], stored_by as u64);
    assert_eq!(report["failure"]["kind"], "body_missing", "{report}");
}

fn assert_not_attested(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let (code, report) = verify_dir(dir, extra);
    assert_eq!(code, 3, "expected intact but not attested: {report}");
    assert_eq!((report["intact"].as_bool(), report["verdict"].as_str()), (Some(true), Some("not_attested")));
    report
}

#[test]
fn rewritten_and_rechained_log_without_any_checkpoint_is_not_attested() {
    let dir = sample();
    let saved = dir.path().join("saved-checkpoint.txt");
    let c = attacker(dir.path());
    std::fs::write(&saved, checkpoint_note(&c, 11)).unwrap();
    rewrite_and_rechain(&c, 5, |e| e.replacen("key-5", "kez-5", 1));
    drop_checkpoints_after(dir.path(), &c, 0);
    let report = assert_not_attested(dir.path(), &[]);
    assert_eq!((report["signed_size"].as_u64(), report["unsigned_tail"].as_u64()), (Some(0), Some(32)));
    assert!(report["not_attested"][0].as_str().unwrap().contains("after tree size 0"), "{report}");
    // A checkpoint the auditor kept exposes the rewrite.
    let report = assert_fails_at(dir.path(), &["--checkpoint", saved.to_str().unwrap()], 10);
    assert_eq!(report["failure"]["kind"], "history_rewritten", "{report}");
}

#[test]
fn rewritten_and_rechained_log_keeping_earlier_checkpoints_is_attested_only_up_to_them() {
    let dir = sample();
    let c = attacker(dir.path());
    rewrite_and_rechain(&c, 15, |e| e.replacen("key-15", "kez-15", 1));
    drop_checkpoints_after(dir.path(), &c, 11);
    let report = assert_not_attested(dir.path(), &[]);
    assert_eq!((report["signed_size"].as_u64(), report["unsigned_tail"].as_u64()), (Some(11), Some(21)));
    // Keeping a later checkpoint instead gives the rewrite away.
    let dir = sample();
    let c = attacker(dir.path());
    rewrite_and_rechain(&c, 15, |e| e.replacen("key-15", "kez-15", 1));
    assert_fails_at(dir.path(), &[], 20);
}

#[test]
fn edited_kind_column_is_named() {
    let dir = sample();
    attacker(dir.path()).execute("UPDATE entries SET kind = 'response' WHERE seq = 5", []).unwrap();
    let report = assert_fails_at(dir.path(), &[], 5);
    assert_eq!(report["failure"]["kind"], "kind_column_altered", "{report}");
}

#[test]
fn corrupted_tree_hash_is_named_at_its_last_entry() {
    use auditgate::audit::merkle::stored_position;
    let dir = sample();
    // The node over entries 4..=7 (level 2, index 1).
    let pos = stored_position(2, 1) as i64;
    let changed =
        attacker(dir.path()).execute("UPDATE tree_hashes SET hash = zeroblob(32) WHERE pos = ?1", [pos]).unwrap();
    assert_eq!(changed, 1);
    let report = assert_fails_at(dir.path(), &[], 7);
    assert_eq!(report["failure"]["kind"], "tree_hash_altered", "{report}");
    // A missing row is named the same way.
    let dir = sample();
    attacker(dir.path()).execute("DELETE FROM tree_hashes WHERE pos = ?1", [pos]).unwrap();
    assert_fails_at(dir.path(), &[], 7);
}

#[test]
fn log_and_key_replaced_together_fail_against_the_pinned_fingerprint() {
    let dir = sample();
    let pinned = fingerprint(dir.path());
    let forged = tempfile::tempdir().unwrap();
    make_log(forged.path(), 30, 10);
    for file in ["log.db", "checkpoints.log", "signing.pub"] {
        std::fs::copy(forged.path().join(file), dir.path().join(file)).unwrap();
    }
    let _ = std::fs::remove_file(dir.path().join("verified-state"));
    let (code, report) = verify_unpinned(dir.path());
    assert_eq!(code, 3, "the key beside the log proves nothing: {report}");
    assert_eq!(report["key_pinned"], false);
    assert_eq!(report["key_fingerprint"].as_str(), Some(fingerprint(forged.path()).as_str()));
    assert!(report["not_attested"][0].as_str().unwrap().contains("out of band"), "{report}");
    let report = assert_fails_at(dir.path(), &["--key-fingerprint", &pinned], 0);
    assert_eq!(report["failure"]["kind"], "key_never_signed", "{report}");
}

#[test]
fn forged_entry_after_the_last_checkpoint_is_not_attested() {
    let dir = sample();
    let c = attacker(dir.path());
    assert_eq!(append_forged(&c, &request(99)), 32);
    let report = assert_not_attested(dir.path(), &["--key-fingerprint", &fingerprint(dir.path())]);
    assert_eq!((report["entries"].as_u64(), report["signed_size"].as_u64()), (Some(33), Some(32)));
    assert_eq!(report["unsigned_tail"], 1);
    assert!(
        report["not_attested"][0]
            .as_str()
            .unwrap()
            .contains("after tree size 32 are not covered by a signed checkpoint yet: 1 entry (32)"),
        "{report}"
    );
}

#[test]
fn text_report_states_the_verdict_and_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let dir = sample();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_verify-log"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let unpinned = run(&[]);
    assert_eq!(unpinned.status.code(), Some(3));
    let text = String::from_utf8(unpinned.stdout).unwrap();
    assert!(text.starts_with("log intact but NOT ATTESTED"), "{text}");
    assert!(text.contains(&fingerprint(dir.path())), "{text}");
    let pinned = run(&["--key-fingerprint", &fingerprint(dir.path())]);
    assert_eq!(pinned.status.code(), Some(0));
    assert!(String::from_utf8(pinned.stdout).unwrap().starts_with("log intact and attested"));
    // `verify-log | head -c 0`: the reader is gone before anything is written.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_verify-log"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "the verdict stands: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `auditgate audit checkpoint` on `dir`: its exit code and stderr.
fn offline_checkpoint(dir: &std::path::Path) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auditgate"))
        .args(["audit", "checkpoint", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn assert_refused_at(dir: &std::path::Path, seq: u64) -> String {
    let before = std::fs::read_to_string(dir.join("checkpoints.log")).unwrap_or_default();
    let (code, out) = offline_checkpoint(dir);
    assert_eq!(code, 1, "the writer must refuse to sign: {out}");
    assert!(out.contains(&format!("integrity failure at entry {seq}:")), "wrong entry named: {out}");
    assert_eq!(std::fs::read_to_string(dir.join("checkpoints.log")).unwrap_or_default(), before, "nothing signed");
    assert!(AuditLog::open(dir, manual_options()).is_err(), "the gateway must refuse to start too");
    out
}

#[test]
fn writer_refuses_to_sign_a_rewritten_log_that_its_verified_state_contradicts() {
    let dir = sample();
    let c = attacker(dir.path());
    rewrite_and_rechain(&c, 5, |e| e.replacen("key-5", "kez-5", 1));
    let state = std::fs::read(dir.path().join("verified-state")).unwrap();
    drop_checkpoints_after(dir.path(), &c, 0);
    std::fs::write(dir.path().join("verified-state"), state).unwrap();
    let out = assert_refused_at(dir.path(), 31);
    assert!(out.contains("does not extend the state the gateway verified"), "{out}");
    // verify-log reads the same record and fails too.
    assert_fails_at(dir.path(), &[], 31);
}

#[test]
fn writer_refuses_a_rewrite_that_keeps_the_earlier_checkpoints() {
    let dir = sample();
    let c = attacker(dir.path());
    rewrite_and_rechain(&c, 15, |e| e.replacen("key-15", "kez-15", 1));
    drop_checkpoints_after(dir.path(), &c, 11);
    // Even without the verified-state record: checkpoints.log is gone, but so is every later one;
    // this is the case only an outside checkpoint or a witness catches.
    let (code, out) = offline_checkpoint(dir.path());
    assert_eq!(code, 0, "{out}");
    assert_eq!(verify_dir(dir.path(), &[]).0, 0, "re-signed with the real key, the forgery looks attested");
    // With the record kept, the writer refuses.
    let dir = sample();
    let c = attacker(dir.path());
    rewrite_and_rechain(&c, 15, |e| e.replacen("key-15", "kez-15", 1));
    c.execute("DELETE FROM checkpoints WHERE tree_size > 11", []).unwrap();
    std::fs::write(dir.path().join("checkpoints.log"), checkpoint_note(&c, 11)).unwrap();
    assert_refused_at(dir.path(), 31);
}

#[test]
fn writer_names_an_edited_kind_or_tree_hash_before_signing() {
    use auditgate::audit::merkle::stored_position;
    let dir = sample();
    let c = attacker(dir.path());
    c.execute("UPDATE entries SET kind = 'response' WHERE seq = 5", []).unwrap();
    // Without the record the writer checks from entry 0.
    std::fs::remove_file(dir.path().join("verified-state")).unwrap();
    assert_refused_at(dir.path(), 5);

    // The root of the 32 entries (level 5, index 0) is the node the writer resumes from.
    let dir = sample();
    let pos = stored_position(5, 0) as i64;
    attacker(dir.path()).execute("UPDATE tree_hashes SET hash = zeroblob(32) WHERE pos = ?1", [pos]).unwrap();
    let out = assert_refused_at(dir.path(), 31);
    assert!(out.contains("tree_hashes"), "{out}");
}

#[test]
fn writer_refuses_a_log_whose_last_checkpoint_is_missing_from_log_db() {
    let dir = sample();
    attacker(dir.path()).execute("DELETE FROM checkpoints WHERE tree_size = 32", []).unwrap();
    let out = assert_refused_at(dir.path(), 31);
    assert!(out.contains("missing from log.db"), "{out}");
}

/// Copy the log's files (database with its WAL, checkpoints, and with `with_state` the verified
/// state) over those in `to`.
fn copy_log(from: &std::path::Path, to: &std::path::Path, with_state: bool) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["log.db", "log.db-wal", "checkpoints.log", "verified-state"] {
        if f == "verified-state" && !with_state {
            continue;
        }
        let _ = std::fs::remove_file(to.join(f));
        if from.join(f).exists() {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }
    let _ = std::fs::remove_file(to.join("log.db-shm"));
}

#[test]
fn rollback_to_an_older_copy_is_refused_while_the_verified_state_remembers() {
    let dir = tempfile::tempdir().unwrap();
    make_log(dir.path(), 10, 0); // genesis, 1..=10, stop: 12 entries, checkpoint 12
    let old = tempfile::tempdir().unwrap();
    copy_log(dir.path(), old.path(), true);
    runtime().block_on(async {
        let log = AuditLog::open(dir.path(), manual_options()).unwrap();
        for i in 0..20 {
            log.append(request(100 + i)).await.unwrap();
        }
        log.shutdown().await.unwrap();
    });
    let saved = dir.path().join("saved-checkpoint.txt");
    std::fs::write(&saved, checkpoint_note(&attacker(dir.path()), 33)).unwrap();

    // Database and checkpoints rolled back, the newer verified state left in place.
    copy_log(old.path(), dir.path(), false);
    let out = assert_refused_at(dir.path(), 12);
    assert!(out.contains("missing"), "{out}");
    let report = assert_fails_at(dir.path(), &[], 12);
    assert_eq!(report["failure"]["kind"], "truncated", "{report}");

    // Everything rolled back together: locally consistent, so only an outside checkpoint tells.
    copy_log(old.path(), dir.path(), true);
    assert_eq!(verify_dir(dir.path(), &[]).0, 0);
    assert_eq!(offline_checkpoint(dir.path()).0, 0);
    assert_fails_at(dir.path(), &["--checkpoint", saved.to_str().unwrap()], 12);
}
