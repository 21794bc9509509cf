//! The built-in demo upstream: a small OpenAI-compatible server on loopback, so a fresh install
//! answers `demo/echo` without any provider account.
//!
//! It speaks the real wire format: `POST /v1/chat/completions` as JSON or as SSE chunks (role chunk,
//! content chunks, finish chunk, usage chunk when `stream_options.include_usage`, `data: [DONE]`), and
//! `POST /v1/embeddings`. It answers by echoing the last user text; when tools are offered and the
//! last message is not a tool result, it calls a tool instead, so a tool round trip can be tried.
//! It honours what a real provider does with the common parameters, so clients can be tried
//! without an account: `response_format` (`json_object`: a JSON object; `json_schema`: a value that
//! fits the schema), `n` choices, `stop` sequences, `max_tokens` / `max_completion_tokens` (the
//! answer cut at that many words, `finish_reason: "length"`) and `tool_choice` (`none`, `auto`,
//! `required`, a named function).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the demo says it is, in responses.
#[derive(Clone)]
struct DemoState {
    name: String,
}

/// Start a demo upstream on 127.0.0.1 with an ephemeral port; returns its base URL (`.../v1`).
pub async fn spawn(name: &str) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let app = router(name);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "demo upstream stopped");
        }
    });
    Ok(format!("http://{addr}/v1"))
}

fn router(name: &str) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .with_state(DemoState { name: name.to_string() })
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "code": null}});
    (status, Json(body)).into_response()
}

/// Rough token count: words and punctuation runs. Good enough for a demo's usage numbers.
fn count_tokens(text: &str) -> u64 {
    text.split_whitespace().count().max(1) as u64
}

/// All text of one message's content (string or text parts).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    }
}

fn prompt_tokens(messages: &[Value]) -> u64 {
    messages.iter().map(|m| count_tokens(&content_text(m.get("content").unwrap_or(&Value::Null)))).sum()
}

/// What the demo decides to say.
enum Reply {
    /// The text and why it ended (`stop`, or `length` when cut at the completion limit).
    Text(String, &'static str),
    ToolCall {
        name: String,
        arguments: String,
    },
}

/// The `n` answers (at least one, at most 8) to a request.
fn replies(req: &Value, messages: &[Value]) -> Vec<Reply> {
    let n = req.get("n").and_then(Value::as_u64).unwrap_or(1).clamp(1, 8);
    (0..n).map(|_| limited(req, decide_reply(req, messages))).collect()
}

/// Text cut at the first `stop` sequence, then at the completion limit (in the demo's tokens,
/// words); `finish_reason` says which ended it, as a provider's does.
fn limited(req: &Value, reply: Reply) -> Reply {
    let Reply::Text(mut text, _) = reply else {
        return reply;
    };
    let stops: Vec<&str> = match req.get("stop") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if let Some(at) = stops.iter().filter(|s| !s.is_empty()).filter_map(|s| text.find(s)).min() {
        text.truncate(at);
    }
    let limit = ["max_completion_tokens", "max_tokens"].iter().find_map(|k| req.get(*k).and_then(Value::as_u64));
    match limit {
        Some(max) if count_tokens(&text) > max => {
            let words: Vec<&str> = text.split_inclusive(char::is_whitespace).take(max as usize).collect();
            Reply::Text(words.concat().trim_end().to_string(), "length")
        }
        _ => Reply::Text(text, "stop"),
    }
}

/// `response_format`: the user's text as a JSON object, or as a value fitting the schema.
fn formatted(req: &Value, user_text: &str) -> Option<String> {
    let format = req.get("response_format")?;
    let value = match format.get("type").and_then(Value::as_str)? {
        "json_object" => json!({ "echo": user_text }),
        "json_schema" => fitting(format.pointer("/json_schema/schema").unwrap_or(&Value::Null), user_text, 0),
        _ => return None,
    };
    Some(value.to_string())
}

/// A value that fits a JSON schema: every property of an object (required or not), one item of
/// an array, the first `enum` value or the `const`, the user's text for strings; `$ref`, `anyOf`
/// and `oneOf` take their first branch. Deep schemas stop at depth 16 with `null`.
fn fitting(schema: &Value, user_text: &str, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    for branch in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema.get(branch).and_then(Value::as_array).and_then(|b| b.first()) {
            return fitting(first, user_text, depth + 1);
        }
    }
    let kind = match schema.get("type") {
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        Some(t) => t.as_str(),
        None if schema.get("properties").is_some() => Some("object"),
        None => None,
    };
    match kind {
        Some("object") => {
            let props = schema.get("properties").and_then(Value::as_object);
            let fields = props.into_iter().flatten().map(|(k, p)| (k.clone(), fitting(p, user_text, depth + 1)));
            Value::Object(fields.collect())
        }
        Some("array") => {
            let item = fitting(schema.get("items").unwrap_or(&Value::Null), user_text, depth + 1);
            let least = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1).max(1);
            Value::Array(vec![item; least.min(8) as usize])
        }
        Some("integer") | Some("number") => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        _ => json!(user_text),
    }
}

fn decide_reply(req: &Value, messages: &[Value]) -> Reply {
    let last = messages.last();
    let last_role = last.and_then(|m| m.get("role")).and_then(Value::as_str).unwrap_or("");
    if last_role == "tool" {
        let result = content_text(last.and_then(|m| m.get("content")).unwrap_or(&Value::Null));
        return Reply::Text(format!("The tool returned: {result}"), "stop");
    }
    let user_text = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    if let Some(tool) = chosen_tool(req) {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or("tool").to_string();
        let arguments = tool_arguments(tool.get("parameters"), &user_text);
        return Reply::ToolCall { name, arguments };
    }
    match formatted(req, &user_text) {
        Some(json) => Reply::Text(json, "stop"),
        None => Reply::Text(format!("echo: {user_text}"), "stop"),
    }
}

/// The function the demo calls: the one `tool_choice` names, else the first (`auto` and
/// `required` alike: the demo always has a use for a tool), unless `none`.
fn chosen_tool(req: &Value) -> Option<&Value> {
    let tools = req.get("tools")?.as_array()?;
    let choice = req.get("tool_choice");
    if choice.and_then(Value::as_str) == Some("none") {
        return None;
    }
    let wanted = choice.and_then(|c| c.pointer("/function/name")).and_then(Value::as_str);
    tools
        .iter()
        .filter_map(|t| t.get("function"))
        .find(|f| wanted.is_none() || f.get("name").and_then(Value::as_str) == wanted)
}

/// Fill every required string property of the tool's JSON schema with the user's text.
fn tool_arguments(schema: Option<&Value>, user_text: &str) -> String {
    let mut args = serde_json::Map::new();
    if let Some(props) = schema.and_then(|s| s.get("properties")).and_then(Value::as_object) {
        for (key, prop) in props {
            let value = match prop.get("type").and_then(Value::as_str) {
                Some("number") | Some("integer") => json!(1),
                Some("boolean") => json!(true),
                _ => json!(user_text),
            };
            args.insert(key.clone(), value);
        }
    }
    Value::Object(args).to_string()
}

async fn chat(State(state): State<DemoState>, body: axum::body::Bytes) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
    };
    let Some(messages) = req.get("messages").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "messages is required");
    };
    let model = req.get("model").and_then(Value::as_str).unwrap_or("echo").to_string();
    let answers = replies(&req, messages);
    let prompt = prompt_tokens(messages);
    let id = format!("chatcmpl-demo-{}", &hex::encode(Sha256::digest(&body))[..16]);
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = req.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        return stream_reply(&id, &model, answers, prompt, include_usage);
    }
    Json(complete_reply(&state, &id, &model, answers, prompt)).into_response()
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn complete_reply(state: &DemoState, id: &str, model: &str, answers: Vec<Reply>, prompt: u64) -> Value {
    let mut completion = 0;
    let choices: Vec<Value> = answers
        .into_iter()
        .enumerate()
        .map(|(index, reply)| {
            let (message, finish, n) = match reply {
                Reply::Text(text, finish) => {
                    let n = count_tokens(&text);
                    (json!({"role": "assistant", "content": text}), finish, n)
                }
                Reply::ToolCall { name, arguments } => {
                    let n = count_tokens(&arguments);
                    let call = json!({"id": format!("call_{}_{index}", &id[id.len() - 8..]), "type": "function",
                                      "function": {"name": name, "arguments": arguments}});
                    (json!({"role": "assistant", "content": null, "tool_calls": [call]}), "tool_calls", n)
                }
            };
            completion += n;
            json!({"index": index, "message": message, "logprobs": null, "finish_reason": finish})
        })
        .collect();
    json!({
        "id": id, "object": "chat.completion", "created": now_secs(), "model": model,
        "system_fingerprint": format!("fp_{}", state.name),
        "choices": choices,
        "usage": usage(prompt, completion),
    })
}

fn chunk(id: &str, model: &str, index: usize, delta: Value, finish: Option<&str>) -> Value {
    json!({"id": id, "object": "chat.completion.chunk", "created": now_secs(), "model": model,
           "choices": [{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}]})
}

/// The chunks of one choice: role, content pieces or a tool call in two halves, the finish; and
/// the completion tokens it used.
fn choice_chunks(id: &str, model: &str, index: usize, reply: Reply, events: &mut Vec<Value>) -> u64 {
    events.push(chunk(id, model, index, json!({"role": "assistant", "content": ""}), None));
    let (finish, completion) = match reply {
        Reply::Text(text, finish) => {
            // One chunk per word (with its following space) so clients see real incremental output.
            for piece in text.split_inclusive(' ') {
                events.push(chunk(id, model, index, json!({"content": piece}), None));
            }
            (finish, count_tokens(&text))
        }
        Reply::ToolCall { name, arguments } => {
            let call_id = format!("call_{}_{index}", &id[id.len() - 8..]);
            let head = json!({"tool_calls": [{"index": 0, "id": call_id, "type": "function",
                                "function": {"name": name, "arguments": ""}}]});
            events.push(chunk(id, model, index, head, None));
            let mid = arguments.len() / 2;
            let split = (0..=mid).rev().find(|i| arguments.is_char_boundary(*i)).unwrap_or(0);
            for part in [&arguments[..split], &arguments[split..]] {
                let delta = json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]});
                events.push(chunk(id, model, index, delta, None));
            }
            ("tool_calls", count_tokens(&arguments))
        }
    };
    events.push(chunk(id, model, index, json!({}), Some(finish)));
    completion
}

fn stream_reply(id: &str, model: &str, answers: Vec<Reply>, prompt: u64, include_usage: bool) -> Response {
    let mut events = Vec::new();
    let mut completion = 0;
    for (index, reply) in answers.into_iter().enumerate() {
        completion += choice_chunks(id, model, index, reply, &mut events);
    }
    if include_usage {
        let mut last = chunk(id, model, 0, json!({}), None);
        last["choices"] = json!([]);
        last["usage"] = usage(prompt, completion);
        events.push(last);
    }
    let mut body = String::new();
    for e in events {
        body.push_str("data: ");
        body.push_str(&e.to_string());
        body.push_str("\n\n");
    }
    body.push_str("data: [DONE]\n\n");
    let stream = futures_util::stream::iter(
        body.split_inclusive("\n\n")
            .map(|s| Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(s.to_string())))
            .collect::<Vec<_>>(),
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A deterministic 8-dimensional embedding derived from the text's hash.
fn embed(text: &str) -> Vec<f32> {
    Sha256::digest(text.as_bytes())
        .chunks(4)
        .map(|c| (u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64 / u32::MAX as f64 * 2.0 - 1.0) as f32)
        .collect()
}

async fn embeddings(body: axum::body::Bytes) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
    };
    let inputs: Vec<String> = match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect()
        }
        _ => return error(StatusCode::BAD_REQUEST, "input is required"),
    };
    let tokens: u64 = inputs.iter().map(|s| count_tokens(s)).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"object": "embedding", "index": i, "embedding": embed(s)}))
        .collect();
    let model = req.get("model").and_then(Value::as_str).unwrap_or("echo");
    Json(json!({"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_last_user_text() {
        let req = json!({"messages": [{"role": "user", "content": "hello there"}]});
        let msgs = req["messages"].as_array().unwrap();
        match decide_reply(&req, msgs) {
            Reply::Text(t, _) => assert_eq!(t, "echo: hello there"),
            Reply::ToolCall { .. } => panic!("no tools were offered"),
        }
    }

    #[test]
    fn calls_named_tool_with_schema_arguments() {
        let req = json!({
            "messages": [{"role": "user", "content": "Zurich"}],
            "tools": [
                {"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {}}}},
                {"type": "function", "function": {"name": "weather", "parameters": {"type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}
            ],
            "tool_choice": {"type": "function", "function": {"name": "weather"}}
        });
        let msgs = req["messages"].as_array().unwrap();
        match decide_reply(&req, msgs) {
            Reply::ToolCall { name, arguments } => {
                assert_eq!(name, "weather");
                let args: Value = serde_json::from_str(&arguments).unwrap();
                assert_eq!(args, json!({"city": "Zurich", "days": 1}));
            }
            Reply::Text(t, _) => panic!("expected a tool call, got {t}"),
        }
    }

    #[test]
    fn answers_tool_result() {
        let req = json!({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c", "content": "21C"}],
                         "tools": [{"type": "function", "function": {"name": "w"}}]});
        let msgs = req["messages"].as_array().unwrap();
        assert!(matches!(decide_reply(&req, msgs), Reply::Text(t, _) if t.contains("21C")));
    }

    fn texts(req: &Value) -> Vec<(String, &'static str)> {
        let msgs = req["messages"].as_array().unwrap();
        replies(req, msgs)
            .into_iter()
            .map(|r| match r {
                Reply::Text(t, finish) => (t, finish),
                Reply::ToolCall { .. } => panic!("no tools were offered"),
            })
            .collect()
    }

    #[test]
    fn json_modes_answer_json_that_fits_the_schema() {
        let mut req = json!({"messages": [{"role": "user", "content": "Anna"}],
                             "response_format": {"type": "json_object"}});
        let (text, _) = texts(&req).remove(0);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({"echo": "Anna"}));
        req["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "p", "strict": true, "schema": {
        "type": "object", "required": ["name", "age", "tags", "kind", "address"],
        "properties": {
            "name": {"type": "string"}, "age": {"type": "integer", "minimum": 18},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["client", "supplier"]},
            "address": {"type": ["object", "null"], "properties": {"city": {"type": "string"}}},
        }}}});
        let (text, _) = texts(&req).remove(0);
        let expected =
            json!({"name": "Anna", "age": 18, "tags": ["Anna"], "kind": "client", "address": {"city": "Anna"}});
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
    }

    #[test]
    fn n_stop_and_the_completion_limit_are_honoured() {
        let mut req = json!({"messages": [{"role": "user", "content": "one two three four"}], "n": 3});
        assert_eq!(texts(&req).len(), 3);
        req["stop"] = json!(["three"]);
        assert_eq!(texts(&req)[0], ("echo: one two ".to_string(), "stop"));
        req["stop"] = Value::Null;
        req["max_tokens"] = json!(2);
        assert_eq!(texts(&req)[0], ("echo: one".to_string(), "length"));
    }
}
