//! `auditgate policy explain` gives the gateway's answer: on generated requests (personal data or
//! none, models and fallback lists, `provider` preferences, completion limits, images, two keys
//! of two teams) the routing explain prints is what `serve` does with the same request.

use crate::common::*;
use proptest::prelude::*;
use serde_json::{json, Value};

/// The shipped default policy with a rule for one team, so the key's team matters.
const POLICY_TEAM_RULE: &str = r#"
[[rule]]
id = "legal-ch-only"
match = { teams = ["legal"] }
action = "allow"
route = { regions = ["ch"] }
"#;

fn text() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "What is the VAT rate in Switzerland?",
        "Pay CH93 0076 2011 6238 5295 7 today",
        "AHV 756.1234.5678.97 of Anna Keller",
        "Hans Muster has diabetes",
    ])
}

fn provider_prefs() -> impl Strategy<Value = Option<Value>> {
    prop::sample::select(vec![
        None,
        Some(json!({"sort": "price"})),
        Some(json!({"only": ["demo-us"]})),
        Some(json!({"ignore": ["demo-ch"]})),
        Some(json!({"zdr": true})),
        Some(json!({"order": ["demo-us"], "allow_fallbacks": false})),
        Some(json!({"data_collection": "deny"})),
        Some(json!({"require_parameters": true})),
        Some(json!({"max_price": {"prompt": 0.01}})),
    ])
}

prop_compose! {
    fn request()(
        content in text(),
        model in prop::sample::select(vec!["demo/echo", "demo/echo:floor", "other/unknown"]),
        fallback in any::<bool>(),
        prefs in provider_prefs(),
        max_tokens in prop::sample::select(vec![None, Some(100u64), Some(10_000)]),
        image in any::<bool>(),
        tools in any::<bool>(),
    ) -> Value {
        let content = if image {
            json!([{"type": "text", "text": content},
                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}])
        } else {
            json!(content)
        };
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": content}]});
        if fallback {
            body["models"] = json!([model, "demo/echo"]);
        }
        if let Some(p) = prefs {
            body["provider"] = p;
        }
        if let Some(n) = max_tokens {
            body["max_tokens"] = json!(n);
        }
        if tools {
            body["tools"] = json!([{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]);
        }
        body
    }
}

/// `policy explain --json` for `body` as key `key_name` under the gateway's own configuration.
fn explain(gw: &Gateway, body: &Value, key_name: &str) -> Value {
    let file = gw.dir.path().join(format!("explain-{key_name}.json"));
    std::fs::write(&file, serde_json::to_vec(body).unwrap()).unwrap();
    let out = std::process::Command::new(bin())
        .args(["policy", "explain", "--json", "--key-name", key_name, "--request"])
        .arg(&file)
        .arg("--config")
        .arg(gw.dir.path().join("gateway.toml"))
        .arg("--policy")
        .arg(gw.dir.path().join("policies"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["routing"].clone()
}

#[test]
fn explain_and_serve_agree_on_generated_requests() {
    let policy = std::fs::read_to_string(crate::policy_support::repo_path("policies/default.toml")).unwrap();
    let gw = GatewayBuilder::default().demo().policy(&format!("{POLICY_TEAM_RULE}\n{policy}")).start();
    let data = gw.data_dir();
    let keys = [("tester", gw.key.clone()), ("lawyer", create_key(&data, "lawyer", "legal", None))];
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = gw.client();
    let config = ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(body in request(), lawyer in any::<bool>())| {
        let (key_name, secret) = &keys[usize::from(lawyer)];
        let planned = explain(&gw, &body, key_name);
        let (status, answer) = runtime.block_on(async {
            let resp = client.post(format!("{}/v1/chat/completions", gw.url)).bearer_auth(secret).json(&body).send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
        });
        match planned["refused"].as_object() {
            Some(refused) => {
                prop_assert_eq!(u64::from(status), refused["status"].as_u64().unwrap(), "{} {}", planned, answer);
                prop_assert_eq!(&answer["error"]["code"], &refused["code"], "{}", planned);
            }
            None => {
                prop_assert_eq!(status, 200, "explain: {}; serve: {}", planned, answer);
                let routes = planned["routes"].as_array().unwrap();
                let served = answer["provider"].as_str().unwrap();
                let first = &routes[0]["providers"];
                prop_assert!(first.as_array().unwrap().iter().any(|p| p == served), "{} served, explain: {}", served, planned);
                if body.pointer("/provider/sort").is_some() || first.as_array().unwrap().len() == 1 {
                    prop_assert_eq!(&first[0], served, "the order is fixed: {}", planned);
                }
            }
        }
    });
}
