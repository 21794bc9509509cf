//! Classification, redaction and pseudonymization through the gateway: what policy asks to hide
//! never reaches the upstream, and the client gets its own values back, in plain and streamed
//! answers, even when a placeholder is split across chunks.

use crate::common;

use common::*;
use serde_json::{json, Value};

/// Pseudonymize personal data, let the rest through (shared with `gateway_dialects`).
pub(crate) const PSEUDONYMIZE: &str = r#"
[policy]
name = "pseudonymize personal data"

[[rule]]
id = "pseudonymize-personal"
match = { min_level = "personal" }
action = "redact"
redact = { operator = "pseudonymize" }

[[rule]]
id = "plain"
match = { level = "none" }
action = "allow"
"#;

pub(crate) const IBAN: &str = "CH93 0076 2011 6238 5295 7";

async fn pseudonymizing_gateway(behavior: Behavior) -> (Gateway, FakeUpstream) {
    let fake = FakeUpstream::start(behavior).await;
    let gw = GatewayBuilder::default()
        .policy(PSEUDONYMIZE)
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    (gw, fake)
}

#[tokio::test]
async fn upstream_sees_placeholders_and_client_gets_originals() {
    let (gw, fake) = pseudonymizing_gateway(Behavior::Echo).await;
    let text = format!("Bitte überweisen Sie auf {IBAN}, danke.");
    let (status, _, body) = gw.chat(user(&text)).await;
    assert_eq!(status, 200, "{body}");
    let sent = fake.bodies()[0].to_string();
    assert!(!sent.contains(IBAN), "the IBAN left the gateway: {sent}");
    assert!(sent.contains("<IBAN_CODE_1>"), "{sent}");
    assert_eq!(body["choices"][0]["message"]["content"], format!("echo: {text}"));
}

#[tokio::test]
async fn placeholders_split_across_stream_chunks_are_restored() {
    let pieces = vec!["Your IBAN ".into(), "<IBAN_".into(), "CODE".into(), "_1> is noted".into()];
    let (gw, fake) = pseudonymizing_gateway(Behavior::Pieces(pieces)).await;
    let mut req = user(&format!("My IBAN is {IBAN}"));
    req["stream"] = json!(true);
    let text = gw.post("/v1/chat/completions", &req).send().await.unwrap().text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
    let content: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(content, format!("Your IBAN {IBAN} is noted"));
    assert!(!fake.bodies()[0].to_string().contains(IBAN));
}

#[tokio::test]
async fn tool_call_arguments_are_scanned_and_redacted() {
    let (gw, fake) = pseudonymizing_gateway(Behavior::Echo).await;
    let req = json!({"model": "test/model", "messages": [
        {"role": "user", "content": "pay the invoice"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "pay", "arguments": format!("{{\"iban\": \"{IBAN}\"}}")}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "paid"}]});
    let (status, _, body) = gw.chat(req).await;
    assert_eq!(status, 200, "{body}");
    let sent = &fake.bodies()[0];
    let args = sent["messages"][1]["tool_calls"][0]["function"]["arguments"].as_str().unwrap();
    let args: Value = serde_json::from_str(args).expect("arguments stay valid JSON");
    assert_eq!(args["iban"], "<IBAN_CODE_1>");
}

#[tokio::test]
async fn classification_is_recorded_without_raw_values() {
    let (mut gw, _fake) = pseudonymizing_gateway(Behavior::Echo).await;
    let (_, headers, _) = gw.chat(user(&format!("IBAN {IBAN}"))).await;
    let seq: i64 = headers["x-auditgate-entry"].to_str().unwrap().parse().unwrap();
    gw.stop();
    let conn = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    let bytes: Vec<u8> = conn.query_row("SELECT bytes FROM entries WHERE seq = ?1", [seq], |r| r.get(0)).unwrap();
    let entry: Value = serde_json::from_slice(&bytes).unwrap();
    let pii = &entry["payload"]["pii"];
    assert_eq!(pii["entities"]["IBAN_CODE"], 1, "{entry}");
    assert_eq!(pii["paths"], json!(["messages[0].content"]));
    assert_eq!(entry["payload"]["decision"], "redact");
    assert_eq!(entry["payload"]["policy_rule"], "pseudonymize-personal");
    let raw = String::from_utf8_lossy(&std::fs::read(gw.data_dir().join("log.db")).unwrap()).to_string();
    assert!(!raw.contains("6238 5295"), "a raw value reached the audit log");
}
