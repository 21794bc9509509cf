//! `POST /v1/completions` and `POST /v1/responses` through a real gateway and fake upstreams: what
//! the upstream receives is the chat request the client's request means, the client gets its own
//! API's shapes (whole and streamed) with usage, cost and the audit headers, pseudonyms are
//! restored, the region policy holds, and nothing is forwarded when the log cannot be written.

use crate::common;

use common::*;
use serde_json::{json, Value};

use crate::pii_gateway::{IBAN, PSEUDONYMIZE};

const PERSONAL_STAYS_IN_EU: &str = r#"
[policy]
name = "personal data stays in the EU"

[[rule]]
id = "personal-eu"
match = { min_level = "personal" }
action = "allow"
route = { regions = ["eu"] }

[[rule]]
id = "plain"
match = { level = "none" }
action = "allow"
"#;

async fn one_upstream(policy: &str) -> (Gateway, FakeUpstream) {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .policy(policy)
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    (gw, fake)
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = gw.post(path, body).send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap_or_default())
}

/// The named events of a Responses stream: (event name, data).
fn named_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|ev| !ev.trim().is_empty())
        .map(|ev| {
            let name = ev.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_string();
            let data = ev.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
            (name, serde_json::from_str(data).unwrap_or(Value::Null))
        })
        .collect()
}

fn entry(headers: &reqwest::header::HeaderMap, name: &str) -> u64 {
    headers[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_completion_goes_upstream_as_one_user_message_and_returns_as_text_completion() {
    let (gw, fake) = one_upstream(ALLOW_ALL_POLICY).await;
    let req = json!({"model": "test/model", "prompt": ["Once upon a time"], "max_tokens": 7, "stop": ["\n"], "n": 1});
    let (status, headers, body) = post(&gw, "/v1/completions", &req).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["object"], "text_completion");
    assert_eq!(answer["choices"][0]["text"], "echo: Once upon a time");
    assert_eq!(answer["usage"]["total_tokens"], 15);
    assert!(answer["usage"]["cost"].as_f64().unwrap() > 0.0);
    assert_eq!(answer["provider"], "fake-eu");
    assert_eq!(headers["x-generation-id"].to_str().unwrap(), answer["id"].as_str().unwrap());
    assert!(entry(&headers, "x-auditgate-response-entry") > entry(&headers, "x-auditgate-entry"));
    let sent = &fake.bodies()[0];
    assert_eq!(sent["messages"], json!([{"role": "user", "content": "Once upon a time"}]));
    assert_eq!((sent["max_tokens"].clone(), sent["stop"].clone()), (json!(7), json!(["\n"])));
    assert!(sent.get("prompt").is_none(), "{sent}");
}

#[tokio::test]
async fn a_streamed_completion_is_text_completion_chunks_ending_with_usage_and_done() {
    let (gw, _fake) = one_upstream(ALLOW_ALL_POLICY).await;
    let req = json!({"model": "test/model", "prompt": "one two", "stream": true});
    let (status, headers, body) = post(&gw, "/v1/completions", &req).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.contains_key("x-auditgate-entry"));
    let events = sse_data(&body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{body}");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"), "{body}");
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["text"].as_str()).collect();
    assert_eq!(text, "echo: one two");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["total_tokens"], 15, "{body}");
    assert!(usage["cost"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_response_request_goes_upstream_as_the_chat_request_it_means() {
    let (gw, fake) = one_upstream(ALLOW_ALL_POLICY).await;
    let req = json!({
        "model": "test/model",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Bern?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Bern\"}", "id": "fc_1", "status": "completed"},
            {"type": "function_call_output", "call_id": "call_1", "output": "12 degrees"},
            {"role": "user", "content": "And tomorrow?"}
        ],
        "tools": [{"type": "function", "name": "weather", "description": "Weather", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "weather"},
        "max_output_tokens": 50,
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}},
        "temperature": 0.2,
        "metadata": {"ticket": "42"},
        "store": false
    });
    let (status, _, body) = post(&gw, "/v1/responses", &req).await;
    assert_eq!(status, 200, "{body}");
    let sent = &fake.bodies()[0];
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather in Bern?"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "weather", "arguments": "{\"city\":\"Bern\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "12 degrees"},
            {"role": "user", "content": "And tomorrow?"}
        ])
    );
    assert_eq!(
        sent["tools"][0],
        json!({"type": "function", "function": {"name": "weather", "description": "Weather", "parameters": {"type": "object"}}})
    );
    assert_eq!(sent["tool_choice"], json!({"type": "function", "function": {"name": "weather"}}));
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}})
    );
    assert_eq!(sent["temperature"], 0.2);
    for absent in ["input", "instructions", "max_output_tokens", "text", "store"] {
        assert!(sent.get(absent).is_none(), "{absent} went upstream: {sent}");
    }
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["status"], "completed");
    assert_eq!(
        answer["output"][0]["content"][0],
        json!({"type": "output_text", "text": "echo: And tomorrow?", "annotations": []})
    );
    assert_eq!(answer["instructions"], "Be brief.");
    assert_eq!(answer["tools"], req["tools"], "the Response repeats the request's own tools");
    assert_eq!(answer["metadata"], json!({"ticket": "42"}));
    assert_eq!(answer["usage"]["input_tokens"], 10);
    assert_eq!(answer["usage"]["output_tokens"], 5);
    assert!(answer["usage"]["cost"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_streamed_response_is_the_typed_event_sequence_numbered_in_order() {
    let (gw, _fake) = one_upstream(ALLOW_ALL_POLICY).await;
    let req = json!({"model": "test/model", "input": "eins zwei", "stream": true});
    let (status, headers, body) = post(&gw, "/v1/responses", &req).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers.contains_key("x-auditgate-entry") && headers.contains_key("x-generation-id"));
    let events = named_events(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"response.created"), "{body}");
    assert_eq!(names.last(), Some(&"response.completed"), "{body}");
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i as u64);
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    assert_eq!(text, "echo: eins zwei");
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["output"][0]["content"][0]["text"], "echo: eins zwei");
    assert_eq!(done["usage"]["total_tokens"], 15);
    assert_eq!(done["id"].as_str(), headers["x-generation-id"].to_str().ok());
}

#[tokio::test]
async fn pseudonyms_in_responses_and_completions_never_leave_and_are_restored_plain_and_streamed() {
    let (gw, fake) = one_upstream(PSEUDONYMIZE).await;
    let text = format!("Bitte überweisen auf {IBAN}");
    let calls = [
        ("/v1/responses", json!({"model": "test/model", "input": text})),
        ("/v1/responses", json!({"model": "test/model", "input": [{"role": "user", "content": text}], "stream": true})),
        ("/v1/completions", json!({"model": "test/model", "prompt": text})),
        ("/v1/completions", json!({"model": "test/model", "prompt": [text], "stream": true})),
    ];
    for (path, req) in calls {
        let (status, _, body) = post(&gw, path, &req).await;
        assert_eq!(status, 200, "{path}: {body}");
        let restored = match req["stream"].as_bool() {
            Some(true) if path == "/v1/responses" => named_events(&body)
                .iter()
                .filter(|(n, _)| n == "response.output_text.delta")
                .filter_map(|(_, d)| d["delta"].as_str().map(str::to_string))
                .collect::<String>(),
            Some(true) => sse_data(&body)
                .iter()
                .filter_map(|e| serde_json::from_str::<Value>(e).ok())
                .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_string))
                .collect(),
            _ => {
                let v: Value = serde_json::from_str(&body).unwrap();
                v["output"][0]["content"][0]["text"].as_str().or(v["choices"][0]["text"].as_str()).unwrap().to_string()
            }
        };
        assert_eq!(restored, format!("echo: {text}"), "{path}");
    }
    for sent in fake.bodies() {
        let sent = sent.to_string();
        assert!(!sent.contains(IBAN) && sent.contains("<IBAN_CODE_1>"), "the IBAN left the gateway: {sent}");
    }
}

#[tokio::test]
async fn an_iban_in_any_input_item_keeps_the_request_from_the_us_upstream() {
    let eu = FakeUpstream::start(Behavior::Echo).await;
    let us = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .policy(PERSONAL_STAYS_IN_EU)
        .provider(ProviderSpec::new("fake-us", &us.base_url, "us", "US"))
        .provider(ProviderSpec::new("fake-eu", &eu.base_url, "eu", "FR"))
        .start();
    let prefer_us = json!({"order": ["fake-us", "fake-eu"]});
    let plain = json!({"model": "test/model", "input": "nothing personal", "provider": prefer_us});
    assert_eq!(post(&gw, "/v1/responses", &plain).await.0, 200);
    assert_eq!(us.hits(), 1, "without personal data the preferred US upstream serves");
    let carriers = [
        json!([{"type": "function_call_output", "call_id": "c", "output": format!("IBAN {IBAN}")}]),
        json!([{"type": "function_call", "call_id": "c", "name": "pay", "arguments": format!("{{\"iban\":\"{IBAN}\"}}")}]),
        json!([{"role": "assistant", "content": [{"type": "output_text", "text": format!("IBAN {IBAN}")}]}]),
        json!([{"role": "developer", "content": [{"type": "input_text", "text": format!("IBAN {IBAN}")}]}]),
    ];
    for input in carriers {
        let req = json!({"model": "test/model", "input": input, "provider": prefer_us});
        let (status, headers, body) = post(&gw, "/v1/responses", &req).await;
        assert_eq!(status, 200, "{input}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["provider"], "fake-eu", "{input}");
        assert!(headers.contains_key("x-auditgate-entry"));
    }
    let prompt = json!({"model": "test/model", "prompt": format!("IBAN {IBAN}"), "provider": prefer_us});
    assert_eq!(post(&gw, "/v1/completions", &prompt).await.0, 200);
    assert_eq!(us.hits(), 1, "an IBAN reached the US upstream");
    assert_eq!(eu.hits(), 5);
}

#[tokio::test]
async fn unwritable_log_refuses_completions_and_responses_and_forwards_nothing() {
    let (gw, fake) = one_upstream(ALLOW_ALL_POLICY).await;
    let db = gw.data_dir().join("log.db");
    std::fs::rename(&db, gw.data_dir().join("log.db.moved")).unwrap();
    std::fs::write(&db, b"not a database").unwrap();
    for stream in [false, true] {
        let calls = [
            ("/v1/completions", json!({"model": "test/model", "prompt": "x", "stream": stream})),
            ("/v1/responses", json!({"model": "test/model", "input": "x", "stream": stream})),
        ];
        for (path, req) in calls {
            let (status, _, body) = post(&gw, path, &req).await;
            assert_eq!(status, 503, "{path}: {body}");
            let error: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["error"]["code"], "audit_unavailable", "{path}");
        }
    }
    assert_eq!(fake.hits(), 0, "nothing may be forwarded while the log cannot be written");
}

#[tokio::test]
async fn what_cannot_be_honoured_is_a_400_naming_it_or_dropped_and_named_under_ignore() {
    let (gw, fake) = one_upstream(ALLOW_ALL_POLICY).await;
    let refused = [
        (
            "/v1/responses",
            json!({"model": "test/model", "input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        ("/v1/responses", json!({"model": "test/model", "input": "x", "store": true}), "store"),
        (
            "/v1/responses",
            json!({"model": "test/model", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input[0].type",
        ),
        (
            "/v1/responses",
            json!({"model": "test/model", "input": [{"role": "user", "content": "x", "extra": "y"}]}),
            "input[0].extra",
        ),
        ("/v1/completions", json!({"model": "test/model", "prompt": "x", "suffix": "end"}), "suffix"),
        ("/v1/completions", json!({"model": "test/model", "prompt": [[1, 2, 3]]}), "prompt"),
    ];
    for (path, req, param) in refused {
        let (status, _, body) = post(&gw, path, &req).await;
        assert_eq!(status, 400, "{req}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["param"], param, "{body}");
    }
    assert_eq!(fake.hits(), 0);
    drop(gw);
    let gw = GatewayBuilder::default()
        .extra("[request]\nunsupported = \"ignore\"")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let req = json!({"model": "test/model", "input": "x", "store": true, "tools": [{"type": "web_search"}]});
    let (status, headers, body) = post(&gw, "/v1/responses", &req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-auditgate-ignored"], "store, tools[0]");
    let sent = &fake.bodies()[0];
    assert!(sent.get("store").is_none() && sent.get("tools").is_none(), "{sent}");
    let previous = json!({"model": "test/model", "input": "x", "previous_response_id": "resp_1"});
    assert_eq!(post(&gw, "/v1/responses", &previous).await.0, 400, "earlier turns are never dropped quietly");
}

#[tokio::test]
async fn a_response_served_by_an_anthropic_upstream_streams_as_responses_events() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .provider(ProviderSpec::new("fake-claude", &fake.base_url, "eu", "FR").anthropic())
        .start();
    let (status, _, body) = post(&gw, "/v1/responses", &json!({"model": "test/model", "input": "Hallo"})).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(answer["output"][0]["content"][0]["text"].as_str().unwrap().contains("Hallo"), "{body}");
    let req = json!({"model": "test/model", "input": "Hallo", "stream": true});
    let (status, _, body) = post(&gw, "/v1/responses", &req).await;
    assert_eq!(status, 200, "{body}");
    let events = named_events(&body);
    assert_eq!(events.last().unwrap().0, "response.completed", "{body}");
    assert_eq!(fake.record.anthropic_versions.lock().unwrap().len(), 2, "both calls went to the Messages API");
    assert!(fake.bodies().iter().all(|b| b.get("input").is_none() && b["messages"].is_array()));
}

#[tokio::test]
async fn a_stream_that_breaks_ends_with_an_error_event_and_no_completion() {
    let fake = FakeUpstream::start(Behavior::BrokenStream).await;
    let mut gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    let req = json!({"model": "test/model", "input": "x", "stream": true});
    let (status, headers, body) = post(&gw, "/v1/responses", &req).await;
    assert_eq!(status, 200, "{body}");
    let events = named_events(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"error"), "{body}");
    assert!(!names.contains(&"response.completed"), "{body}");
    assert!(events.last().unwrap().1["error"]["message"].is_string(), "the SDKs raise on a top-level error: {body}");
    let req = json!({"model": "test/model", "prompt": "x", "stream": true});
    let (_, _, completion) = post(&gw, "/v1/completions", &req).await;
    let last = sse_data(&completion).pop().unwrap_or_default();
    assert!(last.contains("\"error\""), "{completion}");
    assert!(!completion.contains("[DONE]"), "{completion}");
    let request_seq = entry(&headers, "x-auditgate-entry");
    gw.stop();
    let conn = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    let bytes: Vec<u8> = conn
        .query_row(
            "SELECT bytes FROM entries WHERE kind = 'response' AND json_extract(bytes, '$.payload.request_seq') = ?1",
            [request_seq as i64],
            |r| r.get(0),
        )
        .unwrap();
    let outcome: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(outcome["payload"]["error"].is_string(), "the outcome records the broken stream: {outcome}");
}

#[tokio::test]
async fn with_unknown_fields_rejected_every_honoured_member_still_passes_and_an_unknown_one_is_named() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .extra("[request]\nunknown_fields = \"reject\"")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let response = json!({
        "model": "test/model", "instructions": "sys", "input": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "tool_choice": "auto",
        "parallel_tool_calls": true, "max_output_tokens": 20, "temperature": 0.1, "top_p": 0.9,
        "text": {"format": {"type": "json_object"}, "verbosity": "low"}, "reasoning": {"effort": "low"},
        "metadata": {"k": "v"}, "user": "u", "safety_identifier": "s", "prompt_cache_key": "p",
        "service_tier": "auto", "store": false, "include": [], "truncation": "disabled",
        "stream_options": {"include_obfuscation": false}
    });
    let (status, _, body) = post(&gw, "/v1/responses", &response).await;
    assert_eq!(status, 200, "{body}");
    let completion = json!({
        "model": "test/model", "prompt": "p", "max_tokens": 5, "n": 1, "stop": "\n", "temperature": 0.1,
        "top_p": 0.9, "presence_penalty": 0.1, "frequency_penalty": 0.1, "seed": 3, "logit_bias": {"50256": -100},
        "user": "u", "suffix": null, "echo": false, "best_of": 1, "logprobs": null
    });
    let (status, _, body) = post(&gw, "/v1/completions", &completion).await;
    assert_eq!(status, 200, "{body}");
    for path in ["/v1/responses", "/v1/completions"] {
        let mut req = if path == "/v1/responses" { response.clone() } else { completion.clone() };
        req["x_note"] = json!("not in any schema");
        let (status, _, body) = post(&gw, path, &req).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["param"], "x_note");
    }
    assert_eq!(fake.hits(), 2);
}

#[tokio::test]
async fn each_answer_is_recorded_with_the_hash_of_the_bytes_the_client_received() {
    use sha2::{Digest, Sha256};
    let (mut gw, _fake) = one_upstream(ALLOW_ALL_POLICY).await;
    let mut received = Vec::new();
    for (path, req) in [
        ("/v1/responses", json!({"model": "test/model", "input": "a"})),
        ("/v1/responses", json!({"model": "test/model", "input": "b", "stream": true})),
        ("/v1/completions", json!({"model": "test/model", "prompt": "c"})),
        ("/v1/completions", json!({"model": "test/model", "prompt": "d", "stream": true})),
    ] {
        let (status, headers, body) = post(&gw, path, &req).await;
        assert_eq!(status, 200, "{body}");
        received.push((path, entry(&headers, "x-auditgate-entry"), hex::encode(Sha256::digest(body.as_bytes()))));
    }
    gw.stop();
    let conn = rusqlite::Connection::open(gw.data_dir().join("log.db")).unwrap();
    for (path, request_seq, sha256) in received {
        let bytes: Vec<u8> =
            conn.query_row("SELECT bytes FROM entries WHERE seq = ?1", [request_seq as i64], |r| r.get(0)).unwrap();
        let request: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(request["payload"]["route"], path, "the request entry names the route: {request}");
        let bytes: Vec<u8> = conn
            .query_row(
                "SELECT bytes FROM entries WHERE kind = 'response' AND json_extract(bytes, '$.payload.request_seq') = ?1",
                [request_seq as i64],
                |r| r.get(0),
            )
            .unwrap();
        let outcome: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(outcome["payload"]["response_sha256"], sha256.as_str(), "{outcome}");
        assert_eq!(outcome["payload"]["finish_reason"], "stop", "{outcome}");
    }
}

#[tokio::test]
async fn a_streamed_answer_is_stored_redacted_as_the_text_it_carried() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let mut gw = GatewayBuilder::default()
        .extra("[audit]\nstore_bodies = \"redacted\"")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let calls = [
        ("/v1/responses", json!({"model": "test/model", "input": format!("an {IBAN}"), "stream": true})),
        ("/v1/completions", json!({"model": "test/model", "prompt": format!("an {IBAN}"), "stream": true})),
    ];
    let mut entries = Vec::new();
    for (path, req) in calls {
        let (status, headers, body) = post(&gw, path, &req).await;
        assert_eq!(status, 200, "{body}");
        entries.push(entry(&headers, "x-auditgate-entry"));
    }
    gw.stop();
    for seq in entries {
        let out = std::process::Command::new(bin())
            .args(["audit", "show-body", "--entry", &seq.to_string(), "--role", "response", "--data-dir"])
            .arg(gw.data_dir())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("\"streamed\"") && text.contains("echo: an <IBAN_CODE>"), "{text}");
        assert!(!text.contains(IBAN), "{text}");
    }
}
