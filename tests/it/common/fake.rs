//! A fake OpenAI-compatible upstream on 127.0.0.1 whose behaviour each test sets, and which records
//! every request body it receives (to prove what did, and did not, leave the gateway).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the fake answers.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// A normal completion echoing the last user message (JSON or SSE as asked).
    Echo,
    /// This status with this body.
    Status(u16, String),
    /// 200 with a body that is not JSON.
    Malformed,
    /// Wait, then echo.
    Slow(Duration),
    /// Stream `n` content chunks, one every `interval`, then finish (for cancellation tests).
    SlowStream { chunks: usize, interval: Duration },
    /// Stream two chunks then break the connection without [DONE].
    BrokenStream,
    /// Send these exact SSE content pieces (to test restoring split placeholders).
    Pieces(Vec<String>),
    /// 307 Temporary Redirect to this URL (a client following it would re-send the body there).
    Redirect(String),
}

#[derive(Default)]
pub struct Record {
    pub bodies: Mutex<Vec<Value>>,
    /// The headers of each chat completions request.
    pub chat_headers: Mutex<Vec<axum::http::HeaderMap>>,
    /// The `anthropic-version` header of each Messages API request.
    pub anthropic_versions: Mutex<Vec<String>>,
    /// Streams whose client (the gateway) went away before the end.
    pub disconnects: AtomicUsize,
    pub finished_streams: AtomicUsize,
}

#[derive(Clone)]
pub struct FakeUpstream {
    pub base_url: String,
    pub record: Arc<Record>,
    behavior: Arc<Mutex<Behavior>>,
}

#[derive(Clone)]
struct FakeState {
    record: Arc<Record>,
    behavior: Arc<Mutex<Behavior>>,
}

impl FakeUpstream {
    pub async fn start(behavior: Behavior) -> FakeUpstream {
        let record = Arc::new(Record::default());
        let behavior = Arc::new(Mutex::new(behavior));
        let state = FakeState { record: record.clone(), behavior: behavior.clone() };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/messages", post(anthropic_messages))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeUpstream { base_url: format!("http://{addr}/v1"), record, behavior }
    }

    pub fn set(&self, behavior: Behavior) {
        *self.behavior.lock().unwrap() = behavior;
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.record.bodies.lock().unwrap().clone()
    }

    pub fn hits(&self) -> usize {
        self.record.bodies.lock().unwrap().len()
    }
}

fn last_user_text(req: &Value) -> String {
    req["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string()
}

fn completion(req: &Value, text: &str) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": req["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

fn chunk(model: &Value, delta: Value, finish: Option<&str>) -> String {
    let c = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

fn usage_chunk(model: &Value) -> String {
    let c = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
                   "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}});
    format!("data: {c}\n\n")
}

fn sse(stream: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static) -> Response {
    Response::builder().header(header::CONTENT_TYPE, "text/event-stream").body(Body::from_stream(stream)).unwrap()
}

/// Counts a disconnect if dropped before `done` is set.
struct StreamGuard {
    record: Arc<Record>,
    done: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.done {
            self.record.finished_streams.fetch_add(1, Ordering::SeqCst);
        } else {
            self.record.disconnects.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn stream_pieces(
    req: &Value,
    pieces: Vec<String>,
    interval: Duration,
    record: Arc<Record>,
    complete: bool,
) -> Response {
    let model = req["model"].clone();
    let include_usage = req.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
    let s = async_stream(move |tx| async move {
        let mut guard = StreamGuard { record, done: false };
        let _ = tx.send(chunk(&model, json!({"role": "assistant", "content": ""}), None)).await;
        for p in pieces {
            tokio::time::sleep(interval).await;
            if tx.send(chunk(&model, json!({"content": p}), None)).await.is_err() {
                return;
            }
        }
        if !complete {
            guard.done = true;
            let _ = tx.send("BREAK".into()).await;
            return;
        }
        let _ = tx.send(chunk(&model, json!({}), Some("stop"))).await;
        if include_usage {
            let _ = tx.send(usage_chunk(&model)).await;
        }
        let _ = tx.send("data: [DONE]\n\n".into()).await;
        // Wait until the receiver drops us after [DONE] so "done" is not counted as a disconnect.
        guard.done = true;
    });
    sse(s)
}

/// A tiny channel-backed stream: the producer sends SSE text; "BREAK" ends it with an I/O error.
fn async_stream<F, Fut>(producer: F) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    tokio::spawn(producer(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        if item == "BREAK" {
            return Some((Err(std::io::Error::other("connection reset by fake")), rx));
        }
        Some((Ok(Bytes::from(item)), rx))
    })
}

async fn chat(State(state): State<FakeState>, headers: axum::http::HeaderMap, body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.record.bodies.lock().unwrap().push(req.clone());
    state.record.chat_headers.lock().unwrap().push(headers);
    let behavior = state.behavior.lock().unwrap().clone();
    let stream = req["stream"] == Value::Bool(true);
    let text = format!("echo: {}", last_user_text(&req));
    match behavior {
        Behavior::Status(code, body) => {
            (StatusCode::from_u16(code).unwrap(), [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Behavior::Redirect(to) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response(),
        Behavior::Malformed => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"choices\": [").into_response()
        }
        Behavior::Slow(d) => {
            tokio::time::sleep(d).await;
            axum::Json(completion(&req, &text)).into_response()
        }
        Behavior::SlowStream { chunks, interval } => {
            let pieces = (0..chunks).map(|i| format!("part{i} ")).collect();
            stream_pieces(&req, pieces, interval, state.record.clone(), true)
        }
        Behavior::BrokenStream => {
            stream_pieces(&req, vec!["a ".into(), "b ".into()], Duration::ZERO, state.record.clone(), false)
        }
        Behavior::Pieces(pieces) if stream => stream_pieces(&req, pieces, Duration::ZERO, state.record.clone(), true),
        Behavior::Pieces(pieces) => axum::Json(completion(&req, &pieces.concat())).into_response(),
        Behavior::Echo if stream => {
            let pieces = text.split_inclusive(' ').map(str::to_string).collect();
            stream_pieces(&req, pieces, Duration::ZERO, state.record.clone(), true)
        }
        Behavior::Echo => axum::Json(completion(&req, &text)).into_response(),
    }
}

async fn embeddings(State(state): State<FakeState>, body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.record.bodies.lock().unwrap().push(req.clone());
    let n = match &req["input"] {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let data: Vec<Value> =
        (0..n).map(|i| json!({"object": "embedding", "index": i, "embedding": [0.1, 0.2]})).collect();
    axum::Json(json!({"object": "list", "data": data, "model": req["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}}))
        .into_response()
}

fn anthropic_text(req: &Value) -> String {
    let last = req["messages"].as_array().and_then(|m| m.iter().rev().find(|m| m["role"] == "user"));
    match last.map(|m| &m["content"]) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

fn anthropic_event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// Anthropic's Messages API: JSON or its named SSE events; `Status` behaviours answer Anthropic errors.
async fn anthropic_messages(State(state): State<FakeState>, headers: axum::http::HeaderMap, body: Bytes) -> Response {
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.record.bodies.lock().unwrap().push(req.clone());
    let version = headers.get("anthropic-version").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    state.record.anthropic_versions.lock().unwrap().push(version);
    if let Behavior::Status(code, message) = state.behavior.lock().unwrap().clone() {
        let err = json!({"type": "error", "error": {"type": "overloaded_error", "message": message}});
        return (StatusCode::from_u16(code).unwrap(), axum::Json(err)).into_response();
    }
    let text = format!("echo: {}", anthropic_text(&req));
    if req["stream"] != Value::Bool(true) {
        return axum::Json(json!({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": req["model"],
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 6}
        }))
        .into_response();
    }
    let mut events = vec![
        anthropic_event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message",
            "role": "assistant", "model": req["model"], "content": [], "stop_reason": null,
            "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ),
        anthropic_event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        anthropic_event("ping", json!({"type": "ping"})),
    ];
    for piece in text.split_inclusive(' ') {
        events.push(anthropic_event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    events.push(anthropic_event("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
    events.push(anthropic_event(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 6}}),
    ));
    events.push(anthropic_event("message_stop", json!({"type": "message_stop"})));
    let stream = futures_util::stream::iter(events.into_iter().map(|e| Ok::<_, std::io::Error>(Bytes::from(e))));
    sse(stream)
}
