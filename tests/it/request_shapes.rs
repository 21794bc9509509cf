//! Request shapes the schemas do not allow are refused with a 400 that names the member, and
//! `[request] unknown_fields` does what it says: `scan` forwards unknown top-level fields after
//! scanning them, `reject` refuses them.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

use auditgate::accounting::{AccountStore, NewKey, SqliteAccountStore};
use auditgate::api::router;
use auditgate::config::{Config, UnknownFields};
use auditgate::server::build_state;

/// Send one chat body to a fresh in-process gateway (built-in demo upstreams) and return the
/// status and JSON answer.
fn call(unknown_fields: UnknownFields, body: Value) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().join("data"),
        policy_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/policies").into(),
        ..Config::default()
    };
    config.request.unknown_fields = unknown_fields;
    let accounts = SqliteAccountStore::open(&config.data_dir).unwrap();
    let (_, key) = accounts.create_key(&NewKey { name: "shapes".into(), ..Default::default() }).unwrap();
    runtime.block_on(async {
        let state = build_state(config).await.expect("state");
        let mut req = Request::post("/v1/chat/completions")
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
        let resp = router(state).oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    })
}

fn chat(messages: Value) -> Value {
    json!({"model": "demo/echo", "messages": messages})
}

#[test]
fn shapes_the_schema_forbids_are_400_with_the_member_named() {
    let cases = [
        (chat(json!([{"role": "user", "content": 4111111111111111u64}])), "messages[0].content"),
        (chat(json!([{"role": "user", "content": {"text": "CH93 0076 2011 6238 5295 7"}}])), "messages[0].content"),
        (chat(json!([{"role": "customer", "content": "hi"}])), "messages[0].role"),
        (
            chat(json!([{"role": "user", "content": [{"type": "text", "text": ["CH93"]}]}])),
            "messages[0].content[0].text",
        ),
        (chat(json!([{"role": "user", "content": ["plain string part"]}])), "messages[0].content[0]"),
        (chat(json!(["not an object"])), "messages[0]"),
    ];
    for (body, member) in cases {
        let (status, answer) = call(UnknownFields::Scan, body.clone());
        assert_eq!(status, 400, "{body} -> {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(member), "{member} not named in {message:?}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
    }
}

#[test]
pub(crate) fn unknown_fields_are_scanned_by_default_and_refused_when_configured() {
    let body = || {
        let mut b = chat(json!([{"role": "user", "content": "Hallo"}]));
        b["x_note"] = json!("Konto CH93 0076 2011 6238 5295 7");
        b["provider"] = json!({"order": ["demo-us", "demo-ch"]});
        b
    };
    // Scanned: the IBAN in the unknown field keeps the call in Switzerland.
    let (status, answer) = call(UnknownFields::Scan, body());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["provider"], "demo-ch", "{answer}");
    // The control: the same request without the IBAN goes where the client ordered.
    let mut clean = body();
    clean["x_note"] = json!("Konto folgt");
    let (status, answer) = call(UnknownFields::Scan, clean);
    assert_eq!((status, answer["provider"].as_str()), (200, Some("demo-us")), "{answer}");
    // Refused, with the field named, and nothing forwarded.
    let (status, answer) = call(UnknownFields::Reject, body());
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "x_note", "{answer}");
    // Known fields still pass under `reject`.
    let mut known = chat(json!([{"role": "user", "content": "Hallo"}]));
    known["temperature"] = json!(0.2);
    known["metadata"] = json!({"ticket": "T-1"});
    assert_eq!(call(UnknownFields::Reject, known).0, 200);
}

#[test]
fn the_request_table_is_read_from_gateway_toml() {
    let config: Config = toml::from_str("[request]\nunknown_fields = \"reject\"\n").unwrap();
    assert_eq!(config.request.unknown_fields, UnknownFields::Reject);
    assert!(toml::from_str::<Config>("[request]\nunknown_fields = \"drop\"\n").is_err());
}
