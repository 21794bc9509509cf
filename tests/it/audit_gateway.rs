//! The audit log seen through the gateway: fail closed when the log cannot be written, survive a
//! kill -9 under load with a log that verifies and holds every entry a client was told about, and
//! record every exchange (request before response, with the policy that decided).

use crate::common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `verify-log` with the key pinned (the tests play an auditor who received it out of band).
fn verify(data_dir: &Path) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_verify-log"))
        .args(["--json", "--data-dir"])
        .arg(data_dir)
        .arg("--public-key")
        .arg(data_dir.join("signing.pub"))
        .output()
        .expect("run verify-log");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report)
}

/// Every entry of the log: seq -> (kind, payload).
fn entries(data_dir: &Path) -> BTreeMap<u64, (String, Value)> {
    let conn = rusqlite::Connection::open(data_dir.join("log.db")).unwrap();
    let mut stmt = conn.prepare("SELECT seq, kind, bytes FROM entries ORDER BY seq").unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)))
        .unwrap();
    rows.map(|r| {
        let (seq, kind, bytes) = r.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        (seq, (kind, v["payload"].clone()))
    })
    .collect()
}

#[tokio::test]
async fn every_exchange_is_recorded_request_first() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    let (status, headers, body) = gw.chat(user("hello")).await;
    assert_eq!(status, 200);
    let request_seq: u64 = headers["x-auditgate-entry"].to_str().unwrap().parse().unwrap();
    let response_seq: u64 = headers["x-auditgate-response-entry"].to_str().unwrap().parse().unwrap();
    assert!(response_seq > request_seq);
    gw.stop();
    let log = entries(&gw.data_dir());
    let (kind, req) = &log[&request_seq];
    assert_eq!(kind, "request");
    assert_eq!(req["generation_id"], body["id"]);
    assert_eq!(req["policy_rule"], "allow-everything");
    assert_eq!(req["candidates"], json!(["test/model:fake-eu@eu"]));
    assert_eq!(req["body_sha256"].as_str().unwrap().len(), 64);
    let (kind, resp) = &log[&response_seq];
    assert_eq!(kind, "response");
    assert_eq!(resp["request_seq"], request_seq);
    assert_eq!(resp["provider"], "fake-eu");
    assert_eq!(resp["usage"]["total_tokens"], 15);
    assert_eq!(resp["attempts"][0]["status"], 200);
    // The hash of the body as delivered is the hash of what the client received.
    let (code, report) = verify(&gw.data_dir());
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["unsigned_tail"], 0, "a clean stop signs a final checkpoint: {report}");
}

#[tokio::test]
async fn unwritable_log_answers_503_and_forwards_nothing() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    assert_eq!(gw.chat(user("before")).await.0, 200);
    assert_eq!(fake.hits(), 1);
    // Take the log away from under the running gateway (root ignores file modes, so replace it).
    let db = gw.data_dir().join("log.db");
    std::fs::rename(&db, gw.data_dir().join("log.db.moved")).unwrap();
    std::fs::write(&db, b"not a database").unwrap();
    for stream in [false, true] {
        let mut req = user("must not leave");
        req["stream"] = json!(stream);
        let started = Instant::now();
        let (status, _, body) = gw.chat(req).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "audit_unavailable");
        assert!(started.elapsed() < Duration::from_secs(10), "fail closed must be prompt");
    }
    assert_eq!(fake.hits(), 1, "nothing may be forwarded while the log cannot be written");
}

#[tokio::test]
async fn kill_9_under_load_leaves_a_log_that_verifies_and_keeps_every_receipt() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let builder = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"));
    let mut gw = builder.start();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let workers = load(&gw, 8, deadline);
    tokio::time::sleep(Duration::from_millis(900)).await;
    gw.child.kill().unwrap(); // SIGKILL
    gw.child.wait().unwrap();
    let mut receipts = Vec::new();
    for w in workers {
        receipts.extend(w.await.unwrap_or_default());
    }
    assert!(receipts.len() > 20, "too little load before the kill: {}", receipts.len());
    let (code, report) = verify(&gw.data_dir());
    assert!(code == 0 || code == 3, "the log must be intact after kill -9: {report}");
    assert_eq!(report["intact"], true, "{report}");
    let log = entries(&gw.data_dir());
    for (entry, id) in &receipts {
        let (kind, payload) = log.get(entry).unwrap_or_else(|| panic!("entry {entry} a client received is missing"));
        assert_eq!(kind, "request");
        assert_eq!(payload["generation_id"].as_str(), Some(id.as_str()));
    }
    // The gateway starts again on the same log and continues the chain.
    let dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().unwrap());
    let config = dir.path().join("gateway.toml");
    let key = gw.key.clone();
    drop(gw);
    let mut again = Gateway::spawn(dir, &config, key);
    assert_eq!(again.chat(user("after the crash")).await.0, 200);
    again.stop();
    let (code, report) = verify(&again.data_dir());
    assert_eq!(code, 0, "{report}");
}

fn stored_bodies(data_dir: &Path) -> Vec<(u64, String, String, Option<Vec<u8>>)> {
    let conn = rusqlite::Connection::open(data_dir.join("log.db")).unwrap();
    let mut stmt = conn.prepare("SELECT seq, role, mode, body FROM bodies ORDER BY seq, role").unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

/// `auditgate audit ARGS --data-dir DIR`: exit code, stdout, stderr.
fn audit_cli(data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).arg("audit").args(args).arg("--data-dir").arg(data_dir).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
pub(crate) async fn redacted_bodies_are_kept_sealed_beside_the_chain_and_can_be_erased() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default()
        .extra("[audit]\nstore_bodies = \"redacted\"")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let iban = "CH93 0076 2011 6238 5295 7";
    let (status, headers, _) = gw.chat(user(&format!("pay to {iban}"))).await;
    assert_eq!(status, 200);
    let mut req = user(&format!("stream to {iban}"));
    req["stream"] = json!(true);
    let streamed = gw.post("/v1/chat/completions", &req).send().await.unwrap().text().await.unwrap();
    assert!(streamed.ends_with("data: [DONE]\n\n"), "{streamed}");
    let seq: u64 = headers["x-auditgate-entry"].to_str().unwrap().parse().unwrap();
    gw.stop();
    let data = gw.data_dir();
    let bodies = stored_bodies(&data);
    assert_eq!(bodies.len(), 4, "request and response of both calls");
    let raw = std::fs::read(data.join("log.db")).unwrap();
    assert!(!raw.windows(11).any(|w| w == b"<IBAN_CODE>"), "stored bodies are sealed, not in clear");
    for (seq, role, mode, _) in &bodies {
        assert_eq!(mode, "redacted");
        let (code, text, err) = audit_cli(&data, &["show-body", "--entry", &seq.to_string(), "--role", role]);
        assert_eq!(code, 0, "{err}");
        assert!(!text.contains(iban), "{role} body kept the IBAN: {text}");
        assert!(text.contains("<IBAN_CODE>"), "{role}: {text}");
    }
    let erase = ["erase", "--entry", &seq.to_string(), "--role", "request", "--reason", "art. 17 request"];
    let (code, _, err) = audit_cli(&data, &erase);
    assert_eq!(code, 1, "within the 10-year hold an erasure needs --force");
    assert!(err.contains("held until") && err.contains("--force"), "{err}");
    let (code, _, err) = audit_cli(&data, &[&erase[..], &["--force"]].concat());
    assert_eq!(code, 0, "{err}");
    let (code, report) = verify(&data);
    assert_eq!(code, 0, "an erased body leaves a log that verifies: {report}");
    assert_eq!(report["erased_bodies"].as_array().unwrap().len(), 1, "{report}");
    let (code, _, err) = audit_cli(&data, &["show-body", "--entry", &seq.to_string(), "--role", "request"]);
    assert_eq!(code, 1, "an erased body cannot be shown");
    assert!(err.contains("erased"), "{err}");
}

/// A policy rule sets its own hold: bodies of calls it decides with `body_hold_years = 0` may be
/// erased at once, without --force, and the erasure is recorded as not forced.
#[tokio::test]
pub(crate) async fn a_rules_own_hold_decides_when_its_bodies_may_be_erased() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default()
        .extra("[audit]\nstore_bodies = \"full\"")
        .policy("[[rule]]\nid = \"chat-no-hold\"\naction = \"allow\"\nbody_hold_years = 0\n")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let (status, headers, _) = gw.chat(user("a note to forget")).await;
    assert_eq!(status, 200);
    let seq = headers["x-auditgate-entry"].to_str().unwrap().to_string();
    gw.stop();
    let data = gw.data_dir();
    let (code, _, err) = audit_cli(&data, &["erase", "--entry", &seq, "--reason", "no longer needed"]);
    assert_eq!(code, 0, "{err}");
    let log = entries(&data);
    let erased = log.values().find(|(k, _)| k == "body_erased").expect("body_erased entry");
    assert_eq!(erased.1["forced"], false);
    assert_eq!(erased.1["roles"], json!(["request", "response"]));
    assert_eq!(verify(&data).0, 0);
}

/// GeBueV art. 8: every read of audit data appends an `access` entry, also while the gateway
/// runs (the command hands its record to the gateway's writer and waits for it), and an erasure
/// while it runs is recorded by the gateway's writer too.
#[tokio::test]
async fn every_read_of_audit_data_is_recorded_while_the_gateway_runs() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default()
        .extra("[audit]\nstore_bodies = \"full\"\ncheckpoint_interval_ms = 200")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let (status, headers, body) = gw.chat(user("the minutes of the board")).await;
    assert_eq!(status, 200);
    let seq = headers["x-auditgate-entry"].to_str().unwrap().to_string();
    let generation = body["id"].as_str().unwrap().to_string();
    let data = gw.data_dir();
    let (code, proof, err) = audit_cli(&data, &["prove", "--entry", &seq, "--reason", "annual review"]);
    assert_eq!(code, 0, "{err}");
    assert!(proof.contains("inclusion"), "{proof}");
    let (code, text, err) = audit_cli(&data, &["show-body", "--entry", &seq, "--reason", "client complaint"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("the minutes of the board"), "{text}");
    let out = Command::new(bin())
        .args(["activity", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = format!("{}/api/v1/generation?id={generation}", gw.url);
    let looked_up = gw.client().get(url).bearer_auth(&gw.key).send().await.unwrap();
    assert_eq!(looked_up.status(), 200);
    let (code, _, err) = audit_cli(&data, &["erase", "--entry", &seq, "--reason", "art. 17", "--force"]);
    assert_eq!(code, 0, "{err}");
    gw.stop();
    let log = entries(&data);
    let access: Vec<&Value> = log.values().filter(|(k, _)| k == "access").map(|(_, p)| p).collect();
    let actions: Vec<&str> = access.iter().map(|p| p["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["prove", "show_body", "activity_export", "generation"], "{access:?}");
    assert_eq!(access[0]["reason"], "annual review");
    assert_eq!(access[0]["from_seq"].to_string(), seq);
    assert!(access[0]["by"].as_str().unwrap().starts_with("operator:"), "{access:?}");
    assert!(access[3]["by"].as_str().unwrap().starts_with("key:"), "{access:?}");
    let erased = log.values().find(|(k, _)| k == "body_erased").expect("body_erased entry");
    assert_eq!((erased.1["seq"].to_string(), erased.1["forced"].as_bool()), (seq.clone(), Some(true)));
    assert_eq!(std::fs::read_dir(data.join("requests")).unwrap().count(), 0, "every request answered and removed");
    let (code, report) = verify(&data);
    assert_eq!(code, 0, "{report}");
}

/// The request entry's upstream hash is the hash of the bytes actually sent to the first provider,
/// in its own dialect and with the streaming options the gateway adds.
#[tokio::test]
async fn request_entry_hashes_the_bytes_sent_upstream() {
    let openai = FakeUpstream::start(Behavior::Echo).await;
    let claude = FakeUpstream::start(Behavior::Echo).await;
    for spec in [
        ProviderSpec::new("oa", &openai.base_url, "eu", "FR"),
        ProviderSpec::new("claude", &claude.base_url, "eu", "DE").anthropic(),
    ] {
        let mut gw = GatewayBuilder::default().provider(spec).start();
        let mut seqs = Vec::new();
        for stream in [false, true] {
            let mut req = user("hash me");
            req["stream"] = json!(stream);
            let resp = gw.post("/v1/chat/completions", &req).send().await.unwrap();
            seqs.push(resp.headers()["x-auditgate-entry"].to_str().unwrap().parse::<u64>().unwrap());
            let _ = resp.text().await;
        }
        gw.stop();
        let log = entries(&gw.data_dir());
        for seq in seqs {
            let (_, request) = &log[&seq];
            let response =
                log.values().find(|(k, p)| k == "response" && p["request_seq"] == seq).expect("response entry");
            assert_eq!(
                request["upstream_body_sha256"], response.1["attempts"][0]["upstream_body_sha256"],
                "entry {seq}: {request} / {}",
                response.1
            );
        }
    }
}

#[tokio::test]
async fn data_directory_is_0700_and_every_file_in_it_0600() {
    use std::os::unix::fs::PermissionsExt;
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default()
        .extra("[audit]\nstore_bodies = \"full\"")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    assert_eq!(gw.chat(user("private")).await.0, 200);
    let data = gw.data_dir();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let while_running: Vec<String> =
        std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    for name in ["log.db", "log.db-wal", "gateway.db", "signing.key", "signing.pub", "writer.lock", "pii-hash.salt"] {
        assert!(while_running.iter().any(|n| n == name), "{name} missing from {while_running:?}");
    }
    gw.stop();
    assert_eq!(mode(&data), 0o700, "data directory");
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{} is {:o}", path.display(), mode(&path));
    }
    assert!(while_running.len() >= 7);
}

/// The README's auditor path: a snapshot taken while the gateway serves traffic holds every entry a
/// client was told about before it started, WAL included, and verifies as attested on its own.
#[tokio::test]
async fn snapshot_of_a_running_gateway_is_consistent_and_attested() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .extra("[audit]\ncheckpoint_interval_ms = 200")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let mut last_seen = 0;
    for i in 0..40 {
        let (status, headers, _) = gw.chat(user(&format!("call {i}"))).await;
        assert_eq!(status, 200);
        last_seen = headers["x-auditgate-response-entry"].to_str().unwrap().parse::<u64>().unwrap();
    }
    let wal = std::fs::metadata(gw.data_dir().join("log.db-wal")).map_or(0, |m| m.len());
    assert!(wal > 0, "the live log has entries in its WAL");
    // Keep traffic going while the snapshot is taken.
    let background = {
        let (client, url, key) = (gw.client(), format!("{}/v1/chat/completions", gw.url), gw.key.clone());
        tokio::spawn(async move {
            for i in 0..30 {
                let _ = client.post(&url).bearer_auth(&key).json(&user(&format!("more {i}"))).send().await;
            }
        })
    };
    let out = gw.dir.path().join("snapshot");
    let data = gw.data_dir();
    let out2 = out.clone();
    let snap = tokio::task::spawn_blocking(move || {
        Command::new(bin())
            .args(["audit", "snapshot", "--out"])
            .arg(&out2)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(snap.status.success(), "{}", String::from_utf8_lossy(&snap.stderr));
    background.await.unwrap();
    let fp = {
        let vkey = std::fs::read_to_string(gw.data_dir().join("signing.pub")).unwrap();
        auditgate::audit::note::PublicKey::parse(&vkey).unwrap().fingerprint()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_verify-log"))
        .args(["--json", "--key-fingerprint", &fp, "--data-dir"])
        .arg(&out)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report["entries"].as_u64().unwrap() > last_seen, "entry {last_seen} missing from the copy: {report}");
}
