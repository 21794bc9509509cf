//! Ingress: Anthropic Messages requests from clients (the official `anthropic` SDK pointed at the
//! gateway's `POST /v1/messages`) into the gateway's OpenAI chat format, and OpenAI responses and
//! errors back into Anthropic shapes.
//!
//! Losses, all documented: thinking blocks and the `thinking` parameter are dropped (OpenAI
//! upstreams cannot take them back), `is_error` on tool results and `cache_control` markers have no
//! OpenAI counterpart, and an OpenAI `stop` finish cannot say which stop sequence matched, so
//! `stop_sequence` is always null.

use serde_json::{json, Map, Value};

use super::{as_object, count, invalid, opt, opt_str, req_str, wrong, TranslateError};

/// Translate an Anthropic Messages request into an OpenAI chat completion request. The `model` is
/// passed through unchanged for the gateway to resolve. With `stream: true` the request also asks
/// for `stream_options.include_usage`, since the Anthropic `message_delta` event needs the usage.
pub fn messages_to_openai(req: &Value) -> Result<Value, TranslateError> {
    let r = as_object(req, "request")?;
    let mut out = Map::new();
    out.insert("model".into(), json!(req_str(r, "model", "model")?));
    let mut messages = Vec::new();
    if let Some(system) = system_prompt(opt(r, "system"))? {
        messages.push(json!({ "role": "system", "content": system }));
    }
    let input = opt(r, "messages")
        .ok_or_else(|| TranslateError::Missing("messages".into()))?
        .as_array()
        .ok_or_else(|| wrong("messages", "an array"))?;
    for (i, m) in input.iter().enumerate() {
        messages.extend(convert_message(m, &format!("messages[{i}]"))?);
    }
    out.insert("messages".into(), Value::Array(messages));
    copy_scalars(r, &mut out)?;
    add_tools(r, &mut out)?;
    Ok(Value::Object(out))
}

fn copy_scalars(r: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    if let Some(v) = opt(r, "max_tokens") {
        let n = v.as_u64().filter(|n| *n > 0).ok_or_else(|| wrong("max_tokens", "a positive integer"))?;
        out.insert("max_tokens".into(), json!(n));
    }
    for key in ["temperature", "top_p", "top_k"] {
        if let Some(v) = opt(r, key) {
            if !v.is_number() {
                return Err(wrong(key, "a number"));
            }
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(stop) = opt(r, "stop_sequences") {
        match stop.as_array() {
            Some(items) if items.iter().all(Value::is_string) => {
                if !items.is_empty() {
                    out.insert("stop".into(), stop.clone());
                }
            }
            _ => return Err(wrong("stop_sequences", "a list of strings")),
        }
    }
    if let Some(meta) = opt(r, "metadata") {
        let meta = as_object(meta, "metadata")?;
        if let Some(user) = opt_str(meta, "user_id", "metadata.user_id")? {
            out.insert("user".into(), json!(user));
        }
    }
    if let Some(s) = opt(r, "stream") {
        let s = s.as_bool().ok_or_else(|| wrong("stream", "a boolean"))?;
        out.insert("stream".into(), json!(s));
        if s {
            out.insert("stream_options".into(), json!({ "include_usage": true }));
        }
    }
    Ok(())
}

/// `system` as a string or a list of text blocks, joined into one string.
fn system_prompt(system: Option<&Value>) -> Result<Option<String>, TranslateError> {
    match system {
        None => Ok(None),
        Some(Value::String(s)) => Ok((!s.is_empty()).then(|| s.clone())),
        Some(Value::Array(blocks)) => {
            let texts = blocks
                .iter()
                .enumerate()
                .map(|(i, b)| text_of_block(b, &format!("system[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let joined = texts.join("\n\n");
            Ok((!joined.is_empty()).then_some(joined))
        }
        Some(_) => Err(wrong("system", "a string or a list of text blocks")),
    }
}

fn text_of_block(block: &Value, field: &str) -> Result<String, TranslateError> {
    let b = as_object(block, field)?;
    match req_str(b, "type", &format!("{field}.type"))? {
        "text" => Ok(req_str(b, "text", &format!("{field}.text"))?.to_string()),
        other => Err(TranslateError::Unsupported(format!("{field}: block type {other:?} here"))),
    }
}

/// One Anthropic message as one or more OpenAI messages (tool results become `tool` messages).
fn convert_message(m: &Value, field: &str) -> Result<Vec<Value>, TranslateError> {
    let msg = as_object(m, field)?;
    let role = req_str(msg, "role", &format!("{field}.role"))?;
    let content = opt(msg, "content").ok_or_else(|| TranslateError::Missing(format!("{field}.content")))?;
    match (role, content) {
        (_, Value::String(s)) if role == "user" || role == "assistant" => {
            Ok(vec![json!({ "role": role, "content": s })])
        }
        ("user", Value::Array(blocks)) => user_messages(blocks, field),
        ("assistant", Value::Array(blocks)) => Ok(vec![assistant_message(blocks, field)?]),
        ("user" | "assistant", _) => Err(wrong(format!("{field}.content"), "a string or a list of blocks")),
        (other, _) => Err(invalid(format!("{field}.role"), format!("{other:?} is not user or assistant"))),
    }
}

/// Tool results first (OpenAI requires `tool` messages right after the assistant's tool calls),
/// then the remaining parts as one user message.
fn user_messages(blocks: &[Value], field: &str) -> Result<Vec<Value>, TranslateError> {
    let mut tools = Vec::new();
    let mut parts = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let f = format!("{field}.content[{j}]");
        let block = as_object(b, &f)?;
        match req_str(block, "type", &format!("{f}.type"))? {
            "text" => parts.push(json!({ "type": "text", "text": req_str(block, "text", &format!("{f}.text"))? })),
            "image" => parts.push(image_part(block, &f)?),
            "document" => parts.push(file_part(block, &f)?),
            "tool_result" => tools.push(tool_message(block, &f)?),
            other => return Err(TranslateError::Unsupported(format!("{f}: block type {other:?}"))),
        }
    }
    if !parts.is_empty() {
        tools.push(json!({ "role": "user", "content": compact_parts(parts) }));
    }
    Ok(tools)
}

/// A lone text part becomes a plain string, the form every OpenAI upstream accepts.
fn compact_parts(mut parts: Vec<Value>) -> Value {
    if parts.len() == 1 && parts[0].get("type").and_then(Value::as_str) == Some("text") {
        if let Some(text) = parts[0].get_mut("text") {
            return text.take();
        }
    }
    Value::Array(parts)
}

fn image_part(block: &Map<String, Value>, field: &str) -> Result<Value, TranslateError> {
    let src = as_object(
        opt(block, "source").ok_or_else(|| TranslateError::Missing(format!("{field}.source")))?,
        &format!("{field}.source"),
    )?;
    let url = match req_str(src, "type", &format!("{field}.source.type"))? {
        "base64" => {
            let media = req_str(src, "media_type", &format!("{field}.source.media_type"))?;
            let data = req_str(src, "data", &format!("{field}.source.data"))?;
            format!("data:{media};base64,{data}")
        }
        "url" => req_str(src, "url", &format!("{field}.source.url"))?.to_string(),
        other => return Err(TranslateError::Unsupported(format!("{field}: image source {other:?}"))),
    };
    Ok(json!({ "type": "image_url", "image_url": { "url": url } }))
}

/// Base64 PDF documents become OpenAI `file` parts with an inline data URL; other document
/// sources (plain text, URLs, content blocks) are not translated.
fn file_part(block: &Map<String, Value>, field: &str) -> Result<Value, TranslateError> {
    let src = as_object(
        opt(block, "source").ok_or_else(|| TranslateError::Missing(format!("{field}.source")))?,
        &format!("{field}.source"),
    )?;
    let kind = req_str(src, "type", &format!("{field}.source.type"))?;
    let media = req_str(src, "media_type", &format!("{field}.source.media_type"))?;
    if kind != "base64" || media != "application/pdf" {
        return Err(TranslateError::Unsupported(format!("{field}: document source {kind:?} of type {media:?}")));
    }
    let data = req_str(src, "data", &format!("{field}.source.data"))?;
    let mut file = Map::new();
    if let Some(title) = opt_str(block, "title", &format!("{field}.title"))? {
        file.insert("filename".into(), json!(title));
    }
    file.insert("file_data".into(), json!(format!("data:{media};base64,{data}")));
    Ok(json!({ "type": "file", "file": file }))
}

fn tool_message(block: &Map<String, Value>, field: &str) -> Result<Value, TranslateError> {
    let id = req_str(block, "tool_use_id", &format!("{field}.tool_use_id"))?;
    let content = match opt(block, "content") {
        None => Value::String(String::new()),
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Array(items)) => {
            let texts = items
                .iter()
                .enumerate()
                .map(|(k, b)| text_of_block(b, &format!("{field}.content[{k}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Value::String(texts.join("\n"))
        }
        Some(_) => return Err(wrong(format!("{field}.content"), "a string or a list of blocks")),
    };
    Ok(json!({ "role": "tool", "tool_call_id": id, "content": content }))
}

fn assistant_message(blocks: &[Value], field: &str) -> Result<Value, TranslateError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let f = format!("{field}.content[{j}]");
        let block = as_object(b, &f)?;
        match req_str(block, "type", &format!("{f}.type"))? {
            "text" => text.push_str(req_str(block, "text", &format!("{f}.text"))?),
            "tool_use" => calls.push(tool_call(block, &f)?),
            // Earlier turns' reasoning is not replayable to an OpenAI upstream.
            "thinking" | "redacted_thinking" => {}
            other => return Err(TranslateError::Unsupported(format!("{f}: block type {other:?}"))),
        }
    }
    let mut msg = Map::new();
    msg.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) };
    msg.insert("content".into(), content);
    if !calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Value::Object(msg))
}

fn tool_call(block: &Map<String, Value>, field: &str) -> Result<Value, TranslateError> {
    let id = req_str(block, "id", &format!("{field}.id"))?;
    let name = req_str(block, "name", &format!("{field}.name"))?;
    let input = opt(block, "input").cloned().unwrap_or_else(|| json!({}));
    Ok(json!({
        "id": id, "type": "function",
        "function": { "name": name, "arguments": input.to_string() },
    }))
}

fn add_tools(r: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), TranslateError> {
    if let Some(tools) = opt(r, "tools") {
        let tools = tools.as_array().ok_or_else(|| wrong("tools", "an array"))?;
        let converted = tools
            .iter()
            .enumerate()
            .map(|(i, t)| tool_definition(t, &format!("tools[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if !converted.is_empty() {
            out.insert("tools".into(), Value::Array(converted));
        }
    }
    if let Some(choice) = opt(r, "tool_choice") {
        let c = as_object(choice, "tool_choice")?;
        let mapped = match req_str(c, "type", "tool_choice.type")? {
            "auto" => json!("auto"),
            "any" => json!("required"),
            "none" => json!("none"),
            "tool" => {
                json!({ "type": "function", "function": { "name": req_str(c, "name", "tool_choice.name")? } })
            }
            other => return Err(invalid("tool_choice.type", format!("unknown value {other:?}"))),
        };
        out.insert("tool_choice".into(), mapped);
        if opt(c, "disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) {
            out.insert("parallel_tool_calls".into(), json!(false));
        }
    }
    Ok(())
}

/// Client tools (no `type`, or `custom`) become functions; Anthropic server tools (web search,
/// bash, computer use, ...) run inside Anthropic and cannot be offered to another upstream.
fn tool_definition(tool: &Value, field: &str) -> Result<Value, TranslateError> {
    let t = as_object(tool, field)?;
    match opt_str(t, "type", &format!("{field}.type"))? {
        None | Some("custom") => {}
        Some(other) => return Err(TranslateError::Unsupported(format!("{field}: server tool {other:?}"))),
    }
    let mut f = Map::new();
    f.insert("name".into(), json!(req_str(t, "name", &format!("{field}.name"))?));
    if let Some(d) = opt_str(t, "description", &format!("{field}.description"))? {
        f.insert("description".into(), json!(d));
    }
    let schema = opt(t, "input_schema").ok_or_else(|| TranslateError::Missing(format!("{field}.input_schema")))?;
    as_object(schema, &format!("{field}.input_schema"))?;
    f.insert("parameters".into(), schema.clone());
    Ok(json!({ "type": "function", "function": f }))
}

/// An OpenAI `chat.completion` as an Anthropic message object. Infallible by design: whatever the
/// upstream answered, the client gets a well-formed message (missing parts become empty).
/// Tool arguments that are not a JSON object become `{}`, since Anthropic `input` must be one.
pub fn openai_to_messages_response(resp: &Value) -> Value {
    let choice = resp.pointer("/choices/0");
    let message = choice.and_then(|c| c.get("message"));
    let finish = choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str);
    let mut answer = json!({
        "id": resp.get("id").and_then(Value::as_str).unwrap_or("msg_unknown"),
        "type": "message",
        "role": "assistant",
        "model": resp.get("model").and_then(Value::as_str).unwrap_or(""),
        "content": response_blocks(message),
        "stop_reason": stop_reason(finish),
        "stop_sequence": Value::Null,
        "usage": anthropic_usage(resp.get("usage")),
    });
    // The gateway's stamp names the provider that served the call, as OpenRouter's answers do.
    if let Some(provider) = resp.get("provider").filter(|p| p.is_string()) {
        answer["provider"] = provider.clone();
    }
    answer
}

fn response_blocks(message: Option<&Value>) -> Vec<Value> {
    let mut blocks = Vec::new();
    let text = message.and_then(|m| m.get("content")).map(content_text).unwrap_or_default();
    if !text.is_empty() {
        blocks.push(json!({ "type": "text", "text": text }));
    }
    let calls = message.and_then(|m| m.get("tool_calls")).and_then(Value::as_array);
    for call in calls.into_iter().flatten() {
        blocks.push(json!({
            "type": "tool_use",
            "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
            "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
            "input": parse_arguments(call.pointer("/function/arguments")),
        }));
    }
    blocks
}

/// OpenAI message content as plain text: a string, or the text of its text parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    }
}

pub(super) fn parse_arguments(args: Option<&Value>) -> Value {
    match args {
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => v,
            _ => json!({}),
        },
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({}),
    }
}

/// OpenAI `finish_reason` -> Anthropic `stop_reason`.
pub(super) fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI usage -> Anthropic usage; cached prompt tokens move from `input_tokens` to
/// `cache_read_input_tokens`, as Anthropic counts them separately.
pub(super) fn anthropic_usage(usage: Option<&Value>) -> Value {
    let get = |p: &str| count(usage.and_then(|u| u.pointer(p)));
    let cached = get("/prompt_tokens_details/cached_tokens");
    json!({
        "input_tokens": get("/prompt_tokens").saturating_sub(cached),
        "output_tokens": get("/completion_tokens"),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    })
}

/// Anthropic error `type` for an HTTP status, following Anthropic's published table.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Anthropic's error body for a status: `{"type":"error","error":{"type":..., "message":...}}`.
/// For an error during a stream, send it as `event: error` with this body as data.
pub fn error_body(status: u16, message: &str) -> Value {
    json!({
        "type": "error",
        "error": { "type": error_type_for_status(status), "message": message },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(req: Value) -> Value {
        match messages_to_openai(&req) {
            Ok(v) => v,
            Err(e) => panic!("translation failed: {e}"),
        }
    }

    #[test]
    fn system_blocks_messages_and_scalars_map() {
        let out = translate(json!({
            "model": "claude-x", "max_tokens": 256,
            "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
                {"role": "user", "content": [{"type": "text", "text": "Look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
                    {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
            ],
            "stop_sequences": ["STOP"], "temperature": 0.2, "top_k": 5,
            "metadata": {"user_id": "u1"}, "stream": true,
        }));
        assert_eq!(out["model"], "claude-x");
        assert_eq!(out["messages"][0], json!({"role": "system", "content": "A\n\nB"}));
        assert_eq!(out["messages"][1], json!({"role": "user", "content": "Hi"}));
        assert_eq!(out["messages"][2], json!({"role": "assistant", "content": "Hello"}));
        assert_eq!(
            out["messages"][3]["content"],
            json!([{"type": "text", "text": "Look"},
                   {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
                   {"type": "image_url", "image_url": {"url": "https://x/y.png"}}])
        );
        assert_eq!(out["max_tokens"], 256);
        assert_eq!(out["stop"], json!(["STOP"]));
        assert_eq!(out["top_k"], 5);
        assert_eq!(out["user"], "u1");
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn tool_use_and_results_become_tool_calls_and_tool_messages_first() {
        let out = translate(json!({
            "model": "m", "max_tokens": 10,
            "tools": [{"name": "weather", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Bern"}}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "here"},
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "12C"}]}]},
            ],
        }));
        let m = &out["messages"];
        assert_eq!(m[1]["content"], Value::Null);
        assert_eq!(m[1]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Bern\"}");
        assert_eq!(m[2], json!({"role": "tool", "tool_call_id": "toolu_1", "content": "12C"}));
        assert_eq!(m[3], json!({"role": "user", "content": "here"}));
        assert_eq!(
            out["tools"],
            json!([{"type": "function", "function": {"name": "weather", "description": "d", "parameters": {"type": "object"}}}])
        );
        assert_eq!(out["tool_choice"], "required");
        assert_eq!(out["parallel_tool_calls"], false);
    }

    #[test]
    fn tool_choice_variants() {
        for (anthropic, openai) in [
            (json!({"type": "auto"}), json!("auto")),
            (json!({"type": "none"}), json!("none")),
            (json!({"type": "tool", "name": "f"}), json!({"type": "function", "function": {"name": "f"}})),
        ] {
            let out = translate(json!({"model": "m", "messages": [], "tool_choice": anthropic}));
            assert_eq!(out["tool_choice"], openai);
        }
    }

    #[test]
    fn malformed_requests_are_errors() {
        let cases = [
            json!({"messages": []}),
            json!({"model": "m"}),
            json!({"model": "m", "messages": [{"role": "system", "content": "x"}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": 1}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "document"}]}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "server_tool_use"}]}]}),
            json!({"model": "m", "messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            json!({"model": "m", "messages": [], "tools": [{"name": "f"}]}),
            json!({"model": "m", "messages": [], "tool_choice": {"type": "sometimes"}}),
            json!({"model": "m", "messages": [], "stop_sequences": "x"}),
            json!({"model": "m", "messages": [], "system": 3}),
            json!({"model": "m", "messages": [], "max_tokens": -1}),
        ];
        for c in cases {
            assert!(messages_to_openai(&c).is_err(), "accepted {c}");
        }
    }

    #[test]
    fn openai_response_becomes_anthropic_message() {
        let resp = json!({
            "id": "gen-1", "model": "claude-x",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "Checking.",
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "weather", "arguments": "{\"city\":\"Bern\"}"}},
                               {"id": "call_2", "type": "function",
                                "function": {"name": "broken", "arguments": "{oops"}}]}}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37,
                      "prompt_tokens_details": {"cached_tokens": 10}},
        });
        let out = openai_to_messages_response(&resp);
        assert_eq!(out["type"], "message");
        assert_eq!(out["id"], "gen-1");
        assert_eq!(out["content"][0], json!({"type": "text", "text": "Checking."}));
        assert_eq!(
            out["content"][1],
            json!({"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Bern"}})
        );
        assert_eq!(out["content"][2]["input"], json!({}));
        assert_eq!(out["stop_reason"], "tool_use");
        assert_eq!(out["stop_sequence"], Value::Null);
        assert_eq!(out["usage"]["input_tokens"], 20);
        assert_eq!(out["usage"]["cache_read_input_tokens"], 10);
        assert_eq!(out["usage"]["output_tokens"], 7);
    }

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        for (f, s) in [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal")] {
            let resp = json!({"choices": [{"message": {"content": "x"}, "finish_reason": f}]});
            assert_eq!(openai_to_messages_response(&resp)["stop_reason"], s);
        }
        let garbage = openai_to_messages_response(&json!("nope"));
        assert_eq!(garbage["content"], json!([]));
        assert_eq!(garbage["usage"]["input_tokens"], 0);
    }

    #[test]
    fn error_bodies_follow_anthropic_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (529, "overloaded_error"),
        ] {
            let body = error_body(status, "why");
            assert_eq!(body, json!({"type": "error", "error": {"type": kind, "message": "why"}}));
        }
    }
}
