//! Every documented policy control has an effect through the gateway: a control that is accepted
//! and ignored is worse than a missing one.

use crate::common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;

/// The payload of every request entry, in order.
fn request_entries(data_dir: &Path) -> Vec<Value> {
    let conn = rusqlite::Connection::open(data_dir.join("log.db")).unwrap();
    let mut stmt = conn.prepare("SELECT bytes FROM entries WHERE kind = 'request' ORDER BY seq").unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).unwrap();
    rows.map(|b| serde_json::from_slice::<Value>(&b.unwrap()).unwrap()["payload"].clone()).collect()
}

fn ceiling_policy(max_cost_usd: &str) -> String {
    format!("[[rule]]\nid = \"capped\"\naction = \"allow\"\nmax_cost_usd = {max_cost_usd}\n")
}

/// `max_cost_usd = 0.0` with priced providers: even the least call costs more, so the call is
/// refused with 402 naming the rule, nothing reaches the upstream, and the entry records it.
#[tokio::test]
pub(crate) async fn a_cost_ceiling_no_call_fits_under_is_refused_before_anything_leaves() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default()
        .policy(&ceiling_policy("0.0"))
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let (status, headers, body) = gw.chat(user("a short question")).await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["code"], "max_cost_exceeded", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("capped"), "{body}");
    assert_eq!(body["error"]["metadata"]["rule"], "capped");
    assert!(headers.contains_key("x-auditgate-entry"), "the refusal is recorded");
    assert_eq!(fake.hits(), 0, "nothing was forwarded");
    gw.stop();
    let entries = request_entries(&gw.data_dir());
    let last = entries.last().expect("a request entry");
    assert_eq!(last["decision"], "deny");
    assert_eq!(last["policy_rule"], "capped");
    assert_eq!(last["cost_ceiling"]["max_cost_usd"], 0.0);
    assert!(last["cost_ceiling"]["minimum_cost_usd"].as_f64().unwrap() > 0.0, "{last}");
}

/// A ceiling a call fits under: the completion limit sent upstream is lowered so that no answer
/// can cost more (prompt at 1 USD and completion at 2 USD per million tokens), and the entry
/// records the cap; a request already asking for less keeps its own limit.
#[tokio::test]
async fn a_cost_ceiling_caps_the_completion_so_no_answer_costs_more() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default()
        .policy(&ceiling_policy("0.001"))
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let mut ask = user("what is the capital of Switzerland?");
    ask["max_tokens"] = json!(100_000);
    let (status, _, body) = gw.chat(ask.clone()).await;
    assert_eq!(status, 200, "{body}");
    let sent = fake.bodies().last().cloned().unwrap();
    let cap = sent["max_tokens"].as_u64().expect("a completion limit upstream");
    assert!(cap > 0 && cap < 500, "{sent}");
    let body_len = serde_json::to_vec(&ask).unwrap().len() as f64;
    let worst = ((body_len / 4.0).ceil() * 1.0 + cap as f64 * 2.0) / 1e6;
    assert!(worst <= 0.001, "the capped call can cost {worst}");
    ask["max_tokens"] = json!(10);
    let (status, _, _) = gw.chat(ask).await;
    assert_eq!(status, 200);
    assert_eq!(fake.bodies().last().unwrap()["max_tokens"], 10);
    gw.stop();
    let entries = request_entries(&gw.data_dir());
    let n = entries.len();
    assert_eq!(entries[n - 2]["cost_ceiling"]["max_tokens"], cap);
    assert_eq!(entries[n - 2]["decision"], "allow");
    assert_eq!(entries[n - 1]["cost_ceiling"]["max_tokens"], Value::Null);
}

/// `provider.require_parameters` with structured outputs and reasoning: an OpenAI-compatible
/// upstream takes both, so it serves the call (before, the built-in list lacked them and every such
/// call was 503); `/v1/models` shows each kind's derived `supported_parameters`.
#[tokio::test]
pub(crate) async fn require_parameters_keeps_providers_that_take_structured_outputs_and_reasoning() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let claude = FakeUpstream::start(Behavior::Echo).await;
    let mut claude_spec = ProviderSpec::new("fake-claude", &claude.base_url, "eu", "DE").anthropic();
    claude_spec.models = vec![("test/claude".into(), "claude-x".into())];
    let mut gw = GatewayBuilder::default()
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .provider(claude_spec)
        .start();
    let mut ask = user("name a Swiss city");
    ask["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "c", "schema": {"type": "object"}}});
    ask["reasoning"] = json!({"effort": "low"});
    ask["provider"] = json!({"require_parameters": true});
    let (status, _, body) = gw.chat(ask).await;
    assert_eq!(status, 200, "{body}");
    let models: Value = gw.get("/v1/models", None).await.1;
    let params = |id: &str| -> Vec<String> {
        let m = models["data"].as_array().unwrap().iter().find(|m| m["id"] == id).expect(id);
        m["supported_parameters"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
    };
    for p in ["structured_outputs", "reasoning", "response_format"] {
        assert!(params("test/model").contains(&p.to_string()), "openai kind lacks {p}");
        assert!(params("test/claude").contains(&p.to_string()), "anthropic kind lacks {p}");
    }
    assert!(params("test/claude").contains(&"top_k".to_string()));
    assert!(!params("test/claude").contains(&"logprobs".to_string()), "Anthropic has no logprobs");
    gw.stop();
}

/// OpenRouter's extras: `usage.include` puts usage on the stream; `transforms` and `plugins` are
/// refused with a 400 naming them, or, with `[request] unsupported = "ignore"`, dropped and named in
/// `x-auditgate-ignored` (never forwarded); `:free` keeps only providers that charge nothing.
#[tokio::test]
pub(crate) async fn openrouter_extras_are_honoured_refused_or_named_never_dropped_silently() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    let mut ask = user("hello");
    ask["transforms"] = json!(["middle-out"]);
    let (status, _, body) = gw.chat(ask).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["param"], "transforms");
    let mut ask = user("hello");
    ask["model"] = json!("test/model:free");
    let (status, _, body) = gw.chat(ask).await;
    assert_eq!(status, 503, "the only provider charges: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("charges"), "{body}");
    let mut ask = user("hello");
    ask["stream"] = json!(true);
    ask["usage"] = json!({"include": true});
    let response = gw.post("/v1/chat/completions", &ask).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let usage =
        sse_data(&text).into_iter().filter(|d| d != "[DONE]").filter_map(|d| serde_json::from_str::<Value>(&d).ok());
    assert!(usage.into_iter().any(|c| c["usage"]["cost"].is_number()), "no usage chunk: {text}");
    gw.stop();

    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default()
        .extra("[request]\nunsupported = \"ignore\"")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let mut ask = user("hello");
    ask["plugins"] = json!([{"id": "web"}]);
    let response = gw.post("/v1/chat/completions", &ask).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-auditgate-ignored"], "plugins");
    assert!(fake.bodies().last().unwrap().get("plugins").is_none(), "an ignored extra is never forwarded");
    gw.stop();
}

/// `policy explain` gives the gateway's view: a provider this environment does not enable (its
/// API key variable unset) is not listed as reachable, and `--key-name` takes that key's team.
#[test]
fn policy_explain_lists_only_enabled_providers_and_takes_the_keys_team() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(
        dir.path().join("policies/p.toml"),
        "[[rule]]\nid = \"team-finance\"\naction = \"allow\"\nmatch = { teams = [\"finance\"] }\n\n[[rule]]\nid = \"others\"\naction = \"deny\"\nreason = \"not finance\"\n",
    )
    .unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\npolicy_dir = {:?}\n\n[[providers]]\nname = \"demo-ch\"\nkind = \"demo\"\nregion = \"ch\"\ncountry = \"CH\"\nzdr = true\n[[providers.models]]\nid = \"demo/echo\"\nupstream = \"echo\"\n\n[[providers]]\nname = \"keyless\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"AUDITGATE_TEST_SURELY_UNSET_VARIABLE\"\nregion = \"eu\"\ncountry = \"FR\"\n[[providers.models]]\nid = \"demo/echo\"\nupstream = \"echo\"\n",
            data,
            dir.path().join("policies")
        ),
    )
    .unwrap();
    create_key(&data, "ledger-bot", "finance", None);
    let request = dir.path().join("req.json");
    std::fs::write(&request, r#"{"model": "demo/echo", "messages": [{"role": "user", "content": "hello"}]}"#).unwrap();
    let out = std::process::Command::new(bin())
        .args(["policy", "--config"])
        .arg(&config)
        .args(["explain", "--key-name", "ledger-bot", "--request"])
        .arg(&request)
        .arg("--policy")
        .arg(dir.path().join("policies"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("team \"finance\""), "the key's team is used: {text}");
    assert!(text.contains("team-finance (") && text.contains(": MATCH"), "the key's team decides: {text}");
    assert!(text.contains("demo-ch"), "{text}");
    assert!(!text.contains("keyless"), "a provider without its API key is not reachable: {text}");
}
