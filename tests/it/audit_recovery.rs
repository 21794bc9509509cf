//! Recovery through the gateway: kill -9 under concurrent plain and streamed load, several times,
//! then every request entry has an outcome entry and spend in the store equals the cost the log
//! records, key by key; and the honest error when the log fails after the upstream answered.

use crate::common;

use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Every entry as (seq, kind, payload), read as an auditor would (read-only, WAL included).
fn entries(data_dir: &Path) -> Vec<(u64, String, Value)> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(data_dir.join("log.db"), flags).unwrap();
    let mut stmt = conn.prepare("SELECT seq, kind, bytes FROM entries ORDER BY seq").unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)))
        .unwrap();
    rows.map(|r| {
        let (seq, kind, bytes) = r.unwrap();
        (seq, kind, serde_json::from_slice::<Value>(&bytes).unwrap()["payload"].clone())
    })
    .collect()
}

/// Forwarded request entries that no response or outcome entry names.
fn without_outcome(log: &[(u64, String, Value)]) -> Vec<u64> {
    let closed: BTreeSet<u64> = log
        .iter()
        .filter(|(_, k, _)| k == "response" || k == "outcome")
        .filter_map(|(_, _, p)| p["request_seq"].as_u64())
        .collect();
    log.iter()
        .filter(|(s, k, p)| k == "request" && p["decision"] != "deny" && !closed.contains(s))
        .map(|(s, _, _)| *s)
        .collect()
}

/// Sum of `cost_usd` of the response entries, by the key of their request.
fn logged_cost(log: &[(u64, String, Value)]) -> BTreeMap<String, f64> {
    let key_of: BTreeMap<u64, String> = log
        .iter()
        .filter(|(_, k, _)| k == "request")
        .map(|(s, _, p)| (*s, p["key_id"].as_str().unwrap().to_string()))
        .collect();
    let mut cost = BTreeMap::new();
    for (_, _, p) in log.iter().filter(|(_, k, _)| k == "response") {
        if let Some(c) = p["cost_usd"].as_f64() {
            *cost.entry(key_of[&p["request_seq"].as_u64().unwrap()].clone()).or_insert(0.0) += c;
        }
    }
    cost
}

/// Spend per key as the account store has it.
fn stored_spend(data_dir: &Path) -> BTreeMap<String, f64> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(data_dir.join("gateway.db"), flags).unwrap();
    let mut stmt = conn.prepare("SELECT id, usage_usd FROM keys").unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

fn assert_spend_matches_log(data_dir: &Path, log: &[(u64, String, Value)], when: &str) {
    let logged = logged_cost(log);
    let stored = stored_spend(data_dir);
    assert!(logged.len() >= 2, "{when}: both keys made calls: {logged:?}");
    for (key, spend) in &stored {
        let expected = logged.get(key).copied().unwrap_or(0.0);
        assert!((spend - expected).abs() < 1e-9, "{when}: key {key} spent {spend} in the store, {expected} in the log");
    }
}

/// Concurrent plain and streamed calls with both keys until `stop`.
fn load(gw: &Gateway, keys: &[String], stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..8)
        .map(|w| {
            let (client, url) = (gw.client(), format!("{}/v1/chat/completions", gw.url));
            let key = keys[w % keys.len()].clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let mut req = user(&format!("worker {w} call {i}"));
                    req["stream"] = json!(i % 2 == 0);
                    let Ok(resp) = client.post(&url).bearer_auth(&key).json(&req).send().await else { break };
                    if resp.text().await.is_err() {
                        break;
                    }
                }
            })
        })
        .collect()
}

/// Start the gateway again on the same directory and configuration.
fn restart(gw: &mut Gateway) -> Gateway {
    let dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().unwrap());
    let config = dir.path().join("gateway.toml");
    Gateway::spawn(dir, &config, gw.key.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_again_and_again_leaves_an_outcome_for_every_request_and_spend_as_logged() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    let keys = vec![gw.key.clone(), create_key(&gw.data_dir(), "second", "testers", None)];
    let mut cut_short = 0;
    for round in 1..=3 {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = load(&gw, &keys, stop.clone());
        tokio::time::sleep(Duration::from_millis(800)).await;
        gw.child.kill().unwrap(); // SIGKILL: no drain, no stop entry, no final checkpoint
        gw.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            let _ = w.await;
        }
        let before = entries(&gw.data_dir());
        cut_short += without_outcome(&before).len();
        let next = restart(&mut gw);
        gw = next;
        let log = entries(&gw.data_dir());
        assert!(log.len() > before.len(), "round {round}: nothing recorded on restart");
        let recovered: Vec<&Value> = log.iter().filter(|(_, k, _)| k == "recovered").map(|(_, _, p)| p).collect();
        assert_eq!(recovered.len(), round, "one recovered entry per crash");
        assert_eq!(recovered[round - 1]["last_seq_before"], before.len() as u64 - 1);
        assert_eq!(recovered[round - 1]["requests_without_outcome"], without_outcome(&before).len() as u64);
        assert_eq!(without_outcome(&log), Vec::<u64>::new(), "round {round}: requests without an outcome");
        assert_spend_matches_log(&gw.data_dir(), &log, &format!("after restart {round}"));
    }
    assert!(cut_short > 0, "the kills should have caught requests in flight");
    assert_eq!(gw.chat(user("after the crashes")).await.0, 200);
    gw.stop();
    let log = entries(&gw.data_dir());
    assert_eq!(without_outcome(&log), Vec::<u64>::new());
    assert_spend_matches_log(&gw.data_dir(), &log, "after a clean stop");
    let fingerprint = {
        let vkey = std::fs::read_to_string(gw.data_dir().join("signing.pub")).unwrap();
        auditgate::audit::note::PublicKey::parse(&vkey).unwrap().fingerprint()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_verify-log"))
        .args(["--json", "--key-fingerprint", &fingerprint, "--data-dir"])
        .arg(gw.data_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

async fn health(gw: &Gateway) -> (u16, Value) {
    let resp = gw.client().get(format!("{}/health", gw.url)).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Wait until the upstream has received `n` requests.
async fn until_hits(fake: &FakeUpstream, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fake.hits() < n {
        assert!(std::time::Instant::now() < deadline, "the request never reached the upstream");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn log_failing_after_forwarding_withholds_the_answer_and_records_it_once_the_log_recovers() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    assert_eq!(gw.chat(user("before")).await.0, 200);
    assert_eq!(health(&gw).await.0, 200);
    let db = gw.data_dir().join("log.db");

    // A plain call: the log becomes unwritable while the upstream works on it.
    fake.set(Behavior::Slow(Duration::from_millis(600)));
    let call = {
        let req = gw.post("/v1/chat/completions", &user("answered but not recorded"));
        tokio::spawn(async move { req.send().await.unwrap() })
    };
    until_hits(&fake, 2).await;
    set_mode(&db, 0o444);
    let resp = call.await.unwrap();
    let status = resp.status().as_u16();
    let plain_seq: u64 = resp.headers()["x-auditgate-entry"].to_str().unwrap().parse().unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "audit_unavailable_after_forward");
    assert_eq!(
        body["error"]["message"],
        "the upstream answered, but its answer could not be recorded, so it is withheld"
    );

    // A streamed call: its content went out, its end cannot be confirmed.
    fake.set(Behavior::SlowStream { chunks: 3, interval: Duration::from_millis(200) });
    set_mode(&db, 0o644);
    let mut req = user("streamed but not recorded");
    req["stream"] = json!(true);
    let resp = gw.post("/v1/chat/completions", &req).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the stream opens while the log works");
    let stream_seq: u64 = resp.headers()["x-auditgate-entry"].to_str().unwrap().parse().unwrap();
    set_mode(&db, 0o444);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(text.contains("audit_unavailable_after_forward"), "{text}");

    let (code, report) = health(&gw).await;
    assert_eq!(code, 503, "{report}");
    assert!(report["reason"].as_str().unwrap().contains("cannot be written"), "{report}");
    // Nothing new is admitted while the outcomes wait.
    fake.set(Behavior::Echo);
    let hits = fake.hits();
    let (status, _, body) = gw.chat(user("not now")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("audit_unavailable")), "{body}");
    assert_eq!(fake.hits(), hits, "nothing forwarded while the log is not writable");

    set_mode(&db, 0o644);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while health(&gw).await.0 != 200 {
        assert!(std::time::Instant::now() < deadline, "the log recovered but /health did not");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, headers, _) = gw.chat(user("after")).await;
    assert_eq!(status, 200);
    let after_seq: u64 = headers["x-auditgate-entry"].to_str().unwrap().parse().unwrap();

    let log = entries(&gw.data_dir());
    for (request_seq, what) in [(plain_seq, "plain"), (stream_seq, "streamed")] {
        let (seq, _, outcome) = log
            .iter()
            .find(|(_, k, p)| k == "response" && p["request_seq"] == request_seq)
            .unwrap_or_else(|| panic!("no outcome entry for the {what} call {request_seq}"));
        assert_eq!(outcome["status"], 503, "{what}: {outcome}");
        assert!(outcome["error"].as_str().unwrap().contains("withheld"), "{what}: {outcome}");
        assert!(outcome["cost_usd"].as_f64().unwrap() > 0.0, "{what}: the upstream's charge is recorded");
        assert!(*seq < after_seq, "{what}: the late outcome comes before any later request");
    }
    assert_eq!(without_outcome(&log), Vec::<u64>::new());
    // The withheld answers are charged as the log records them.
    let logged: f64 = logged_cost(&log).values().sum();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stored: f64 = stored_spend(&gw.data_dir()).values().sum();
        if (stored - logged).abs() < 1e-9 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "spend {stored} in the store, {logged} in the log");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_gateway_refuses_to_start_on_a_log_missing_its_last_checkpoint_and_names_the_entry() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    assert_eq!(gw.chat(user("hello")).await.0, 200);
    gw.stop();
    let c = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    c.execute_batch("DROP TRIGGER checkpoints_no_delete").unwrap();
    let last: i64 = c.query_row("SELECT max(tree_size) FROM checkpoints", [], |r| r.get(0)).unwrap();
    c.execute("DELETE FROM checkpoints WHERE tree_size = ?1", [last]).unwrap();
    drop(c);
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(gw.dir.path().join("gateway.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(30)).expect("the gateway should exit, not serve");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&format!("integrity failure at entry {}:", last - 1)), "{stderr}");
    assert!(stderr.contains("missing from log.db"), "{stderr}");
}
