//! A streamed answer for the client: the SSE relay.
//!
//! Providers are tried in order until one sends its first event: only until then can the gateway
//! fall back, because after that bytes have reached the client. From then on each upstream event is
//! relayed as it arrives (never buffered whole): the chunk gets the generation id, the public model
//! and the provider, pseudonyms are restored (also when a placeholder is split across chunks), usage
//! gets its cost. When the upstream ends, the response entry is made durable and only then is
//! `data: [DONE]` sent, so a client that saw the end of a stream knows its record is on disk. If
//! the client goes away, the upstream request is dropped (cancelled) and the entry says so.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use super::exchange::{Dialect, Exchange, ModelRoute, Outcome};
use super::forward::{self, ByteStream, Delivery};
use super::record::{answer_record, failure_record, record_response, store_body};
use super::settle::{late_settlement, settle};
use super::sse::{SseEvent, SseParser};
use super::stamp::{self, ChunkFacts, Stamp};
use super::{ApiError, AppState};
use crate::audit::{Attempt, BodyStorage};
use crate::dialects::completions;
use crate::dialects::responses::ResponsesStreamEncoder;
use crate::offer::{Candidate, Price, Usage};
use crate::pii::StreamRestorer;
use crate::providers::anthropic::{MessagesStreamEncoder, StreamTranslator};
use crate::routing::ErrorKind;

/// State carried from the first event to the end of one relayed stream.
struct Relay {
    generation_id: String,
    public_model: String,
    provider: String,
    price: Price,
    client_wants_usage: bool,
    /// Per (choice index, tool-call index or None for content).
    restorers: HashMap<(u64, Option<u64>), StreamRestorer>,
    route_has_pseudonyms: bool,
    /// Translates an Anthropic upstream's events into OpenAI chunks.
    translator: Option<StreamTranslator>,
    /// Encodes OpenAI chunks in the client's dialect when it is not chat completions.
    encoder: Option<ClientEncoder>,
    usage: Option<Usage>,
    cost: f64,
    finish_reason: Option<String>,
    /// Over every byte of the response body, the closing frames included.
    hasher: Sha256,
    /// The response body, kept only when bodies are stored beside the log.
    kept: Option<Vec<u8>>,
    upstream_error: Option<String>,
}

fn frame(data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 8);
    out.push_str("data: ");
    out.push_str(data);
    out.push_str("\n\n");
    Bytes::from(out)
}

fn named_frame(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// The client's dialect of a stream other than chat completions.
enum ClientEncoder {
    /// Anthropic events for a `/v1/messages` client.
    Messages(Box<MessagesStreamEncoder>),
    /// Typed Responses events for a `/v1/responses` client.
    Responses(Box<ResponsesStreamEncoder>),
    /// `text_completion` chunks for a `/v1/completions` client, ending with `[DONE]` as chat does.
    Completions,
}

impl ClientEncoder {
    fn new(ex: &Exchange, route: &ModelRoute, candidate: &Candidate) -> Option<Self> {
        match ex.dialect {
            Dialect::OpenAi => None,
            Dialect::Anthropic => {
                let encoder =
                    MessagesStreamEncoder::new(&route.model, &ex.generation_id).with_provider(&candidate.provider.name);
                Some(ClientEncoder::Messages(Box::new(encoder)))
            }
            Dialect::Responses => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let encoder = ResponsesStreamEncoder::new(&ex.generation_id, &route.model, now, ex.echo.clone());
                Some(ClientEncoder::Responses(Box::new(encoder)))
            }
            Dialect::Completions => Some(ClientEncoder::Completions),
        }
    }

    /// The frames of one chat chunk.
    fn on_chunk(&mut self, chunk: &Value) -> Vec<Bytes> {
        match self {
            ClientEncoder::Messages(enc) => named_frames(enc.on_chunk(chunk)),
            ClientEncoder::Responses(enc) => named_frames(enc.on_chunk(chunk)),
            ClientEncoder::Completions => vec![frame(&completions::from_chat_chunk(chunk).to_string())],
        }
    }

    /// The closing frames after a complete answer (`error` None), or the error frames after a failure.
    fn closing(&mut self, generation_id: &str, error: Option<&str>) -> Vec<Bytes> {
        match (self, error) {
            (ClientEncoder::Messages(enc), None) => named_frames(enc.finish()),
            (ClientEncoder::Messages(enc), Some(message)) => named_frames(enc.fail(502, message)),
            (ClientEncoder::Responses(enc), None) => named_frames(enc.finish()),
            (ClientEncoder::Responses(enc), Some(message)) => named_frames(enc.fail(message)),
            (ClientEncoder::Completions, error) => chat_closing(generation_id, error),
        }
    }
}

fn named_frames(events: Vec<(&'static str, Value)>) -> Vec<Bytes> {
    events.iter().map(|(name, data)| named_frame(name, data)).collect()
}

/// `[DONE]` after a complete chat (or completions) stream, an OpenAI error frame after a failure.
fn chat_closing(generation_id: &str, error: Option<&str>) -> Vec<Bytes> {
    match error {
        None => vec![Bytes::from_static(b"data: [DONE]\n\n")],
        Some(message) => {
            let mut body = ApiError::upstream(StatusCode::BAD_GATEWAY, "upstream_stream_error", message).body();
            body["id"] = Value::String(generation_id.to_string());
            vec![frame(&body.to_string())]
        }
    }
}

/// What one upstream event produced.
enum Step {
    Frames(Vec<Bytes>),
    /// The upstream said it is done (`[DONE]`, or Anthropic's `message_stop`).
    Done(Vec<Bytes>),
    Failed(String),
}

impl Relay {
    fn new(ex: &Exchange, route: &ModelRoute, candidate: &Candidate, translator: Option<StreamTranslator>) -> Self {
        let client_wants_usage = ex.client_wants_usage;
        let encoder = ClientEncoder::new(ex, route, candidate);
        Relay {
            generation_id: ex.generation_id.clone(),
            public_model: route.model.clone(),
            provider: candidate.provider.name.clone(),
            price: candidate.price,
            client_wants_usage,
            restorers: HashMap::new(),
            route_has_pseudonyms: !route.pseudonyms.is_empty(),
            translator,
            encoder,
            usage: None,
            cost: 0.0,
            finish_reason: None,
            hasher: Sha256::new(),
            kept: None,
            upstream_error: None,
        }
    }

    /// Handle one upstream `data:` payload.
    fn on_data(&mut self, data: &str, route: &ModelRoute) -> Step {
        if self.translator.is_none() && data.trim() == "[DONE]" {
            return Step::Done(Vec::new());
        }
        if let Some(frames) = self.emit_raw(data) {
            return Step::Frames(frames);
        }
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            return Step::Failed("malformed event in upstream stream".into());
        };
        let chunks = match &mut self.translator {
            None => vec![event],
            Some(t) => match t.on_event(&event) {
                Ok(chunks) => chunks,
                Err(e) => return Step::Failed(e.to_string()),
            },
        };
        let mut frames = Vec::new();
        for chunk in chunks {
            frames.extend(self.emit(chunk, route));
        }
        match &self.translator {
            Some(t) if t.is_finished() => Step::Done(frames),
            _ => Step::Frames(frames),
        }
    }

    /// Complete one OpenAI chunk for the client and encode it in the client's dialect.
    fn emit(&mut self, mut chunk: Value, route: &ModelRoute) -> Vec<Bytes> {
        if let Some(err) = chunk.get("error") {
            self.upstream_error = Some(err.to_string());
        }
        let facts = stamp::stamp_chunk_value(&mut chunk, &self.stamp(), &self.price, self.client_wants_usage);
        if self.route_has_pseudonyms {
            self.restore_choices(&mut chunk, route);
        }
        if !self.take(facts) {
            return Vec::new();
        }
        let frames = match &mut self.encoder {
            None => vec![frame(&chunk.to_string())],
            Some(enc) => enc.on_chunk(&chunk),
        };
        self.hash(&frames);
        frames
    }

    /// An OpenAI chunk passed to an OpenAI client with nothing to restore: stamped without a tree
    /// (`stamp.rs`); `None` when the chunk needs the tree.
    fn emit_raw(&mut self, data: &str) -> Option<Vec<Bytes>> {
        if self.translator.is_some() || self.encoder.is_some() || self.route_has_pseudonyms {
            return None;
        }
        let (frame, facts) = stamp::stamp_chunk_raw(data, &self.stamp(), &self.price, self.client_wants_usage)?;
        let frames = if self.take(facts) { vec![Bytes::from(frame)] } else { Vec::new() };
        self.hash(&frames);
        Some(frames)
    }

    fn stamp(&self) -> Stamp<'_> {
        Stamp { id: &self.generation_id, model: &self.public_model, provider: &self.provider }
    }

    /// Keep what a chunk said about the stream; whether the chunk goes to the client.
    fn take(&mut self, facts: ChunkFacts) -> bool {
        if let Some(reason) = facts.finish_reason {
            self.finish_reason = Some(reason);
        }
        if let Some((usage, cost)) = facts.usage {
            self.usage = Some(usage);
            self.cost = cost;
        }
        facts.send
    }

    fn hash(&mut self, frames: &[Bytes]) {
        for f in frames {
            self.hasher.update(f);
            if let Some(kept) = &mut self.kept {
                kept.extend_from_slice(f);
            }
        }
    }

    fn restore_choices(&mut self, chunk: &mut Value, route: &ModelRoute) {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return;
        };
        for choice in choices {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
            let Some(delta) = choice.get_mut("delta") else {
                continue;
            };
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                let r = self.restorers.entry((index, None)).or_insert_with(|| route.pseudonyms.stream_restorer());
                let mut out = r.push(text);
                if finished {
                    out.push_str(&r.finish());
                }
                delta["content"] = Value::String(out);
            } else if finished {
                if let Some(r) = self.restorers.get_mut(&(index, None)) {
                    let rest = r.finish();
                    if !rest.is_empty() {
                        delta["content"] = Value::String(rest);
                    }
                }
            }
            let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) else {
                continue;
            };
            for call in calls {
                let tool = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) else {
                    continue;
                };
                let r = self.restorers.entry((index, Some(tool))).or_insert_with(|| route.pseudonyms.stream_restorer());
                let mut out = r.push(args);
                if finished {
                    out.push_str(&r.finish());
                }
                call["function"]["arguments"] = Value::String(out);
            }
        }
    }

    /// Text still held back by restorers when the stream ends without a finish chunk.
    fn flush(&mut self, route: &ModelRoute) -> Vec<Bytes> {
        let mut pending = String::new();
        for ((_, tool), r) in self.restorers.iter_mut() {
            if tool.is_none() {
                pending.push_str(&r.finish());
            }
        }
        if pending.is_empty() {
            return Vec::new();
        }
        let chunk = serde_json::json!({"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": pending}, "finish_reason": null}]});
        let route_has_pseudonyms = std::mem::replace(&mut self.route_has_pseudonyms, false);
        let frames = self.emit(chunk, route);
        self.route_has_pseudonyms = route_has_pseudonyms;
        frames
    }

    /// The frames that end the stream: `[DONE]` (or Anthropic's closing events) after a complete
    /// answer, an error event after a failure. Hashed here, sent after the record is durable.
    fn closing(&mut self, error: Option<&str>) -> Vec<Bytes> {
        let frames = match &mut self.encoder {
            None => chat_closing(&self.generation_id, error),
            Some(enc) => enc.closing(&self.generation_id, error),
        };
        self.hash(&frames);
        frames
    }
}

/// Start relaying a streaming exchange; errors before the first event are ordinary JSON errors.
pub async fn stream(state: AppState, ex: Exchange) -> Result<Response, ApiError> {
    let mut attempts = Vec::new();
    let success = match forward::forward(&state, &ex, &mut attempts).await {
        Ok(s) => s,
        Err(err) => {
            let rec = failure_record(&ex, attempts, &err);
            record_response(&state, rec, |_| {}).await.map_err(|e| e.with_entry(ex.request_seq))?;
            return Err(err.with_entry(ex.request_seq));
        }
    };
    let route_index = success.route_index;
    let Delivery::Stream { stream, parser, first, translator } = success.delivery else {
        return Err(ApiError::internal("a JSON answer arrived for a streaming request"));
    };
    let mut relay = Relay::new(&ex, &ex.routes[route_index], &success.candidate, translator);
    if state.config.audit.store_bodies != BodyStorage::None {
        relay.kept = Some(Vec::new());
    }
    // The first event is relayed here, before the response head is returned: hyper then finds it
    // ready and writes head and event in one write, instead of the head alone and the event after
    // the relay task has run.
    let (ready, early_end) = relay_event(&mut relay, &first, &ex.routes[route_index]);
    let opened =
        Opened { route_index, candidate: success.candidate, attempts, stream, parser, early_end, t0: success.sent_at };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let mut headers = axum::http::HeaderMap::new();
    ex.put_headers(&mut headers);
    tokio::spawn(pump(state, ex, opened, relay, tx));
    let rest = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let body = futures_util::stream::iter(ready.into_iter().map(Ok)).chain(rest);
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    h.extend(headers);
    Ok(response.into_response())
}

/// An upstream stream that sent its first event, with what is needed to relay the rest.
struct Opened {
    route_index: usize,
    candidate: Candidate,
    attempts: Vec<Attempt>,
    stream: ByteStream,
    parser: SseParser,
    /// Set when the first event, relayed with the response head, already ended the stream.
    early_end: Option<End>,
    t0: Instant,
}

/// Relay one upstream event: its frames, and how the stream ended if that event ended it.
fn relay_event(relay: &mut Relay, data: &str, route: &ModelRoute) -> (Vec<Bytes>, Option<End>) {
    match relay.on_data(data, route) {
        Step::Frames(frames) => (frames, None),
        Step::Done(frames) => (frames, Some(End::Done)),
        Step::Failed(e) => (Vec::new(), Some(End::UpstreamFailed(e))),
    }
}

/// How the relay loop ended.
enum End {
    Done,
    UpstreamEof,
    UpstreamFailed(String),
    ClientGone,
    TimedOut,
}

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Send frames in order; false when the client is gone.
async fn send_all(tx: &Sender, frames: Vec<Bytes>) -> bool {
    for f in frames {
        if tx.send(Ok(f)).await.is_err() {
            return false;
        }
    }
    true
}

async fn pump(state: AppState, ex: Exchange, opened: Opened, mut relay: Relay, tx: Sender) {
    let Opened { route_index, candidate, attempts, stream: mut upstream, mut parser, early_end, t0 } = opened;
    let route = &ex.routes[route_index];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(state.config.upstream_timeout_secs);
    let end = match early_end {
        Some(end) => end,
        None => 'relay: loop {
            while let Some(ev) = parser.next_event() {
                let SseEvent::Data(data) = ev else { continue };
                let (frames, end) = relay_event(&mut relay, &data, route);
                if !send_all(&tx, frames).await {
                    break 'relay End::ClientGone;
                }
                if let Some(end) = end {
                    break 'relay end;
                }
            }
            tokio::select! {
                _ = tx.closed() => break End::ClientGone,
                _ = tokio::time::sleep_until(deadline) => break End::TimedOut,
                next = upstream.next() => match next {
                    Some(Ok(bytes)) => parser.push(&bytes),
                    Some(Err(e)) => break End::UpstreamFailed(format!("upstream stream broke: {e}")),
                    None => break End::UpstreamEof,
                },
            }
        },
    };
    // Drop the upstream connection now: for a departed client this cancels the upstream request.
    drop(upstream);
    if matches!(end, End::UpstreamFailed(_) | End::UpstreamEof | End::TimedOut) {
        // No fallback once bytes reached the client, but the provider's health still learns of it.
        let kind = if matches!(end, End::TimedOut) { ErrorKind::Timeout } else { ErrorKind::Connect };
        state.health.record_failure(&candidate.provider.name, Instant::now(), None, kind);
    }
    finish(state, &ex, route_index, candidate, relay, Ended { attempts, end, t0 }, tx).await;
}

/// How and when a relayed stream ended.
struct Ended {
    attempts: Vec<Attempt>,
    end: End,
    t0: Instant,
}

async fn finish(
    state: AppState,
    ex: &Exchange,
    route_index: usize,
    candidate: Candidate,
    mut relay: Relay,
    ended: Ended,
    tx: Sender,
) {
    let Ended { attempts, end, t0 } = ended;
    let route = &ex.routes[route_index];
    let cancelled = matches!(end, End::ClientGone);
    let error = match end {
        End::Done | End::ClientGone => relay.upstream_error.clone(),
        End::UpstreamEof => Some("upstream stream ended before it was complete".to_string()),
        End::UpstreamFailed(e) => Some(e),
        End::TimedOut => Some("upstream stream exceeded the time limit".to_string()),
    };
    let mut closing = Vec::new();
    if !cancelled {
        // Held-back text goes out now; the closing frames only once the record is durable.
        let _ = send_all(&tx, relay.flush(route)).await;
        let own_error = error.as_deref().filter(|_| relay.upstream_error.is_none());
        closing = if error.is_some() && own_error.is_none() { Vec::new() } else { relay.closing(own_error) };
    }
    let upstream_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let outcome = Outcome {
        usage: relay.usage.take(),
        cost: relay.cost,
        finish_reason: relay.finish_reason.take(),
        streamed: true,
        cancelled,
    };
    let sha256 = hex::encode(relay.hasher.clone().finalize());
    let rec = answer_record(ex, attempts, &candidate.provider.name, &route.model, &outcome, error, sha256);
    let late = late_settlement(&state, ex, &candidate, &route.model, &outcome, upstream_ms);
    match record_response(&state, rec, late).await {
        Ok(seq) => {
            // Charged as recorded: the response entry with its cost is durable.
            settle(&state, ex, &candidate, &route.model, outcome, upstream_ms, Some(seq));
            if let Some(kept) = relay.kept.take() {
                // Redaction needs the text whole: a value split over chunks is invisible in frames.
                let kept = if state.config.audit.store_bodies == BodyStorage::Redacted {
                    assemble_stream(&kept)
                } else {
                    kept
                };
                if let Err(e) = store_body(&state, ex.request_seq, "response", &kept, ex.body_hold_years).await {
                    let _ = tx.send(Ok(frame(&e.body().to_string()))).await;
                    return;
                }
            }
            let _ = send_all(&tx, closing).await;
        }
        Err(err) => {
            // The record of this answer could not be made durable: end the stream with an error
            // instead of its closing frames, so the client does not take it for a recorded answer.
            let _ = tx.send(Ok(frame(&err.body().to_string()))).await;
        }
    }
}

/// The text of a `text_completion` chunk or of a Responses text or arguments event, added to
/// `content` or `tools`; false for an event of another dialect.
fn completions_or_responses_piece(v: &Value, content: &mut String, tools: &mut Vec<String>) -> bool {
    if let Some(text) = v.pointer("/choices/0/text").and_then(Value::as_str) {
        content.push_str(text);
        return true;
    }
    match v.get("type").and_then(Value::as_str) {
        Some("response.output_text.delta") => content.push_str(v.get("delta").and_then(Value::as_str).unwrap_or("")),
        Some("response.function_call_arguments.done") => {
            tools.push(v.get("arguments").and_then(Value::as_str).unwrap_or("").to_string())
        }
        Some(kind) => return kind.starts_with("response."),
        None => return false,
    }
    true
}

/// The text a stream carried, reassembled from its frames (OpenAI chunks, Anthropic events,
/// `text_completion` chunks or Responses events):
/// `{"streamed": true, "content": ..., "tool_arguments": [...]}`.
fn assemble_stream(frames: &[u8]) -> Vec<u8> {
    let mut parser = SseParser::default();
    parser.push(frames);
    let mut content = String::new();
    let mut tools: Vec<String> = Vec::new();
    while let Some(event) = parser.next_event() {
        let SseEvent::Data(data) = event else { continue };
        let Ok(v) = serde_json::from_str::<Value>(&data) else { continue };
        if completions_or_responses_piece(&v, &mut content, &mut tools) {
            continue;
        }
        let delta = v.pointer("/choices/0/delta").or_else(|| v.get("delta"));
        let Some(delta) = delta else { continue };
        if let Some(t) = delta.get("content").or_else(|| delta.get("text")).and_then(Value::as_str) {
            content.push_str(t);
        }
        let pieces = delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten();
        for call in pieces {
            let i = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            if tools.len() <= i {
                tools.resize(i + 1, String::new());
            }
            tools[i].push_str(call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or(""));
        }
        if let Some(json) = delta.get("partial_json").and_then(Value::as_str) {
            tools.push(json.to_string());
        }
    }
    serde_json::to_vec(&serde_json::json!({"streamed": true, "content": content, "tool_arguments": tools}))
        .unwrap_or_default()
}
