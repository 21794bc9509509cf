//! The built-in demo upstream: a small OpenAI-compatible server on loopback, so a fresh install
//! answers `demo/echo` without any provider account.
//!
//! It speaks the real wire format: `POST /v1/chat/completions` as JSON or as SSE chunks (role chunk,
//! content chunks, finish chunk, usage chunk when `stream_options.include_usage`, `data: [DONE]`), and
//! `POST /v1/embeddings`. It answers by echoing the last user text; when tools are offered and the
//! last message is not a tool result, it calls a tool instead, so a tool round trip can be tried.

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
    Text(String),
    ToolCall { name: String, arguments: String },
}

fn decide_reply(req: &Value, messages: &[Value]) -> Reply {
    let last = messages.last();
    let last_role = last.and_then(|m| m.get("role")).and_then(Value::as_str).unwrap_or("");
    if last_role == "tool" {
        let result = content_text(last.and_then(|m| m.get("content")).unwrap_or(&Value::Null));
        return Reply::Text(format!("The tool returned: {result}"));
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
    Reply::Text(format!("echo: {user_text}"))
}

/// The function the demo calls: the one `tool_choice` names, else the first, unless `none`.
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
    let reply = decide_reply(&req, messages);
    let prompt = prompt_tokens(messages);
    let id = format!("chatcmpl-demo-{}", &hex::encode(Sha256::digest(&body))[..16]);
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = req.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
        return stream_reply(&id, &model, reply, prompt, include_usage);
    }
    Json(complete_reply(&state, &id, &model, reply, prompt)).into_response()
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn complete_reply(state: &DemoState, id: &str, model: &str, reply: Reply, prompt: u64) -> Value {
    let (message, finish, completion) = match reply {
        Reply::Text(text) => {
            let n = count_tokens(&text);
            (json!({"role": "assistant", "content": text}), "stop", n)
        }
        Reply::ToolCall { name, arguments } => {
            let n = count_tokens(&arguments);
            let call = json!({"id": format!("call_{}", &id[id.len() - 8..]), "type": "function",
                              "function": {"name": name, "arguments": arguments}});
            (json!({"role": "assistant", "content": null, "tool_calls": [call]}), "tool_calls", n)
        }
    };
    json!({
        "id": id, "object": "chat.completion", "created": now_secs(), "model": model,
        "system_fingerprint": format!("fp_{}", state.name),
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage(prompt, completion),
    })
}

fn chunk(id: &str, model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({"id": id, "object": "chat.completion.chunk", "created": now_secs(), "model": model,
           "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
}

fn stream_reply(id: &str, model: &str, reply: Reply, prompt: u64, include_usage: bool) -> Response {
    let mut events = vec![chunk(id, model, json!({"role": "assistant", "content": ""}), None)];
    let (finish, completion) = match reply {
        Reply::Text(text) => {
            // One chunk per word (with its following space) so clients see real incremental output.
            for piece in text.split_inclusive(' ') {
                events.push(chunk(id, model, json!({"content": piece}), None));
            }
            ("stop", count_tokens(&text))
        }
        Reply::ToolCall { name, arguments } => {
            let call_id = format!("call_{}", &id[id.len() - 8..]);
            let head = json!({"tool_calls": [{"index": 0, "id": call_id, "type": "function",
                                "function": {"name": name, "arguments": ""}}]});
            events.push(chunk(id, model, head, None));
            let mid = arguments.len() / 2;
            let split = (0..=mid).rev().find(|i| arguments.is_char_boundary(*i)).unwrap_or(0);
            for part in [&arguments[..split], &arguments[split..]] {
                let delta = json!({"tool_calls": [{"index": 0, "function": {"arguments": part}}]});
                events.push(chunk(id, model, delta, None));
            }
            ("tool_calls", count_tokens(&arguments))
        }
    };
    events.push(chunk(id, model, json!({}), Some(finish)));
    if include_usage {
        let mut last = chunk(id, model, json!({}), None);
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
            Reply::Text(t) => assert_eq!(t, "echo: hello there"),
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
            Reply::Text(t) => panic!("expected a tool call, got {t}"),
        }
    }

    #[test]
    fn answers_tool_result() {
        let req = json!({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c", "content": "21C"}],
                         "tools": [{"type": "function", "function": {"name": "w"}}]});
        let msgs = req["messages"].as_array().unwrap();
        assert!(matches!(decide_reply(&req, msgs), Reply::Text(t) if t.contains("21C")));
    }
}
