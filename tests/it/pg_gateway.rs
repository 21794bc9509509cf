//! The audit log in PostgreSQL (`[state] backend = "postgres"`), through real gateway processes
//! on a throwaway cluster (`pg_support`): every exchange recorded in the node's rows, its chain
//! verified by `verify-log --postgres`, the append-only triggers and the insert-only role, and a
//! node that loses the database answering 503 with nothing forwarded.

use crate::common::*;
use crate::pg_support::PgCluster;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

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
    assert!(gw.terminate().success());
    let data = gw.data_dir();
    assert!(!data.join("log.db").exists(), "the log went to a local file instead of PostgreSQL");
    assert_eq!(std::fs::read_to_string(data.join("postgres-node")).unwrap().trim(), "node-a");

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
    assert!(gw.terminate().success());
    let (code, report) = verify_pg(&url, &["--node", "node-a", "--public-key", &pub_key(&gw.data_dir())]);
    assert_eq!(code, 0, "{report}");
}
