//! Keys over HTTP with a provisioning key, in OpenRouter's shapes; every change recorded in the
//! audit log and counting from the very next request (no cache delay).

use crate::common::*;
use serde_json::{json, Value};

fn admin_key(gw: &Gateway) -> String {
    create_key_with(&gw.data_dir(), "provisioner", "ops", &["--admin"])
}

async fn call(gw: &Gateway, method: reqwest::Method, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = gw.client().request(method, format!("{}{path}", gw.url)).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

async fn chat_as(gw: &Gateway, key: &str) -> u16 {
    call(gw, reqwest::Method::POST, "/v1/chat/completions", key, Some(user("hello"))).await.0
}

fn key_changes(gw: &Gateway) -> Vec<Value> {
    let conn = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    let mut stmt = conn.prepare("SELECT bytes FROM entries WHERE kind = 'key_changed' ORDER BY seq").unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap();
    rows.map(|b| serde_json::from_slice::<Value>(&b.unwrap()).unwrap()["payload"].clone()).collect()
}

#[tokio::test]
async fn a_provisioning_key_manages_keys_and_every_change_counts_at_once() {
    use reqwest::Method;
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default().provider(ProviderSpec::new("eu", &fake.base_url, "eu", "FR")).start();
    let admin = admin_key(&gw);
    // Each kind of key stays in its lane.
    assert_eq!(chat_as(&gw, &admin).await, 403, "a provisioning key calls no model");
    assert_eq!(call(&gw, Method::GET, "/api/v1/keys", &gw.key, None).await.0, 403);

    let (status, created) = call(
        &gw,
        Method::POST,
        "/api/v1/keys",
        &admin,
        Some(json!({"name": "batch", "team": "payroll", "limit": 5.0})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["key"].as_str().unwrap().to_string();
    let hash = created["data"]["hash"].as_str().unwrap().to_string();
    assert_eq!((created["data"]["name"].as_str(), created["data"]["limit"].as_f64()), (Some("batch"), Some(5.0)));
    assert_eq!(chat_as(&gw, &secret).await, 200);

    let (_, listed) = call(&gw, Method::GET, "/api/v1/keys", &admin, None).await;
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"batch") && names.contains(&"tester"), "{listed}");
    let (_, one) = call(&gw, Method::GET, &format!("/api/v1/keys/{hash}"), &admin, None).await;
    assert_eq!(one["data"]["team"], "payroll");
    assert!(one["data"]["usage"].as_f64().unwrap() >= 0.0);

    let path = format!("/api/v1/keys/{hash}");
    let patch = |body: Value| call(&gw, Method::PATCH, &path, &admin, Some(body));
    assert_eq!(patch(json!({"limit": 0.0})).await.0, 200);
    assert_eq!(chat_as(&gw, &secret).await, 402, "the new limit counts from the next request");
    assert_eq!(patch(json!({"limit": null, "rpm": 1})).await.0, 200);
    assert_eq!(chat_as(&gw, &secret).await, 429, "one request per minute, and this minute had one");
    assert_eq!(patch(json!({"rpm": null})).await.0, 200);
    assert_eq!(chat_as(&gw, &secret).await, 200, "no rate limit, no limit");
    let (_, renamed) = patch(json!({"disabled": true, "name": "batch-old"})).await;
    assert_eq!(
        (renamed["data"]["name"].as_str(), renamed["data"]["disabled"].as_bool()),
        (Some("batch-old"), Some(true))
    );
    assert_eq!(chat_as(&gw, &secret).await, 401, "disabled at once");
    assert_eq!(patch(json!({"disabled": false})).await.0, 200);
    assert_eq!(chat_as(&gw, &secret).await, 200, "and on again");
    assert_eq!(patch(json!({"secret": "x"})).await.0, 400, "unknown fields are refused");
    assert_eq!(patch(json!({"name": "tester"})).await.0, 400, "names stay unique");

    let (status, gone) = call(&gw, Method::DELETE, &format!("/api/v1/keys/{hash}"), &admin, None).await;
    assert_eq!((status, gone), (200, json!({"deleted": true})));
    assert_eq!(chat_as(&gw, &secret).await, 401, "revoked at once");
    assert_eq!(call(&gw, Method::GET, &format!("/api/v1/keys/{hash}"), &admin, None).await.0, 404);

    // (A revocation by `auditgate keys revoke` in another process: gateway_api::revoked_key_stops_working.)
    let changes = key_changes(&gw);
    let actions: Vec<&str> = changes.iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["create", "update", "update", "update", "update", "update", "update", "update failed", "revoke"],
        "{changes:?}"
    );
    assert!(changes.iter().all(|c| c["by"].as_str().unwrap().contains("provisioner")));
    assert!(changes[0]["changes"].as_array().unwrap().iter().any(|c| c == "limit=5.0"), "{:?}", changes[0]);
    assert!(!serde_json::to_string(&changes).unwrap().contains(&secret), "no secret in the log");
    gw.stop();
    let print =
        std::process::Command::new(bin()).args(["audit", "fingerprint", "--data-dir"]).arg(gw.data_dir()).output();
    let fingerprint = String::from_utf8(print.unwrap().stdout).unwrap().lines().next().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_verify-log"))
        .arg("--data-dir")
        .arg(gw.data_dir())
        .args(["--key-fingerprint", &fingerprint])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}
