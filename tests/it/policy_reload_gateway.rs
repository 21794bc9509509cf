//! Hot reload in a running gateway: a valid change decides the next request and is recorded with
//! its file hashes; a broken file never opens the gate, keeps the old policy and is recorded as
//! rejected.

use crate::common;

use common::*;
use std::time::Duration;

const DENY_ALL: &str = r#"
[policy]
name = "closed"

[[rule]]
id = "closed-for-audit"
action = "deny"
reason = "the gateway is closed for the yearly audit"
"#;

fn policy_file(gw: &Gateway) -> std::path::PathBuf {
    gw.dir.path().join("policies").join("test.toml")
}

/// Send requests until the status is `want` (reload is polled every 200 ms in tests).
async fn wait_for_status(gw: &Gateway, want: u16) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        let (status, _, body) = gw.chat(user("hello")).await;
        if status == want {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("status {want} never came; last answer {last}");
}

fn system_events(gw: &Gateway) -> Vec<serde_json::Value> {
    let conn = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    let mut stmt = conn.prepare("SELECT bytes FROM entries WHERE kind LIKE 'policy%' ORDER BY seq").unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap();
    rows.map(|b| serde_json::from_slice::<serde_json::Value>(&b.unwrap()).unwrap()).collect()
}

#[tokio::test]
async fn valid_change_takes_effect_and_is_recorded() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    assert_eq!(gw.chat(user("hello")).await.0, 200);
    std::fs::write(policy_file(&gw), DENY_ALL).unwrap();
    let body = wait_for_status(&gw, 403).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("closed-for-audit"), "{body}");
    let before = fake.hits();
    assert_eq!(gw.chat(user("hello")).await.0, 403);
    assert_eq!(fake.hits(), before, "a denied request is not forwarded");
    let events = system_events(&gw);
    let loaded: Vec<_> = events.iter().filter(|e| e["kind"] == "policy_loaded").collect();
    assert!(loaded.len() >= 2, "start and reload are both recorded: {events:?}");
    let files = &loaded.last().unwrap()["payload"]["files"];
    assert_eq!(files.as_object().unwrap().len(), 1, "{files}");
}

#[tokio::test]
async fn broken_file_keeps_the_old_policy_and_is_recorded_as_rejected() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .policy(DENY_ALL)
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    assert_eq!(gw.chat(user("hello")).await.0, 403);
    // An "allow everything" edit with a typo must not open the gate.
    std::fs::write(policy_file(&gw), "[[rule]]\nid = \"open\"\naction = \"alow\"\n").unwrap();
    let mut rejected = false;
    for _ in 0..100 {
        if system_events(&gw).iter().any(|e| e["kind"] == "policy_rejected") {
            rejected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rejected, "the rejected file is recorded in the audit log");
    assert_eq!(gw.chat(user("hello")).await.0, 403, "the old policy stays in force");
    assert_eq!(fake.hits(), 0);
}

#[test]
fn invalid_policy_at_start_refuses_to_serve() {
    let dir = tempfile::tempdir().unwrap();
    let builder = GatewayBuilder::default().policy("[[rule]]\nid = \"x\"\naction = \"alow\"\n");
    let config = builder.write_config(dir.path());
    let out = std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("test.toml:3:"), "errors name file, line and column: {stderr}");
}
