//! No input may panic the server: arbitrary JSON (and arbitrary bytes) sent to every proxied route
//! gets an answer with an OpenAI-style error shape or a success, never a 500 or a dropped connection.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use proptest::prelude::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::OnceLock;
use tower::ServiceExt;

use auditgate::accounting::{AccountStore, NewKey, SqliteAccountStore};
use auditgate::api::{router, AppState};
use auditgate::config::Config;
use auditgate::server::build_state;

struct World {
    runtime: tokio::runtime::Runtime,
    state: AppState,
    key: String,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().join("data"),
            policy_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/policies").into(),
            ..Config::default()
        };
        let accounts = SqliteAccountStore::open(&config.data_dir).unwrap();
        let (_, key) =
            accounts.create_key(&NewKey { name: "fuzz".into(), team: "qa".into(), ..Default::default() }).unwrap();
        let state = runtime.block_on(build_state(config)).expect("state");
        World { runtime, state, key, _dir: dir }
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z/ ]{0,12}".prop_map(Value::String),
        prop_oneof![Just("demo/echo"), Just("user"), Just("assistant"), Just("tool"), Just("text"), Just("image_url")]
            .prop_map(|s| Value::String(s.into())),
        // The Responses API's item and part tags.
        prop_oneof![
            Just("message"),
            Just("function_call"),
            Just("function_call_output"),
            Just("input_text"),
            Just("function")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("model"),
            Just("messages"),
            Just("role"),
            Just("content"),
            Just("stream"),
            Just("tools"),
            Just("tool_calls"),
            Just("function"),
            Just("arguments"),
            Just("input"),
            Just("models"),
            Just("provider"),
            Just("type"),
            Just("text"),
            Just("max_tokens"),
            Just("system"),
            Just("order"),
            Just("prompt"),
            Just("instructions"),
            Just("call_id"),
            Just("output"),
            Just("name"),
            Just("tool_choice"),
            Just("format"),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(keys.prop_map(str::to_string), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

async fn send(w: &World, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let mut req = Request::post(path)
        .header("authorization", format!("Bearer {}", w.key))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
    let resp = router(w.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("the body completes");
    (status, bytes.to_vec())
}

fn check(status: u16, body: &[u8], path: &str) -> Result<(), TestCaseError> {
    prop_assert!(status != 500, "500 from {}: {}", path, String::from_utf8_lossy(body));
    if status >= 400 {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("error body not JSON: {e}")))?;
        let message = v.pointer("/error/message").and_then(Value::as_str);
        prop_assert!(message.is_some_and(|m| !m.is_empty()), "error without message: {}", v);
    }
    Ok(())
}

const PATHS: &[&str] = &["/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/completions", "/v1/responses"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_breaks_the_gateway(body in json_value(), route in 0..PATHS.len()) {
        let w = world();
        let (status, bytes) = w.runtime.block_on(send(w, PATHS[route], body.to_string().into_bytes()));
        check(status, &bytes, PATHS[route])?;
    }

    #[test]
    fn arbitrary_bytes_never_break_the_gateway(body in proptest::collection::vec(any::<u8>(), 0..200), route in 0..PATHS.len()) {
        let w = world();
        let (status, bytes) = w.runtime.block_on(send(w, PATHS[route], body));
        check(status, &bytes, PATHS[route])?;
    }
}
