//! Witnesses on loopback (C2SP tlog-witness): a real `auditgate witness serve` cosigns a growing
//! log pushed by a real gateway; it refuses the same log rolled back (restored from an older copy)
//! and a log rewritten and signed again with the stolen signing key; `verify-log --witness-key`
//! passes the honest log and fails both others.

use crate::audit_support::{request, verify_dir};
use crate::common::{bin, create_key, wait_timeout, Gateway, GatewayBuilder};
use auditgate::audit::{AuditLog, AuditOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `auditgate witness serve` on an ephemeral loopback port.
pub(crate) struct Witness {
    child: Child,
    pub(crate) url: String,
    dir: PathBuf,
}

impl Witness {
    pub(crate) fn start(dir: &Path) -> Witness {
        let mut child = Command::new(bin())
            .args(["witness", "serve", "--listen", "127.0.0.1:0", "--name", "witness.test/w1", "--data-dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start witness");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("auditgate witness listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(20)).expect("witness did not start");
        Witness { child, url, dir: dir.to_path_buf() }
    }

    pub(crate) fn public_key(&self) -> String {
        std::fs::read_to_string(self.dir.join("witness.pub")).expect("witness.pub").trim().to_string()
    }

    /// The tree size the witness last cosigned for the test log.
    fn cosigned_size(&self) -> u64 {
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("state.json")).unwrap_or("{}".into()))
                .unwrap_or_default();
        state["logs"]["auditgate.local/log"]["size"].as_u64().unwrap_or(0)
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new log in `data` (genesis, stop, checkpoint), so the witness can be told its key.
async fn new_log(data: &Path, extra_entries: u64) {
    let log = AuditLog::open(data, AuditOptions::default()).expect("open");
    for i in 0..extra_entries {
        log.append(request(i)).await.expect("append");
    }
    log.shutdown().await.expect("shutdown");
}

fn add_log(witness_dir: &Path, data: &Path) {
    let out = Command::new(bin())
        .args(["witness", "add-log", "--origin", "auditgate.local/log", "--data-dir"])
        .arg(witness_dir)
        .arg("--public-key")
        .arg(data.join("signing.pub"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A demo gateway on an existing data directory, pushing to `witness_url`.
fn gateway(root: &tempfile::TempDir, witness_url: &str, witness_key: &str) -> Gateway {
    let dir = tempfile::tempdir_in(root.path()).unwrap();
    let data = root.path().join("data");
    let builder = GatewayBuilder::default().demo().extra(&format!(
        "[audit]\ncheckpoint_interval_ms = 100\nwitness_quorum = 1\n[[audit.witnesses]]\nurl = {witness_url:?}\npublic_key = {witness_key:?}\n"
    ));
    let config = builder.write_config(dir.path());
    // Point the gateway at the shared data directory instead of the per-start one.
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        &format!("{:?}", dir.path().join("data").display().to_string()),
        &format!("{:?}", data.display().to_string()),
    );
    std::fs::write(&config, text).unwrap();
    static STARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let key = create_key(&data, &format!("tester-{n}"), "testers", None);
    Gateway::spawn(dir, &config, key)
}

async fn call(gw: &Gateway) -> u16 {
    let body = serde_json::json!({"model": "demo/echo", "messages": [{"role": "user", "content": "Grüezi"}]});
    gw.post("/v1/chat/completions", &body).send().await.expect("request").status().as_u16()
}

async fn health(gw: &Gateway) -> (u16, serde_json::Value) {
    let resp = gw.client().get(format!("{}/health", gw.url)).send().await.expect("health");
    (resp.status().as_u16(), resp.json().await.unwrap_or_default())
}

/// Poll `/health` until `done` holds for it (at most 20 s).
async fn health_until(gw: &Gateway, done: impl Fn(u16, &serde_json::Value) -> bool) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (status, body) = health(gw).await;
        if done(status, &body) {
            return body;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "health never got there: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stop(mut gw: Gateway) {
    assert!(gw.terminate().success(), "{}", gw.stderr());
}

fn log_size(data: &Path) -> u64 {
    let c = rusqlite::Connection::open(data.join("log.db")).unwrap();
    c.query_row("SELECT count(*) FROM entries", [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

fn entries_of_kind(data: &Path, kind: &str) -> Vec<serde_json::Value> {
    let c = rusqlite::Connection::open(data.join("log.db")).unwrap();
    let mut stmt = c.prepare("SELECT bytes FROM entries WHERE kind = ?1 ORDER BY seq").unwrap();
    let rows = stmt.query_map([kind], |r| r.get::<_, Vec<u8>>(0)).unwrap();
    rows.map(|b| serde_json::from_slice::<serde_json::Value>(&b.unwrap()).unwrap()["payload"].clone()).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn verify_witnessed(data: &Path, witness: &Witness) -> (i32, serde_json::Value) {
    let key = witness.dir.join("witness.pub");
    verify_dir(data, &["--witness-key", key.to_str().unwrap(), "--witness-quorum", "1"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn a_witness_cosigns_a_growing_log_and_refuses_it_rolled_back() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    new_log(&data, 0).await;
    let witness_dir = root.path().join("witness");
    add_log(&witness_dir, &data);
    let witness = Witness::start(&witness_dir);
    let wkey = witness.public_key();

    // An honest gateway: every checkpoint is cosigned, and the witness follows the log's growth.
    let gw = gateway(&root, &witness.url, &wkey);
    let mut sizes = Vec::new();
    for _ in 0..3 {
        assert_eq!(call(&gw).await, 200);
        let size = log_size(&data);
        let body = health_until(&gw, |_, b| b["witnesses"]["witnessed_size"].as_u64() >= Some(size)).await;
        assert_eq!(body["witnesses"]["witnesses"][0]["state"], "ok", "{body}");
        sizes.push(witness.cosigned_size());
    }
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "the witness cosigned a growing log: {sizes:?}");
    stop(gw);
    let (code, report) = verify_witnessed(&data, &witness);
    assert_eq!(code, 0, "the honest log is attested and witnessed: {report}");
    assert_eq!(report["witnesses"]["witnessed_size"].as_u64(), Some(log_size(&data)));
    // Without the witness's cosignatures the same log is not witnessed: the quorum has an effect.
    let other = auditgate::audit::cosign::WitnessSigner::generate("other.test/w").unwrap();
    let other_key = root.path().join("other.pub");
    std::fs::write(&other_key, other.vkey()).unwrap();
    let (code, report) = verify_dir(&data, &["--witness-key", other_key.to_str().unwrap()]);
    assert_eq!(code, 3, "{report}");

    // The operator keeps a backup, the log grows further, then the old backup is restored.
    let backup = root.path().join("backup");
    copy_dir(&data, &backup);
    let gw = gateway(&root, &witness.url, &wkey);
    for _ in 0..4 {
        assert_eq!(call(&gw).await, 200);
    }
    stop(gw);
    let seen = witness.cosigned_size();
    assert_eq!(seen, log_size(&data));
    std::fs::remove_dir_all(&data).unwrap();
    copy_dir(&backup, &data);

    // The witness answers 409 with a size beyond the restored log: the gateway fails closed.
    let gw = gateway(&root, &witness.url, &wkey);
    let body = health_until(&gw, |status, _| status == 503).await;
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("rolled back") && reason.contains(&seen.to_string()), "{body}");
    assert_eq!(body["witnesses"]["witnesses"][0]["state"], "refused", "{body}");
    assert_eq!(call(&gw).await, 503, "every call is refused once the rollback is known");
    let refused = entries_of_kind(&data, "witness_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["status"], 409);
    assert_eq!(refused[0]["rolled_back"], true);
    assert_eq!(refused[0]["witness_size"].as_u64(), Some(seen));
    assert_eq!(witness.cosigned_size(), seen, "the witness did not roll back with the log");
    stop(gw);
    // It stays closed after a restart, until an operator acts.
    let gw = gateway(&root, &witness.url, &wkey);
    assert_eq!(call(&gw).await, 503);
    let (status, body) = health(&gw).await;
    assert_eq!(status, 503, "{body}");
    stop(gw);
    let (code, report) = verify_witnessed(&data, &witness);
    assert_ne!(code, 0, "a rolled-back log does not pass with the witness: {report}");
    assert_eq!(code, 3, "entries after the restore are not witnessed: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn a_witness_refuses_a_log_rewritten_with_the_stolen_key() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    new_log(&data, 0).await;
    let witness_dir = root.path().join("witness");
    add_log(&witness_dir, &data);
    let witness = Witness::start(&witness_dir);
    let wkey = witness.public_key();
    let gw = gateway(&root, &witness.url, &wkey);
    for _ in 0..3 {
        assert_eq!(call(&gw).await, 200);
    }
    stop(gw);
    let seen = witness.cosigned_size();
    assert_eq!(seen, log_size(&data));
    let (code, report) = verify_witnessed(&data, &witness);
    assert_eq!(code, 0, "{report}");

    // Whoever holds signing.key writes another history of the same origin, longer than what the
    // witness saw, and signs it: a log consistent in itself.
    let forged = root.path().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::copy(data.join("signing.key"), forged.join("signing.key")).unwrap();
    new_log(&forged, seen + 10).await;
    assert_eq!(verify_dir(&forged, &["--public-key", data.join("signing.pub").to_str().unwrap()]).0, 0);
    std::fs::remove_dir_all(&data).unwrap();
    copy_dir(&forged, &data);

    // Pushed to the witness, its checkpoint fails the consistency proof from the size cosigned.
    let gw = gateway(&root, &witness.url, &wkey);
    let body = health_until(&gw, |_, b| b["witnesses"]["witnesses"][0]["state"] == "refused").await;
    assert!(body["witnesses"]["witnesses"][0]["detail"].as_str().unwrap().contains("422"), "{body}");
    assert_eq!(call(&gw).await, 200, "a refusal that is not a rollback stops no call");
    stop(gw);
    let refused = entries_of_kind(&data, "witness_refused");
    assert!(refused.iter().any(|r| r["status"] == 422 && r["rolled_back"] == false), "{refused:?}");
    assert_eq!(witness.cosigned_size(), seen);
    let (code, report) = verify_witnessed(&data, &witness);
    assert_eq!(code, 3, "the rewritten log is intact and signed, but not witnessed: {report}");
    assert!(report["not_attested"].to_string().contains("witness quorum"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_that_is_down_delays_the_cosignature_never_a_request() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    new_log(&data, 0).await;
    let signer = auditgate::audit::cosign::WitnessSigner::generate("down.test/w").unwrap();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gw = gateway(&root, &format!("http://127.0.0.1:{port}"), &signer.vkey());
    let started = Instant::now();
    assert_eq!(call(&gw).await, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    let body = health_until(&gw, |_, b| b["witnesses"]["witnesses"][0]["state"] == "unreachable").await;
    assert_eq!(body["status"], "ok", "an unreachable witness is no audit failure: {body}");
    let mut gw = gw;
    let pid = gw.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = wait_timeout(&mut gw.child, Duration::from_secs(20)).expect("stops without its witness");
    assert!(status.success());
    assert!(entries_of_kind(&data, "witness_refused").is_empty(), "being down is not a refusal");
}
