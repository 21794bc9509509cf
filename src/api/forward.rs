//! Forwarding with retries and fallbacks: drives the routing module's attempt loop over the
//! models and providers the pipeline planned (all already allowed by policy), doing the I/O for
//! each attempt. A non-streaming attempt succeeds with a well-formed 2xx JSON body; a streaming one
//! as soon as its first SSE event arrives, because after that bytes reach the client and there is
//! no falling back.

use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt;
use rand::SeedableRng;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};

use super::pipeline::{self, Exchange, ModelRoute};
use super::relay::{SseEvent, SseParser};
use super::stamp::RawAnswer;
use super::{ApiError, AppState};
use crate::audit::Attempt;
use crate::providers::openai::{body_error, UpstreamApi};
use crate::providers::{anthropic, Upstream, UpstreamError};
use crate::routing::{parse_retry_after, AttemptLoop, Candidate, ErrorKind, Next, StopReason};

pub type ByteStream = futures_util::stream::BoxStream<'static, Result<Bytes, reqwest::Error>>;

/// What a successful attempt produced.
pub enum Delivery {
    /// An OpenAI-format answer split into its members, to be stamped without a tree.
    Raw(RawAnswer),
    Json(Value),
    /// An open upstream stream: its first data event, the parser holding the rest of what was read.
    /// `anthropic` streams carry Messages API events that the relay translates.
    Stream {
        stream: ByteStream,
        parser: SseParser,
        first: String,
        anthropic: bool,
    },
}

/// The successful attempt and where it went.
pub struct Success<'a> {
    pub route: &'a ModelRoute,
    pub candidate: Candidate,
    pub delivery: Delivery,
    /// When the successful attempt was sent.
    pub sent_at: Instant,
}

/// Why one attempt failed.
struct Failure {
    status: Option<u16>,
    kind: ErrorKind,
    retry_after: Option<Duration>,
    error: ApiError,
}

impl Failure {
    fn transport(e: UpstreamError) -> Failure {
        let kind = match e {
            UpstreamError::Timeout { .. } => ErrorKind::Timeout,
            UpstreamError::Connect { .. } => ErrorKind::Connect,
            UpstreamError::Other { .. } | UpstreamError::Config { .. } => ErrorKind::Connect,
        };
        let (status, code) = match kind {
            ErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
            _ => (StatusCode::BAD_GATEWAY, "upstream_unreachable"),
        };
        Failure { status: None, kind, retry_after: None, error: ApiError::upstream(status, code, e.to_string()) }
    }

    fn invalid(status: u16, message: String) -> Failure {
        Failure {
            status: Some(status),
            kind: ErrorKind::InvalidResponse,
            retry_after: None,
            error: ApiError::upstream(StatusCode::BAD_GATEWAY, "upstream_invalid_response", message),
        }
    }
}

/// The request body in the provider's own dialect.
fn encode_body(upstream: &Upstream, template: &Value, upstream_model: &str, streaming: bool) -> Result<Bytes, Failure> {
    if !upstream.speaks_anthropic() {
        return Ok(pipeline::upstream_body(template, upstream_model, streaming));
    }
    let openai = pipeline::upstream_value(template, upstream_model);
    let translated = anthropic::to_anthropic_request(&openai, upstream_model).map_err(|e| Failure {
        status: None,
        kind: ErrorKind::InvalidResponse,
        retry_after: None,
        error: ApiError::bad_request(format!("{} cannot take this request: {e}", upstream.name())),
    })?;
    Ok(Bytes::from(serde_json::to_vec(&translated).unwrap_or_default()))
}

/// The body of one attempt and its SHA-256: the one encoded for the request entry when the attempt
/// is the planned first one, otherwise encoded now.
fn body_for(
    ex: &Exchange,
    upstream: &Upstream,
    route: &ModelRoute,
    candidate: &Candidate,
) -> Result<(Bytes, String), Failure> {
    if let Some(first) = &ex.first_body {
        let same = first.model == route.model
            && first.provider == candidate.provider.name
            && first.upstream_model == candidate.upstream_model;
        if same {
            return Ok((first.bytes.clone(), first.sha256.clone()));
        }
    }
    let body = encode_body(upstream, &route.body, &candidate.upstream_model, ex.is_streaming())?;
    let sha256 = pipeline::sha256_hex(&body);
    Ok((body, sha256))
}

/// The body one provider gets, or None when its dialect cannot express the request.
pub fn encode_for(upstream: &Upstream, template: &Value, upstream_model: &str, streaming: bool) -> Option<Bytes> {
    encode_body(upstream, template, upstream_model, streaming).ok()
}

/// A non-streaming answer in OpenAI form.
fn decode_answer(upstream: &Upstream, status: u16, bytes: &[u8]) -> Result<Value, Failure> {
    let malformed = || Failure::invalid(status, format!("{} returned a malformed answer", upstream.name()));
    let json: Value = serde_json::from_slice(bytes).map_err(|_| malformed())?;
    if !json.is_object() {
        return Err(malformed());
    }
    if upstream.speaks_anthropic() {
        return anthropic::from_anthropic_response(&json).map_err(|e| Failure::invalid(status, e.to_string()));
    }
    Ok(json)
}

/// Send one attempt and judge its answer.
async fn attempt_once(ex: &Exchange, upstream: &Upstream, body: Bytes, timeout: Duration) -> Result<Delivery, Failure> {
    let provider = upstream.name();
    let api = match ex.endpoint {
        pipeline::Endpoint::Chat => UpstreamApi::Chat,
        pipeline::Endpoint::Embeddings => UpstreamApi::Embeddings,
    };
    let work = async {
        let response = upstream.post(api, body, None).await.map_err(Failure::transport)?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let bytes = response.bytes().await.unwrap_or_default();
            let error = if upstream.speaks_anthropic() {
                pipeline::upstream_error_text(provider, status, anthropic::error_message(status, &bytes))
            } else {
                pipeline::upstream_error(provider, status, &bytes)
            };
            return Err(Failure { status: Some(status), kind: ErrorKind::Status, retry_after, error });
        }
        if ex.is_streaming() {
            let mut stream: ByteStream = response.bytes_stream().boxed();
            let mut parser = SseParser::default();
            let first = first_event(&mut stream, &mut parser).await.map_err(|m| Failure::invalid(status, m))?;
            return Ok(Delivery::Stream { stream, parser, first, anthropic: upstream.speaks_anthropic() });
        }
        let bytes = response.bytes().await.map_err(|e| Failure::transport(body_error(provider, e)))?;
        if !upstream.speaks_anthropic() {
            if let Some(raw) = RawAnswer::parse(bytes.clone()) {
                return Ok(Delivery::Raw(raw));
            }
        }
        decode_answer(upstream, status, &bytes).map(Delivery::Json)
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Failure::transport(UpstreamError::Timeout { provider: provider.to_string() })),
    }
}

/// Read until the first data event without sending anything to the client. Only that event is
/// taken out of the parser: the client's first byte waits for it alone, and the relay takes the
/// rest of the read from the parser.
async fn first_event(stream: &mut ByteStream, parser: &mut SseParser) -> Result<String, String> {
    loop {
        while let Some(ev) = parser.next_event() {
            if let SseEvent::Data(d) = ev {
                return Ok(d);
            }
        }
        match stream.next().await {
            Some(Ok(bytes)) => parser.push(&bytes),
            Some(Err(e)) => return Err(format!("stream failed before its first event: {e}")),
            None => return Err("stream ended before its first event".into()),
        }
    }
}

fn completion_tokens(delivery: &Delivery) -> u64 {
    match delivery {
        Delivery::Raw(raw) => raw.completion_tokens(),
        Delivery::Json(v) => {
            v.get("usage").and_then(|u| u.get("completion_tokens")).and_then(Value::as_u64).unwrap_or(0)
        }
        Delivery::Stream { .. } => 0,
    }
}

/// Try the planned providers, model after model, with retries, until one succeeds.
/// Every send is appended to `attempts` for the response entry.
pub async fn forward<'a>(
    state: &AppState,
    ex: &'a Exchange,
    attempts: &mut Vec<Attempt>,
) -> Result<Success<'a>, ApiError> {
    // Seeded from the thread's generator: no getrandom syscall per request (ThreadRng itself is
    // not Send, and this future is held across awaits).
    let mut rng =
        rand::rngs::StdRng::from_rng(rand::thread_rng()).unwrap_or_else(|_| rand::rngs::StdRng::from_entropy());
    let mut tries = AttemptLoop::new(state.retry.clone(), ex.started);
    let mut last_error: Option<ApiError> = None;
    for route in &ex.routes {
        tries.start_model(&route.model, route.candidates.clone());
        loop {
            let ticket = match tries.next(&state.health, Instant::now()) {
                Next::Attempt(t) => t,
                Next::ModelExhausted => break,
                Next::Stop(StopReason::TimedOut) => {
                    return Err(ApiError::upstream(
                        StatusCode::GATEWAY_TIMEOUT,
                        "upstream_timeout",
                        "no provider answered within the time limit",
                    ));
                }
                Next::Stop(_) => return Err(last_error.unwrap_or_else(|| ApiError::internal("attempt loop stopped"))),
            };
            if !ticket.delay.is_zero() {
                tokio::time::sleep(ticket.delay).await;
            }
            let candidate = &ticket.candidate;
            let Some(upstream) = state.upstreams.get(&candidate.provider.name) else {
                let missing =
                    UpstreamError::Other { provider: candidate.provider.name.clone(), detail: "not configured".into() };
                tries.failed(&state.health, Instant::now(), None, ErrorKind::Connect, None, &mut rng);
                last_error = Some(Failure::transport(missing).error);
                continue;
            };
            let sent_at = Instant::now();
            let (body_sha256, sent) = match body_for(ex, upstream, route, candidate) {
                Ok((body, sha256)) => (sha256, attempt_once(ex, upstream, body, ticket.timeout).await),
                Err(f) => (pipeline::sha256_hex(b""), Err(f)),
            };
            match sent {
                Ok(delivery) => {
                    attempts.push(pipeline::attempt(candidate, sent_at, Some(200), None, body_sha256));
                    tries.succeeded(&state.health, Instant::now(), completion_tokens(&delivery));
                    return Ok(Success { route, candidate: candidate.clone(), delivery, sent_at });
                }
                Err(f) => {
                    attempts.push(pipeline::attempt(
                        candidate,
                        sent_at,
                        f.status,
                        Some(f.error.message.clone()),
                        body_sha256,
                    ));
                    tries.failed(&state.health, Instant::now(), f.status, f.kind, f.retry_after, &mut rng);
                    last_error = Some(f.error);
                }
            }
        }
    }
    Err(match last_error {
        Some(e) if tries.any_sent() => e,
        _ => ApiError::no_provider("every allowed provider is unavailable (circuit open); nothing was forwarded"),
    })
}
