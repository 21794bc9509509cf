//! The audit log in PostgreSQL (`[state] backend = "postgres"`), through real gateway processes
//! on a throwaway cluster (`pg_support`): every exchange recorded in the node's rows, its chain
//! verified by `verify-log --postgres`, the append-only triggers and the insert-only role, and a
//! node that loses the database answering 503 with nothing forwarded.

use crate::common::*;
use crate::pg_support::PgCluster;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The `[state]` and `[audit]` tables of one node.
fn node_config(url: &str, node: &str) -> String {
    format!("[state]\nbackend = \"postgres\"\nurl = {url:?}\nnode = {node:?}\n\n[audit]\norigin = \"test.example/{node}\"\n")
}

/// `verify-log --postgres URL` with extra arguments: exit code and JSON report.
pub(crate) fn verify_pg(url: &str, args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_verify-log"))
        .args(["--json", "--postgres", url])
        .args(args)
        .output()
        .expect("run verify-log");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report)
}

fn pub_key(data_dir: &Path) -> String {
    data_dir.join("signing.pub").display().to_string()
}

#[tokio::test]
pub(crate) async fn a_gateway_on_postgres_records_each_exchange_in_its_nodes_rows_and_they_verify() {
    let pg = PgCluster::start();
    let url = pg.create_db("gw");
    let mut gw = GatewayBuilder::default().demo().extra(&node_config(&url, "node-a")).start();
    let (status, headers, body) =
        gw.chat(json!({"model": "demo/echo", "messages": [{"role": "user", "content": "Grüezi"}]})).await;
    assert_eq!(status, 200, "{body}");
    let request_seq = headers["x-auditgate-entry"].to_str().unwrap().to_string();
    gw.stop();
    let data = gw.data_dir();
    assert!(!data.join("log.db").exists(), "the log went to a local file instead of PostgreSQL");
    let marker = std::fs::read_to_string(data.join("postgres-node")).unwrap();
    assert_eq!(marker, format!("node-a\n{url}\n"), "the data directory names its node and database");

    let kinds = pg.sql("gw", "SELECT kind FROM audit_entries WHERE node = 'node-a' ORDER BY seq");
    assert_eq!(kinds.first().map(String::as_str), Some("genesis"));
    assert_eq!(kinds.last().map(String::as_str), Some("gateway_stop"));
    let request = pg.sql("gw", &format!("SELECT kind, convert_from(bytes, 'UTF8')::json->'payload'->>'generation_id' FROM audit_entries WHERE node = 'node-a' AND seq = {request_seq}"));
    assert_eq!(request, [format!("request|{}", body["id"].as_str().unwrap())]);
    assert_eq!(pg.sql("gw", "SHOW synchronous_commit"), ["on"]);

    // The auditor pins the node's key; the final checkpoint covers every entry.
    let (code, report) = verify_pg(&url, &["--node", "node-a", "--public-key", &pub_key(&data)]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["entries"].as_u64(), Some(kinds.len() as u64));
    assert_eq!(report["unsigned_tail"], 0, "{report}");
    assert_eq!(report["origin"], "test.example/node-a");
    // Unpinned, the same chain is intact but not attested.
    let (code, report) = verify_pg(&url, &["--node", "node-a"]);
    assert_eq!((code, report["intact"].as_bool()), (3, Some(true)), "{report}");

    // The offline commands follow the node's data directory to its rows: a receipt's proof (its
    // access entry recorded first, and signed).
    let out = Command::new(bin())
        .args(["audit", "prove", "--entry", &request_seq, "--reason", "client receipt", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let proof: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(proof["entry"].to_string(), request_seq);
    let access = pg.sql("gw", "SELECT count(*) FROM audit_entries WHERE node = 'node-a' AND kind = 'access'");
    assert_eq!(access, ["1"]);
    let (code, report) = verify_pg(&url, &["--node", "node-a", "--public-key", &pub_key(&data)]);
    assert_eq!((code, report["unsigned_tail"].as_u64()), (0, Some(0)), "{report}");
    let snapshot = Command::new(bin())
        .args(["audit", "snapshot", "--out"])
        .arg(data.join("snap"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&snapshot.stderr).contains("pg_dump"),
        "a snapshot of a PostgreSQL node must point to pg_dump"
    );

    // The node's directory is not silently reused for a log.db (a config without [state]).
    let sqlite_config = gw.dir.path().join("sqlite.toml");
    let policies = gw.dir.path().join("policies").display().to_string();
    std::fs::write(&sqlite_config, format!("data_dir = {:?}\npolicy_dir = {policies:?}\n", data.display().to_string()))
        .unwrap();
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&sqlite_config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(30)).expect("serve on a node's directory kept running");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success() && stderr.contains("configured in log.db"), "{stderr}");
    assert!(!data.join("log.db").exists());

    // The triggers refuse every change, the superuser's too.
    for sql in [
        "UPDATE audit_entries SET bytes = 'x' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "TRUNCATE audit_tree_hashes",
        "DELETE FROM audit_checkpoints",
    ] {
        let refused = pg.sql_as("postgres", "gw", sql).expect_err(sql);
        assert!(refused.contains("append-only"), "{sql}: {refused}");
    }
    // An owner who drops the guard to change an entry (one byte more) is caught by the verifier.
    pg.sql(
        "gw",
        &format!(
            "ALTER TABLE audit_entries DISABLE TRIGGER USER; \
             UPDATE audit_entries SET bytes = bytes || '\\x20'::bytea WHERE node = 'node-a' AND seq = {request_seq}"
        ),
    );
    let (code, report) = verify_pg(&url, &["--node", "node-a", "--public-key", &pub_key(&data)]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["seq"].to_string(), request_seq, "{report}");
}

#[tokio::test]
async fn a_node_that_loses_its_database_answers_503_forwards_nothing_and_resumes_after() {
    let mut pg = PgCluster::start();
    let url = pg.create_db("gw");
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .extra(&node_config(&url, "node-a"))
        .start();
    assert_eq!(gw.chat(user("before")).await.0, 200);
    assert_eq!(fake.hits(), 1);
    pg.stop();
    for stream in [false, true] {
        let mut req = user("must not leave");
        req["stream"] = json!(stream);
        let (status, _, body) = gw.chat(req).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "audit_unavailable", "{body}");
    }
    let (status, health) = gw.get("/health", Some("")).await;
    assert_ne!(status, 200, "{health}");
    assert_eq!(fake.hits(), 1, "nothing may be forwarded while the log cannot be written");
    pg.restart();
    // The writer connects again, re-verifies what the database holds, and appends after it.
    let (status, _, body) = gw.chat(user("after")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.hits(), 2);
    let mut gw = gw;
    gw.stop();
    let (code, report) = verify_pg(&url, &["--node", "node-a", "--public-key", &pub_key(&gw.data_dir())]);
    assert_eq!(code, 0, "{report}");
}

/// The grants docs/deployment.md gives the nodes' role: read and append, erase a body, nothing else.
const NODE_ROLE: &str = "CREATE ROLE auditgate_node LOGIN; \
    GRANT SELECT, INSERT ON audit_entries, audit_tree_hashes, audit_checkpoints, \
        audit_cosignatures, audit_timestamps, audit_bodies TO auditgate_node; \
    GRANT UPDATE (body, wrapped_key, erased_at) ON audit_bodies TO auditgate_node;";

fn fingerprint(data_dir: &Path) -> String {
    let out = Command::new(bin()).args(["audit", "fingerprint", "--data-dir"]).arg(data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().next().unwrap().to_string()
}

/// Request entries of `node`: seq -> generation id.
fn request_entries(pg: &PgCluster, node: &str) -> std::collections::HashMap<u64, String> {
    pg.sql(
        "fleet",
        &format!(
            "SELECT seq, convert_from(bytes, 'UTF8')::json->'payload'->>'generation_id' FROM audit_entries \
             WHERE node = '{node}' AND kind = 'request'"
        ),
    )
    .into_iter()
    .map(|row| {
        let (seq, id) = row.split_once('|').unwrap();
        (seq.parse().unwrap(), id.to_string())
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_database_keep_their_own_chains_under_load_and_a_killed_one_loses_no_receipt() {
    let pg = PgCluster::start();
    pg.create_db("fleet");
    // The owner (here the superuser) creates the schema; the nodes connect as the insert-only role.
    let schema = std::fs::read_to_string(crate::policy_support::repo_path("src/audit/pg_schema.sql")).unwrap();
    pg.sql("fleet", &schema);
    pg.sql("fleet", NODE_ROLE);
    let url = pg.url_as("auditgate_node", "fleet");
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let builder = |node: &str| {
        GatewayBuilder::default()
            .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
            .extra(&node_config(&url, node))
    };
    let mut nodes: Vec<Gateway> = ["node-1", "node-2", "node-3"].iter().map(|n| builder(n).start()).collect();

    // A second process for a node that runs is refused: one writer per chain.
    let twin = tempfile::tempdir().unwrap();
    let config = builder("node-1").write_config(twin.path());
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_timeout(&mut child, Duration::from_secs(30)).expect("a twin of node-1 kept running");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success() && stderr.contains("in use by another writer"), "{stderr}");

    let deadline = Instant::now() + Duration::from_millis(2000);
    let mut loads = Vec::new();
    for gw in &nodes {
        loads.push(load(gw, 3, deadline));
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    nodes[2].child.kill().unwrap(); // SIGKILL, mid-load
    nodes[2].child.wait().unwrap();
    let mut receipts = Vec::new();
    for workers in loads {
        let mut got = Vec::new();
        for w in workers {
            got.extend(w.await.unwrap());
        }
        receipts.push(got);
    }
    for (i, got) in receipts.iter().enumerate() {
        assert!(got.len() > 10, "too little load on node-{}: {}", i + 1, got.len());
        let stored = request_entries(&pg, &format!("node-{}", i + 1));
        for (entry, id) in got {
            assert_eq!(stored.get(entry), Some(id), "node-{}: entry {entry} a client received is missing", i + 1);
        }
    }

    // The insert-only role can neither change rows nor remove the guard.
    for sql in [
        "DELETE FROM audit_entries",
        "UPDATE audit_checkpoints SET note = ''",
        "DROP TRIGGER audit_entries_append_only ON audit_entries",
        "ALTER TABLE audit_entries DISABLE TRIGGER USER",
    ] {
        let refused = pg.sql_as("auditgate_node", "fleet", sql).expect_err(sql);
        assert!(refused.contains("permission denied") || refused.contains("must be owner"), "{sql}: {refused}");
    }

    // The killed node starts again on its chain (recording the crash); then every node stops cleanly.
    let mut dead = nodes.pop().unwrap();
    let dir = std::mem::replace(&mut dead.dir, tempfile::tempdir().unwrap());
    let key = dead.key.clone();
    drop(dead);
    let config = dir.path().join("gateway.toml");
    let again = Gateway::spawn(dir, &config, key);
    assert_eq!(again.chat(user("after the crash")).await.0, 200);
    nodes.push(again);
    let mut keys = String::new();
    for (i, gw) in nodes.iter_mut().enumerate() {
        gw.stop();
        keys.push_str(&format!("node-{} {}\n", i + 1, fingerprint(&gw.data_dir())));
    }
    let kinds = pg.sql("fleet", "SELECT kind FROM audit_entries WHERE node = 'node-3' AND kind = 'recovered'");
    assert_eq!(kinds.len(), 1, "the restart of node-3 records its crash");
    let keys_file = pg_keys_file(&keys);
    let (code, report) = verify_pg(&url, &["--node-keys", keys_file.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{report}");
    let nodes_verified: Vec<&String> = report["nodes"].as_object().unwrap().keys().collect();
    assert_eq!(nodes_verified, ["node-1", "node-2", "node-3"]);
    // Each chain is its own: pinned to another node's key, a chain is not the log that key signs.
    let swapped = keys.replace("node-1 ", "node-x ").replace("node-2 ", "node-1 ").replace("node-x ", "node-2 ");
    let swapped_file = pg_keys_file(&swapped);
    let (code, report) = verify_pg(&url, &["--node-keys", swapped_file.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{report}");
    for node in ["node-1", "node-2"] {
        let reason = report["nodes"][node]["failure"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("never signed this log"), "{node}: {report}");
    }
    assert_eq!(report["nodes"]["node-3"]["ok"], true, "{report}");
}

fn pg_keys_file(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

/// `auditgate audit ARGS --data-dir DIR`: exit code, stdout, stderr.
fn audit_cli(data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).arg("audit").args(args).arg("--data-dir").arg(data_dir).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn a_nodes_sealed_bodies_are_erased_only_as_erasure_and_its_export_bundle_verifies() {
    let pg = PgCluster::start();
    let url = pg.create_db("gw");
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let config = node_config(&url, "node-b").replace("[audit]\n", "[audit]\nstore_bodies = \"redacted\"\n");
    let mut gw = GatewayBuilder::default()
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .extra(&config)
        .start();
    let (status, headers, _) = gw.chat(user("pay to CH93 0076 2011 6238 5295 7")).await;
    assert_eq!(status, 200);
    let seq = headers["x-auditgate-entry"].to_str().unwrap().to_string();
    gw.stop();
    let data = gw.data_dir();
    let stored = pg.sql("gw", "SELECT seq, role, mode FROM audit_bodies WHERE node = 'node-b' ORDER BY seq, role");
    assert_eq!(stored.len(), 2, "request and response bodies: {stored:?}");
    let (code, text, err) = audit_cli(&data, &["show-body", "--entry", &seq, "--role", "request"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("<IBAN_CODE>") && !text.contains("CH93"), "{text}");

    // Any change to a body row but its erasure is refused by the trigger.
    for sql in ["UPDATE audit_bodies SET size = 1", "UPDATE audit_bodies SET body = NULL", "DELETE FROM audit_bodies"] {
        assert!(pg.sql_as("postgres", "gw", sql).is_err(), "{sql} was allowed");
    }
    let erase = ["erase", "--entry", &seq, "--role", "request", "--reason", "art. 17 request", "--force"];
    let (code, _, err) = audit_cli(&data, &erase);
    assert_eq!(code, 0, "{err}");
    let erased = pg.sql("gw", &format!("SELECT body IS NULL, wrapped_key IS NULL, erased_at IS NOT NULL FROM audit_bodies WHERE node = 'node-b' AND seq = {seq} AND role = 'request'"));
    assert_eq!(erased, ["t|t|t"]);
    let (code, report) = verify_pg(&url, &["--node", "node-b", "--public-key", &pub_key(&data)]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["erased_bodies"].as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(report["bodies_checked"], 1, "the body kept is checked against its commitment: {report}");

    // An export bundle of the node's entries verifies offline.
    let size: u64 = pg.sql("gw", "SELECT count(*) FROM audit_entries WHERE node = 'node-b'")[0].parse().unwrap();
    let out = gw.dir.path().join("bundle");
    let last = (size - 1).to_string();
    let (code, _, err) = audit_cli(&data, &["export", "--from", "0", "--to", &last, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let verified = Command::new(env!("CARGO_BIN_EXE_verify-log"))
        .args(["--json", "--bundle"])
        .arg(&out)
        .arg("--public-key")
        .arg(data.join("signing.pub"))
        .output()
        .unwrap();
    assert_eq!(verified.status.code(), Some(0), "{}", String::from_utf8_lossy(&verified.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_pushes_its_checkpoints_to_a_witness_and_the_cosignatures_in_its_rows_verify() {
    let pg = PgCluster::start();
    let url = pg.create_db("gw");
    let config = node_config(&url, "node-w").replace("[audit]\n", "[audit]\ncheckpoint_interval_ms = 100\n");
    let mut gw = GatewayBuilder::default().demo().extra(&config).start();
    gw.stop();
    // The witness is told the node's origin and key, then the node starts again pushing to it.
    let witness_dir = tempfile::tempdir().unwrap();
    let witness = crate::audit_witness::Witness::start(witness_dir.path());
    let out = Command::new(bin())
        .args(["witness", "add-log", "--origin", "test.example/node-w", "--data-dir"])
        .arg(witness_dir.path())
        .arg("--public-key")
        .arg(gw.data_dir().join("signing.pub"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = std::mem::replace(&mut gw.dir, tempfile::tempdir().unwrap());
    let config = dir.path().join("gateway.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "witness_quorum = 1\n[[audit.witnesses]]\nurl = {:?}\npublic_key = {:?}\n",
        witness.url,
        witness.public_key()
    ));
    std::fs::write(&config, text).unwrap();
    let key = gw.key.clone();
    drop(gw);
    let mut gw = Gateway::spawn(dir, &config, key);
    let body = json!({"model": "demo/echo", "messages": [{"role": "user", "content": "Grüezi"}]});
    assert_eq!(gw.chat(body).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let cosigned = || pg.sql("gw", "SELECT count(*) FROM audit_cosignatures WHERE node = 'node-w'")[0] != "0";
    while !cosigned() {
        assert!(Instant::now() < deadline, "the witness cosigned nothing: {}", gw.stderr());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gw.stop();
    let witness_key = witness_dir.path().join("witness.pub").display().to_string();
    let pinned = ["--node", "node-w", "--public-key", &pub_key(&gw.data_dir())];
    let (code, report) =
        verify_pg(&url, &[&pinned[..], &["--witness-key", &witness_key, "--witness-quorum", "1"]].concat());
    assert_eq!(code, 0, "{report}");
    assert!(report["witnesses"].is_object(), "{report}");
}
