//! OpenAI-format clients served by an Anthropic Messages API upstream: the gateway translates the
//! request, the answer, the event stream and errors.

use crate::common;

use common::*;
use serde_json::{json, Value};

async fn anthropic_gateway(behavior: Behavior) -> (Gateway, FakeUpstream) {
    let fake = FakeUpstream::start(behavior).await;
    let spec = ProviderSpec::new("claude-eu", &fake.base_url, "eu", "DE").anthropic();
    (GatewayBuilder::default().provider(spec).start(), fake)
}

#[tokio::test]
async fn chat_request_is_translated_both_ways() {
    let (gw, fake) = anthropic_gateway(Behavior::Echo).await;
    let req = json!({"model": "test/model", "max_tokens": 50, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hallo Welt"}]});
    let (status, headers, body) = gw.chat(req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: Hallo Welt");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 12);
    assert_eq!(body["usage"]["completion_tokens"], 6);
    assert_eq!(body["provider"], "claude-eu");
    assert!(headers.contains_key("x-auditgate-entry"));
    let sent = &fake.bodies()[0];
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["model"], "upstream-model");
    assert_eq!(sent["max_tokens"], 50);
    assert!(sent["messages"].as_array().unwrap().iter().all(|m| m["role"] != "system"));
    assert_eq!(fake.record.anthropic_versions.lock().unwrap()[0], "2023-06-01");
}

#[tokio::test]
async fn anthropic_event_stream_becomes_openai_chunks() {
    let (gw, _fake) = anthropic_gateway(Behavior::Echo).await;
    let req = json!({"model": "test/model", "stream": true, "stream_options": {"include_usage": true},
                     "messages": [{"role": "user", "content": "eins zwei"}]});
    let text = gw.post("/v1/chat/completions", &req).send().await.unwrap().text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().unwrap(), "[DONE]", "{text}");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "echo: eins zwei");
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    let usage = chunks.iter().find(|c| c["usage"].is_object()).expect("usage chunk");
    assert_eq!(usage["usage"]["completion_tokens"], 6);
    assert!(usage["usage"]["cost"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn anthropic_errors_are_normalized() {
    let (gw, _fake) = anthropic_gateway(Behavior::Status(529, "Overloaded".into())).await;
    let (status, _, body) = gw.chat(user("x")).await;
    assert_eq!(status, 502, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Overloaded"), "{body}");
}

#[tokio::test]
async fn messages_endpoint_reaches_an_openai_upstream() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default().provider(ProviderSpec::new("oa", &fake.base_url, "eu", "FR")).start();
    let resp = gw
        .client()
        .post(format!("{}/v1/messages", gw.url))
        .header("x-api-key", &gw.key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "test/model", "max_tokens": 20, "messages": [{"role": "user", "content": "salut"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "echo: salut");
    assert_eq!(fake.bodies()[0]["messages"][0]["content"], "salut");
}
