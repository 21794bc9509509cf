//! The HTTP surface against fake upstreams: forwarding, streaming, errors, fallbacks, limits,
//! cancellation and shutdown.

use crate::common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn one_provider(behavior: Behavior) -> (Gateway, FakeUpstream) {
    let fake = FakeUpstream::start(behavior).await;
    let gw = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR")).start();
    (gw, fake)
}

#[tokio::test]
async fn forwards_parameters_untouched_and_strips_gateway_fields() {
    let (gw, fake) = one_provider(Behavior::Echo).await;
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let request = json!({
        "model": "test/model", "models": ["test/model"], "provider": {"sort": "price"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "look"},
                      {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],
        "tools": tools, "tool_choice": "auto", "response_format": {"type": "json_object"},
        "seed": 7, "n": 1, "stop": ["END"], "logprobs": false, "max_tokens": 20, "max_completion_tokens": 20,
        "user": "u-1", "temperature": 0.2, "x_custom_field": {"kept": true}
    });
    let (status, headers, body) = gw.chat(request.clone()).await;
    assert_eq!(status, 200, "{body}");
    let sent = &fake.bodies()[0];
    assert_eq!(sent["model"], "upstream-model");
    for field in [
        "tools",
        "tool_choice",
        "response_format",
        "seed",
        "n",
        "stop",
        "logprobs",
        "max_tokens",
        "max_completion_tokens",
        "user",
        "temperature",
        "x_custom_field",
        "messages",
    ] {
        assert_eq!(sent[field], request[field], "field {field} changed on the way");
    }
    for field in ["models", "provider"] {
        assert!(sent.get(field).is_none(), "{field} must not go upstream");
    }
    // The client's field order is kept (the provider's model id first).
    let order = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let mut expected = order(&request);
    expected.retain(|k| !["model", "models", "provider"].contains(&k.as_str()));
    expected.insert(0, "model".into());
    assert_eq!(order(sent), expected);
    assert_eq!(body["provider"], "fake-eu");
    assert_eq!(body["model"], "test/model");
    assert!(body["id"].as_str().unwrap().starts_with("gen-"));
    assert!(body["usage"]["cost"].as_f64().unwrap() > 0.0);
    let entry: u64 = headers["x-auditgate-entry"].to_str().unwrap().parse().unwrap();
    assert!(entry > 0);
    assert!(headers.contains_key("x-auditgate-cost"));
}

#[tokio::test]
async fn streams_chunks_with_done_and_usage_when_asked() {
    let (gw, _fake) = one_provider(Behavior::Echo).await;
    let mut req = user("one two three");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let resp = gw.post("/v1/chat/completions", &req).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.headers().contains_key("x-auditgate-entry"));
    let text = resp.text().await.unwrap();
    let events = sse_data(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "echo: one two three");
    assert!(chunks.iter().all(|c| c["provider"] == "fake-eu" && c["model"] == "test/model"));
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["total_tokens"], 15);
    assert!(usage["usage"]["cost"].as_f64().unwrap() > 0.0);
}

/// As OpenRouter does, a stream ends with usage and cost unless the client turns it off.
#[tokio::test]
async fn streams_carry_usage_unless_the_client_turns_it_off() {
    let (gw, fake) = one_provider(Behavior::Echo).await;
    let mut req = user("hi");
    req["stream"] = json!(true);
    let text = gw.post("/v1/chat/completions", &req).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("\"cost\""), "usage and cost by default: {text}");
    for off in [json!({"stream_options": {"include_usage": false}}), json!({"usage": {"include": false}})] {
        let mut req = req.clone();
        for (k, v) in off.as_object().unwrap() {
            req[k] = v.clone();
        }
        let text = gw.post("/v1/chat/completions", &req).send().await.unwrap().text().await.unwrap();
        assert!(!text.contains("\"usage\""), "{off}: {text}");
    }
    // The gateway still asks the upstream for usage, to account for the call.
    assert!(fake.bodies().iter().all(|b| b["stream_options"]["include_usage"] == true));
}

#[tokio::test]
async fn authentication_is_required() {
    let (gw, fake) = one_provider(Behavior::Echo).await;
    let url = format!("{}/v1/chat/completions", gw.url);
    let none = gw.client().post(&url).json(&user("x")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    let wrong = gw.client().post(&url).bearer_auth("sk-ag-wrong").json(&user("x")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(fake.hits(), 0);
}

#[tokio::test]
async fn revoked_key_stops_working() {
    let (gw, _fake) = one_provider(Behavior::Echo).await;
    assert_eq!(gw.chat(user("x")).await.0, 200);
    let out = std::process::Command::new(bin())
        .args(["keys", "revoke", "tester", "--data-dir"])
        .arg(gw.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success());
    // At once: the key epoch moved with the revocation in the other process (no cache delay).
    assert_eq!(gw.chat(user("x")).await.0, 401);
}

#[tokio::test]
async fn malformed_json_says_where() {
    let (gw, fake) = one_provider(Behavior::Echo).await;
    let resp = gw
        .client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(&gw.key)
        .header("content-type", "application/json")
        .body("{\"model\": \"test/model\",\n \"messages\": [}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("line 2"), "{msg}");
    assert_eq!(fake.hits(), 0);
}

#[tokio::test]
async fn invalid_requests_get_400() {
    let (gw, _fake) = one_provider(Behavior::Echo).await;
    for bad in [
        json!({"model": "test/model"}),
        json!({"model": "test/model", "messages": []}),
        json!({"messages": [{"role": "user", "content": "x"}]}),
        json!([1, 2]),
        json!({"model": 5, "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "test/model", "messages": [{"content": "x"}]}),
        json!({"model": "test/model", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}),
    ] {
        let (status, _, body) = gw.chat(bad.clone()).await;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn unknown_model_and_route_are_404() {
    let (gw, _fake) = one_provider(Behavior::Echo).await;
    let mut req = user("x");
    req["model"] = json!("nope/none");
    let (status, _, body) = gw.chat(req).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "model_not_found");
    let resp = gw.client().get(format!("{}/v2/whatever", gw.url)).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.json::<Value>().await.unwrap()["error"]["message"].is_string());
}

#[tokio::test]
pub(crate) async fn body_over_limit_is_413() {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .extra("max_body_bytes = 2048")
        .provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"))
        .start();
    let (status, _, body) = gw.chat(user(&"a".repeat(4096))).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "request_too_large");
    assert_eq!(fake.hits(), 0);
}

#[tokio::test]
async fn falls_back_to_next_provider_on_server_error() {
    let bad = FakeUpstream::start(Behavior::Status(500, r#"{"error":{"message":"boom"}}"#.into())).await;
    let good = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .provider(ProviderSpec::new("bad", &bad.base_url, "eu", "FR"))
        .provider(ProviderSpec::new("good", &good.base_url, "eu", "DE"))
        .start();
    for _ in 0..4 {
        let (status, _, body) = gw.chat(user("hello")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["provider"], "good");
    }
    assert_eq!(good.hits(), 4);
}

#[tokio::test]
async fn all_providers_failing_gives_normalized_502() {
    let bad = FakeUpstream::start(Behavior::Status(503, "upstream overloaded".into())).await;
    let gw = GatewayBuilder::default().provider(ProviderSpec::new("bad", &bad.base_url, "eu", "FR")).start();
    let (status, headers, body) = gw.chat(user("hello")).await;
    assert_eq!(status, 502);
    assert!(body["error"]["message"].as_str().unwrap().contains("upstream overloaded"), "{body}");
    assert!(headers.contains_key("x-auditgate-entry"));
}

#[tokio::test]
async fn upstream_redirect_is_not_followed_with_the_body() {
    // The EU upstream answers 307 pointing at a host outside the policy's choice; following it
    // would re-send the IBAN there. The gateway must treat it as a failed attempt instead.
    let elsewhere = FakeUpstream::start(Behavior::Echo).await;
    let target = format!("{}/chat/completions", elsewhere.base_url);
    for stream in [false, true] {
        let (gw, eu) = one_provider(Behavior::Redirect(target.clone())).await;
        let mut req = user("Please pay CH93 0076 2011 6238 5295 7 today");
        req["stream"] = json!(stream);
        let (status, headers, body) = gw.chat(req).await;
        assert_eq!(status, 502, "stream {stream}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("307"), "{body}");
        assert!(headers.contains_key("x-auditgate-entry"));
        assert_eq!(eu.hits(), 1, "the EU upstream got the request once");
    }
    assert_eq!(elsewhere.hits(), 0, "a redirect target must never receive the body");
}

#[tokio::test]
async fn upstream_rate_limit_and_client_errors_keep_their_meaning() {
    let (gw, fake) = one_provider(Behavior::Status(429, r#"{"error":{"message":"slow down"}}"#.into())).await;
    let (status, _, body) = gw.chat(user("x")).await;
    assert_eq!(status, 429);
    assert!(body["error"]["message"].as_str().unwrap().contains("slow down"));
    fake.set(Behavior::Status(400, r#"{"error":{"message":"bad param temperature"}}"#.into()));
    let (status, _, body) = gw.chat(user("x")).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("temperature"));
}

#[tokio::test]
async fn client_error_is_not_retried_elsewhere() {
    let first = FakeUpstream::start(Behavior::Status(400, r#"{"error":{"message":"bad"}}"#.into())).await;
    let second = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .provider(ProviderSpec::new("first", &first.base_url, "eu", "FR"))
        .provider(ProviderSpec::new("second", &second.base_url, "eu", "DE"))
        .start();
    let mut req = user("x");
    req["provider"] = json!({"order": ["first", "second"]});
    let (status, _, _) = gw.chat(req).await;
    assert_eq!(status, 400);
    assert_eq!(second.hits(), 0);
}

#[tokio::test]
async fn malformed_upstream_answer_is_502() {
    let (gw, _fake) = one_provider(Behavior::Malformed).await;
    let (status, _, body) = gw.chat(user("x")).await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "upstream_invalid_response");
}

#[tokio::test]
async fn slow_upstream_times_out() {
    let fake = FakeUpstream::start(Behavior::Slow(Duration::from_secs(5))).await;
    let gw = GatewayBuilder::default()
        .extra("upstream_timeout_secs = 1")
        .provider(ProviderSpec::new("slow", &fake.base_url, "eu", "FR"))
        .start();
    let (status, _, body) = gw.chat(user("x")).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "upstream_timeout");
}

#[tokio::test]
async fn broken_stream_ends_with_error_event() {
    let (gw, _fake) = one_provider(Behavior::BrokenStream).await;
    let mut req = user("x");
    req["stream"] = json!(true);
    let text = gw.post("/v1/chat/completions", &req).send().await.unwrap().text().await.unwrap();
    let events = sse_data(&text);
    assert_ne!(events.last().map(String::as_str), Some("[DONE]"), "{text}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{text}");
}

#[tokio::test]
async fn client_disconnect_cancels_upstream_stream() {
    let (gw, fake) = one_provider(Behavior::SlowStream { chunks: 100, interval: Duration::from_millis(50) }).await;
    let mut req = user("x");
    req["stream"] = json!(true);
    let mut resp = gw.post("/v1/chat/completions", &req).send().await.unwrap();
    let _first = resp.chunk().await.unwrap();
    drop(resp);
    let mut waited = 0;
    while fake.record.disconnects.load(std::sync::atomic::Ordering::SeqCst) == 0 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(fake.record.disconnects.load(std::sync::atomic::Ordering::SeqCst), 1, "upstream was not cancelled");
}

#[tokio::test]
async fn chat_is_served_under_both_prefixes_and_nothing_between() {
    let (gw, fake) = one_provider(Behavior::Echo).await;
    for prefix in ["/v1", "/api/v1"] {
        let resp = gw
            .client()
            .post(format!("{}{prefix}/chat/completions", gw.url))
            .bearer_auth(&gw.key)
            .json(&user("hello"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{prefix}");
    }
    assert_eq!(fake.hits(), 2);
    for path in ["/v1", "/api/v1/", "/api/chat/completions", "/v1/v1/chat/completions"] {
        let resp = gw.client().post(format!("{}{path}", gw.url)).bearer_auth(&gw.key).json(&user("x")).send().await;
        assert_eq!(resp.unwrap().status(), 404, "{path}");
    }
    assert_eq!(fake.hits(), 2);
}

#[tokio::test]
async fn models_list_has_openrouter_shape_and_regions() {
    let (gw, _fake) = one_provider(Behavior::Echo).await;
    for prefix in ["/v1", "/api/v1"] {
        let v: Value =
            gw.client().get(format!("{}{prefix}/models", gw.url)).send().await.unwrap().json().await.unwrap();
        let m = &v["data"][0];
        assert_eq!(m["id"], "test/model");
        assert_eq!(m["context_length"], 8192);
        assert_eq!(m["pricing"]["prompt"], "0.000001");
        assert_eq!(m["pricing"]["completion"], "0.000002");
        assert!(m["supported_parameters"].as_array().unwrap().contains(&json!("tools")));
        assert_eq!(m["regions"], json!(["eu"]));
        assert_eq!(m["countries"], json!(["FR"]));
        assert!(m["architecture"]["input_modalities"].is_array());
    }
}

#[tokio::test]
async fn generation_lookup_after_a_call() {
    let (gw, _fake) = one_provider(Behavior::Echo).await;
    let (_, headers, body) = gw.chat(user("x")).await;
    let id = body["id"].as_str().unwrap();
    let mut found = Value::Null;
    for _ in 0..50 {
        let resp =
            gw.client().get(format!("{}/api/v1/generation?id={id}", gw.url)).bearer_auth(&gw.key).send().await.unwrap();
        if resp.status() == 200 {
            found = resp.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let g = &found["data"];
    assert_eq!(g["id"], id);
    assert_eq!(g["provider_name"], "fake-eu");
    assert_eq!(g["tokens_prompt"], 10);
    assert_eq!(g["tokens_completion"], 5);
    assert_eq!(g["streamed"], false);
    assert_eq!(g["audit_request_entry"].to_string(), headers["x-auditgate-entry"].to_str().unwrap());
}

#[tokio::test]
async fn embeddings_are_proxied() {
    let (gw, fake) = one_provider(Behavior::Echo).await;
    let resp = gw.post("/v1/embeddings", &json!({"model": "test/model", "input": ["a", "b"]})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-auditgate-entry"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(fake.bodies()[0]["model"], "upstream-model");
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let (mut gw, _fake) = one_provider(Behavior::Slow(Duration::from_millis(800))).await;
    let req = gw.post("/v1/chat/completions", &user("x"));
    let in_flight = tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = tokio::task::spawn_blocking(move || {
        let s = gw.terminate();
        (s, gw)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit status {:?}: {}", status.0, status.1.stderr());
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
}

/// A gateway with one fake provider and a key made with the given `keys create` flags.
async fn gateway_with_key(flags: &[&str]) -> (Gateway, FakeUpstream) {
    let fake = FakeUpstream::start(Behavior::Echo).await;
    let dir = tempfile::tempdir().unwrap();
    let builder = GatewayBuilder::default().provider(ProviderSpec::new("fake-eu", &fake.base_url, "eu", "FR"));
    let config = builder.write_config(dir.path());
    let key = create_key_with(&dir.path().join("data"), "limited", "t", flags);
    (Gateway::spawn(dir, &config, key), fake)
}

#[tokio::test]
async fn credit_limit_gives_402_when_used_up() {
    // Each call costs 10 * 1.0 + 5 * 2.0 = 20 USD per million tokens = 0.00002 USD; with
    // max_tokens 5 the estimate of a small request is about 0.000025 USD.
    let (gw, fake) = gateway_with_key(&["--credit-limit", "0.00005"]).await;
    let mut req = user("x");
    req["max_tokens"] = json!(5);
    assert_eq!(gw.chat(req.clone()).await.0, 200);
    assert_eq!(gw.chat(req.clone()).await.0, 200);
    let (status, _, body) = gw.chat(req.clone()).await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["metadata"]["limit_source"], "key");
    assert_eq!(fake.hits(), 2, "a refused request must not be forwarded");
    let key: Value = gw.get("/api/v1/key", None).await.1;
    assert!((key["data"]["usage"].as_f64().unwrap() - 0.00004).abs() < 1e-9, "{key}");
    assert_eq!(key["data"]["limit"], 0.00005);
}

#[tokio::test]
async fn concurrent_requests_cannot_overspend_the_credit_limit() {
    let (gw, fake) = gateway_with_key(&["--credit-limit", "0.0001"]).await;
    let mut req = user("x");
    req["max_tokens"] = json!(5);
    let calls: Vec<_> = (0..12).map(|_| gw.post("/v1/chat/completions", &req).send()).collect();
    let statuses: Vec<u16> =
        futures_util::future::join_all(calls).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 402), "{statuses:?}");
    // Spend stays within limit + in-flight estimates: at most 4 estimates of 0.000025 fit in 0.0001.
    assert!((1..=4).contains(&ok), "{ok} calls passed: {statuses:?}");
    assert_eq!(fake.hits(), ok);
}

#[tokio::test]
async fn rate_limit_gives_429_with_headers() {
    let (gw, fake) = gateway_with_key(&["--rpm", "2"]).await;
    assert_eq!(gw.chat(user("a")).await.0, 200);
    assert_eq!(gw.chat(user("b")).await.0, 200);
    let resp = gw.post("/v1/chat/completions", &user("c")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(resp.headers()["x-ratelimit-limit-requests"], "2");
    assert_eq!(resp.headers()["x-ratelimit-remaining-requests"], "0");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(fake.hits(), 2);
}

#[tokio::test]
async fn activity_export_lists_finished_calls() {
    let (gw, _fake) = one_provider(Behavior::Echo).await;
    let (_, _, body) = gw.chat(user("x")).await;
    let id = body["id"].as_str().unwrap().to_string();
    let mut csv = String::new();
    for _ in 0..50 {
        let out = std::process::Command::new(bin())
            .args(["activity", "export", "--from", "2000-01-01", "--to", "2100-01-01", "--format", "csv", "--data-dir"])
            .arg(gw.data_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        csv = String::from_utf8(out.stdout).unwrap();
        if csv.contains(&id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("created_at,generation_id,key_id,model,provider_name"));
    let row = lines.iter().find(|l| l.contains(&id)).expect("the call is in the export");
    assert!(row.contains("test/model,fake-eu,10,5,"), "{row}");
}

#[tokio::test]
async fn demo_echo_works_out_of_the_box() {
    let gw = GatewayBuilder::default().demo().start();
    let mut req = user("bonjour");
    req["model"] = json!("demo/echo");
    let (status, _, body) = gw.chat(req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "echo: bonjour");
    assert!(["demo-ch", "demo-us"].contains(&body["provider"].as_str().unwrap()));
}

#[tokio::test]
async fn model_suffixes_and_provider_order_are_honoured() {
    let a = FakeUpstream::start(Behavior::Echo).await;
    let b = FakeUpstream::start(Behavior::Echo).await;
    let gw = GatewayBuilder::default()
        .provider(ProviderSpec::new("first", &a.base_url, "eu", "FR"))
        .provider(ProviderSpec::new("second", &b.base_url, "eu", "DE"))
        .start();
    let mut req = user("x");
    req["model"] = json!("test/model:floor");
    let (status, _, body) = gw.chat(req).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "test/model");
    for (order, want) in [(["second", "first"], "second"), (["first", "second"], "first")] {
        let mut req = user("x");
        req["provider"] = json!({"order": order, "allow_fallbacks": false});
        let (_, _, body) = gw.chat(req).await;
        assert_eq!(body["provider"], want);
    }
    let mut req = user("x");
    req["provider"] = json!({"only": ["nobody"]});
    let (status, _, body) = gw.chat(req).await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"]["metadata"]["excluded"].as_array().is_some_and(|e| e.len() == 2), "{body}");
}

#[cfg(unix)]
#[tokio::test]
async fn secrets_in_the_data_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (gw, _fake) = one_provider(Behavior::Echo).await;
    for file in ["signing.key", "pii-hash.salt"] {
        let mode = std::fs::metadata(gw.data_dir().join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{file} is readable by others: {mode:o}");
    }
    assert!(std::fs::read(gw.data_dir().join("pii-hash.salt")).unwrap().len() >= 16);
}
