//! Round trips and end-to-end checks for the Anthropic translation: OpenAI -> Anthropic -> OpenAI
//! requests keep messages, tools and tool results; responses and streams translated both ways agree
//! with each other; and no function panics on arbitrary JSON.

use auditgate::providers::anthropic::{
    error_body, error_message, from_anthropic_response, messages_to_openai, openai_to_messages_response,
    to_anthropic_request, MessagesStreamEncoder, StreamTranslator,
};
use proptest::prelude::*;
use serde_json::{json, Value};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn conversation() -> Value {
    json!({
        "model": "gw-model",
        "messages": [
            {"role": "system", "content": "You are a careful assistant."},
            {"role": "user", "content": "Weather in Bern and Basel?"},
            {"role": "assistant", "content": "Checking both.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Bern\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Basel\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "12C, sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "14C, rain"},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "tool_choice": "required",
        "stop": ["END"],
        "max_tokens": 300,
        "temperature": 0.5,
        "user": "client-7",
    })
}

#[test]
fn openai_request_survives_a_round_trip_through_anthropic() {
    let original = conversation();
    let anthropic = ok(to_anthropic_request(&original, "claude-upstream"));
    assert_eq!(anthropic["model"], "claude-upstream");
    let roles: Vec<&str> =
        anthropic["messages"].as_array().into_iter().flatten().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user"], "roles must alternate");
    let back = ok(messages_to_openai(&anthropic));
    // Tool results merged into one Anthropic user turn come back as separate tool messages,
    // and the assistant text and tool calls stay together in one message.
    assert_eq!(back["messages"], original["messages"]);
    for key in ["tools", "tool_choice", "stop", "max_tokens", "temperature", "user"] {
        assert_eq!(back[key], original[key], "{key} changed");
    }
}

#[test]
fn anthropic_request_survives_a_round_trip_through_openai() {
    let original = json!({
        "model": "claude-x", "max_tokens": 64, "system": "Be terse.",
        "messages": [
            {"role": "user", "content": "Add 2 and 3"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Using the tool."},
                {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 2, "b": 3}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "5"},
                {"type": "text", "text": "Now explain."},
                {"type": "document", "title": "invoice.pdf",
                 "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}}]},
        ],
        "tools": [{"name": "add", "description": "Add", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "add"},
        "stop_sequences": ["\n\nHuman:"],
        "metadata": {"user_id": "u-1"},
    });
    let openai = ok(messages_to_openai(&original));
    let back = ok(to_anthropic_request(&openai, "claude-x"));
    for key in ["system", "messages", "tools", "tool_choice", "stop_sequences", "metadata", "max_tokens"] {
        assert_eq!(back[key], original[key], "{key} changed");
    }
}

#[test]
fn anthropic_response_survives_a_round_trip_through_openai() {
    let original = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [
            {"type": "text", "text": "Let me add."},
            {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 2, "b": 3}},
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 40, "output_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 12},
    });
    let openai = ok(from_anthropic_response(&original));
    let back = openai_to_messages_response(&openai);
    for key in ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"] {
        assert_eq!(back[key], original[key], "{key} changed");
    }
}

/// A realistic upstream stream: text, then a tool call whose JSON arrives in pieces.
fn anthropic_events() -> Vec<Value> {
    vec![
        json!({"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant",
            "content": [], "model": "claude-x", "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 849, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 10}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Looking "}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "that up."}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"San"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": " Francisco\", \"unit\": \"c\"}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 47}}),
        json!({"type": "message_stop"}),
    ]
}

/// Fold Anthropic events into the final message, as the Anthropic SDKs do.
fn accumulate_anthropic(events: &[Value]) -> Value {
    let mut msg = json!({});
    let mut partial: Vec<String> = Vec::new();
    for e in events {
        match e["type"].as_str().unwrap_or("") {
            "message_start" => msg = e["message"].clone(),
            "content_block_start" => {
                if let Some(content) = msg["content"].as_array_mut() {
                    content.push(e["content_block"].clone());
                }
                partial.push(String::new());
            }
            "content_block_delta" => {
                let i = e["index"].as_u64().unwrap_or(0) as usize;
                match e["delta"]["type"].as_str() {
                    Some("text_delta") => {
                        let t = format!(
                            "{}{}",
                            msg["content"][i]["text"].as_str().unwrap_or(""),
                            e["delta"]["text"].as_str().unwrap_or("")
                        );
                        msg["content"][i]["text"] = json!(t);
                    }
                    Some("input_json_delta") => partial[i].push_str(e["delta"]["partial_json"].as_str().unwrap_or("")),
                    _ => {}
                }
            }
            "content_block_stop" => {
                let i = e["index"].as_u64().unwrap_or(0) as usize;
                if msg["content"][i]["type"] == "tool_use" && !partial[i].is_empty() {
                    msg["content"][i]["input"] = ok(serde_json::from_str::<Value>(&partial[i]));
                }
            }
            "message_delta" => {
                msg["stop_reason"] = e["delta"]["stop_reason"].clone();
                msg["usage"]["output_tokens"] = e["usage"]["output_tokens"].clone();
            }
            _ => {}
        }
    }
    msg
}

/// Fold OpenAI chunks into a chat.completion message, finish reason and usage.
fn accumulate_openai(chunks: &[Value]) -> (String, Vec<(String, String, String)>, String, Value) {
    let (mut text, mut calls, mut finish, mut usage) = (String::new(), Vec::new(), String::new(), Value::Null);
    for c in chunks {
        if let Some(u) = c.get("usage").filter(|u| !u.is_null()) {
            usage = u.clone();
        }
        let Some(choice) = c.pointer("/choices/0") else {
            continue;
        };
        text.push_str(choice["delta"]["content"].as_str().unwrap_or(""));
        for tc in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let i = tc["index"].as_u64().unwrap_or(0) as usize;
            if calls.len() <= i {
                calls.push((
                    tc["id"].as_str().unwrap_or("").to_string(),
                    tc["function"]["name"].as_str().unwrap_or("").to_string(),
                    String::new(),
                ));
            }
            calls[i].2.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = f.to_string();
        }
    }
    (text, calls, finish, usage)
}

fn translate_stream(events: &[Value]) -> Vec<Value> {
    let mut t = StreamTranslator::new("gw-model");
    events.iter().flat_map(|e| ok(t.on_event(e))).collect()
}

#[test]
fn anthropic_stream_becomes_openai_chunks_matching_the_message() {
    let chunks = translate_stream(&anthropic_events());
    let (text, calls, finish, usage) = accumulate_openai(&chunks);
    assert_eq!(text, "Looking that up.");
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].0.as_str(), calls[0].1.as_str()), ("toolu_9", "weather"));
    assert_eq!(ok(serde_json::from_str::<Value>(&calls[0].2)), json!({"city": "San Francisco", "unit": "c"}));
    assert_eq!(finish, "tool_calls");
    assert_eq!(usage["prompt_tokens"], 849);
    assert_eq!(usage["completion_tokens"], 47);
    assert_eq!(usage["total_tokens"], 896);
    let last = chunks.last().cloned().unwrap_or_default();
    assert_eq!(last["choices"], json!([]));
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "gw-model"));
}

#[test]
fn stream_translated_there_and_back_rebuilds_the_same_message() {
    let events = anthropic_events();
    let chunks = translate_stream(&events);
    let mut enc = MessagesStreamEncoder::new("claude-x", "msg_s");
    let mut back: Vec<(&str, Value)> = chunks.iter().flat_map(|c| enc.on_chunk(c)).collect();
    back.extend(enc.finish());
    for (name, data) in &back {
        assert_eq!(data["type"], *name, "event name and data type must agree");
    }
    let original = accumulate_anthropic(&events);
    let rebuilt = accumulate_anthropic(&back.into_iter().map(|(_, d)| d).collect::<Vec<_>>());
    assert_eq!(rebuilt["content"], original["content"]);
    assert_eq!(rebuilt["stop_reason"], original["stop_reason"]);
    assert_eq!(rebuilt["usage"]["output_tokens"], original["usage"]["output_tokens"]);
    assert_eq!(rebuilt["id"], "msg_s");
}

// ---------------------------------------------------------------------------------------------
// Property tests: arbitrary input never panics, and split tool arguments are never altered.

/// Words the translators look for, so random JSON reaches deep code paths and not just the
/// first type check.
const VOCAB: &[&str] = &[
    "type",
    "role",
    "content",
    "messages",
    "system",
    "text",
    "tool_calls",
    "tool_call_id",
    "function",
    "name",
    "arguments",
    "id",
    "index",
    "delta",
    "message",
    "usage",
    "input_tokens",
    "output_tokens",
    "stop_reason",
    "finish_reason",
    "choices",
    "tool_use",
    "tool_result",
    "tool_use_id",
    "input",
    "image",
    "image_url",
    "url",
    "source",
    "base64",
    "data",
    "media_type",
    "tools",
    "tool_choice",
    "error",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "message_delta",
    "message_stop",
    "text_delta",
    "input_json_delta",
    "partial_json",
    "content_block",
    "user",
    "assistant",
    "tool",
    "developer",
    "auto",
    "any",
    "required",
    "none",
    "stop",
    "max_tokens",
    "data:image/png;base64,AA",
    "https://x/y",
    "{\"a\":1}",
    "{",
    "",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (0u64..5).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(VOCAB).prop_map(|s| json!(s)),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(VOCAB), inner), 0..6)
                .prop_map(|kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()) }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_function_panics_on_arbitrary_json(v in arb_json(), status in any::<u16>(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = to_anthropic_request(&v, "m");
        let _ = from_anthropic_response(&v);
        let _ = messages_to_openai(&v);
        let _ = openai_to_messages_response(&v);
        let _ = error_message(status, &bytes);
        let _ = error_message(status, v.to_string().as_bytes());
        let body = error_body(status, "m");
        prop_assert_eq!(&body["type"], "error");
    }

    #[test]
    fn stream_state_machines_never_panic(events in prop::collection::vec(arb_json(), 0..12)) {
        let mut t = StreamTranslator::new("m");
        let mut enc = MessagesStreamEncoder::new("m", "msg");
        for e in &events {
            let _ = t.on_event(e);
            let _ = enc.on_chunk(e);
        }
        let _ = t.usage();
        let tail = enc.finish();
        prop_assert!(tail.iter().all(|(name, data)| data["type"] == *name || *name == "error"));
    }

    #[test]
    fn split_tool_arguments_pass_through_both_translators_intact(
        city in "[a-zA-Z \"\\\\é]{0,20}",
        cuts in prop::collection::vec(0usize..40, 0..6),
    ) {
        let args = json!({"city": city}).to_string();
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(args.len())).filter(|c| args.is_char_boundary(*c)).collect();
        points.sort_unstable();
        points.dedup();
        let mut pieces = Vec::new();
        let mut prev = 0;
        for p in points.into_iter().chain([args.len()]) {
            pieces.push(args[prev..p].to_string());
            prev = p;
        }
        let mut events = vec![
            json!({"type": "message_start", "message": {"id": "msg", "usage": {"input_tokens": 1, "output_tokens": 0}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}}),
        ];
        events.extend(pieces.iter().map(|p| json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": p}})));
        events.push(json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}}));
        events.push(json!({"type": "message_stop"}));
        let chunks = translate_stream(&events);
        let (_, calls, _, _) = accumulate_openai(&chunks);
        prop_assert_eq!(&calls[0].2, &args);
        let mut enc = MessagesStreamEncoder::new("m", "msg");
        let mut back: Vec<Value> = chunks.iter().flat_map(|c| enc.on_chunk(c)).map(|(_, d)| d).collect();
        back.extend(enc.finish().into_iter().map(|(_, d)| d));
        let rebuilt = accumulate_anthropic(&back);
        prop_assert_eq!(&rebuilt["content"][0]["input"], &json!({"city": city}));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn alternating_text_conversations_round_trip_exactly(
        system in ".{0,12}",
        texts in prop::collection::vec(".{1,16}", 1..8),
    ) {
        let mut messages = Vec::new();
        if !system.is_empty() {
            messages.push(json!({"role": "system", "content": system}));
        }
        for (i, t) in texts.iter().enumerate() {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            messages.push(json!({"role": role, "content": t}));
        }
        let original = json!({"model": "m", "messages": messages, "max_tokens": 5});
        let anthropic = to_anthropic_request(&original, "m");
        prop_assert!(anthropic.is_ok());
        let back = messages_to_openai(&anthropic.unwrap_or_default());
        prop_assert!(back.is_ok());
        prop_assert_eq!(&back.unwrap_or_default()["messages"], &original["messages"]);
    }
}
