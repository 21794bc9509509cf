//! Forwarding with retries and fallbacks: drives the routing module's attempt loop over the
//! models and providers admission planned (all already allowed by policy), doing the I/O for
//! each attempt. A non-streaming attempt succeeds with a well-formed 2xx JSON body; a streaming one
//! as soon as its first SSE event arrives, because after that bytes reach the client and there is
//! no falling back.

use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt;
use rand::SeedableRng;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};

use super::exchange::{Endpoint, Exchange, ModelRoute};
use super::record::{attempt, sha256_hex};
use super::sse::{SseEvent, SseParser};
use super::stamp::RawAnswer;
use super::{ApiError, AppState};
use crate::audit::Attempt;
use crate::offer::Candidate;
use crate::providers::anthropic::StreamTranslator;
use crate::providers::openai::{body_error, UpstreamApi};
use crate::providers::wire::Answer;
use crate::providers::{Upstream, UpstreamError};
use crate::routing::{parse_retry_after, AttemptLoop, ErrorKind, Next, StopReason};

pub type ByteStream = futures_util::stream::BoxStream<'static, Result<Bytes, reqwest::Error>>;

/// What a successful attempt produced.
pub enum Delivery {
    /// An OpenAI-format answer split into its members, to be stamped without a tree.
    Raw(RawAnswer),
    Json(Value),
    /// An open upstream stream: its first data event, the parser holding the rest of what was read,
    /// and the translator of its events when the provider does not send OpenAI chunks.
    Stream {
        stream: ByteStream,
        parser: SseParser,
        first: String,
        translator: Option<StreamTranslator>,
    },
}

/// The successful attempt and where it went.
pub struct Success {
    /// Which of the exchange's routes (models) answered.
    pub route_index: usize,
    pub candidate: Candidate,
    pub delivery: Delivery,
    /// When the successful attempt was sent.
    pub sent_at: Instant,
}

impl Success {
    /// The route (model) that answered.
    pub fn route<'e>(&self, ex: &'e Exchange) -> &'e ModelRoute {
        &ex.routes[self.route_index]
    }
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
    let body =
        upstream.encode_request(&route.body, &candidate.upstream_model, ex.is_streaming()).map_err(|e| Failure {
            status: None,
            kind: ErrorKind::InvalidResponse,
            retry_after: None,
            error: ApiError::bad_request(format!("{} cannot take this request: {e}", upstream.name())),
        })?;
    let sha256 = sha256_hex(&body);
    Ok((body, sha256))
}

/// A non-streaming answer in OpenAI form: split into its members when the provider speaks
/// OpenAI (stamped without a tree), else the translated tree.
fn read_answer(upstream: &Upstream, status: u16, bytes: Bytes) -> Result<Delivery, Failure> {
    match upstream.read_answer(bytes).map_err(|e| Failure::invalid(status, e.to_string()))? {
        Answer::OpenAi(bytes) => match RawAnswer::parse(bytes.clone()) {
            Some(raw) => Ok(Delivery::Raw(raw)),
            None => match serde_json::from_slice::<Value>(&bytes) {
                Ok(json) if json.is_object() => Ok(Delivery::Json(json)),
                _ => Err(Failure::invalid(status, format!("{} returned a malformed answer", upstream.name()))),
            },
        },
        Answer::Translated(json) => Ok(Delivery::Json(json)),
    }
}

/// Send one attempt and judge its answer.
async fn attempt_once(
    ex: &Exchange,
    route_index: usize,
    upstream: &Upstream,
    body: Bytes,
    timeout: Duration,
) -> Result<Delivery, Failure> {
    let provider = upstream.name();
    let api = match ex.endpoint {
        Endpoint::Chat => UpstreamApi::Chat,
        Endpoint::Embeddings => UpstreamApi::Embeddings,
    };
    let work = async {
        let response = upstream.post(api, body, None, &ex.key.team).await.map_err(Failure::transport)?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let bytes = response.bytes().await.unwrap_or_default();
            let error = upstream_error(provider, status, upstream.error_detail(status, &bytes));
            return Err(Failure { status: Some(status), kind: ErrorKind::Status, retry_after, error });
        }
        if ex.is_streaming() {
            let mut stream: ByteStream = response.bytes_stream().boxed();
            let mut parser = SseParser::default();
            let first = first_event(&mut stream, &mut parser).await.map_err(|m| Failure::invalid(status, m))?;
            let translator = upstream.stream_translator(&ex.routes[route_index].model);
            return Ok(Delivery::Stream { stream, parser, first, translator });
        }
        let bytes = response.bytes().await.map_err(|e| Failure::transport(body_error(provider, e)))?;
        read_answer(upstream, status, bytes)
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
pub async fn forward(state: &AppState, ex: &Exchange, attempts: &mut Vec<Attempt>) -> Result<Success, ApiError> {
    // Seeded from the thread's generator: no getrandom syscall per request (ThreadRng itself is
    // not Send, and this future is held across awaits).
    let mut rng =
        rand::rngs::StdRng::from_rng(rand::thread_rng()).unwrap_or_else(|_| rand::rngs::StdRng::from_entropy());
    let mut tries = AttemptLoop::new(state.retry.clone(), ex.started);
    let mut last_error: Option<ApiError> = None;
    for (route_index, route) in ex.routes.iter().enumerate() {
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
                Ok((body, sha256)) => (sha256, attempt_once(ex, route_index, upstream, body, ticket.timeout).await),
                Err(f) => (sha256_hex(b""), Err(f)),
            };
            let billed_to = upstream.bills_team(&ex.key.team).then(|| format!("team:{}", ex.key.team));
            match sent {
                Ok(delivery) => {
                    attempts.push(Attempt { billed_to, ..attempt(candidate, sent_at, Some(200), None, body_sha256) });
                    tries.succeeded(&state.health, Instant::now(), completion_tokens(&delivery));
                    return Ok(Success { route_index, candidate: candidate.clone(), delivery, sent_at });
                }
                Err(f) => {
                    let tried = attempt(candidate, sent_at, f.status, Some(f.error.message.clone()), body_sha256);
                    attempts.push(Attempt { billed_to, ..tried });
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

/// The client's error for an upstream's error answer, keeping the upstream's message.
fn upstream_error(provider: &str, status: u16, detail: String) -> ApiError {
    let message = format!("{provider} answered {status}: {detail}");
    let (code_status, code) = match status {
        400 | 422 => (axum::http::StatusCode::BAD_REQUEST, "upstream_bad_request"),
        413 => (axum::http::StatusCode::PAYLOAD_TOO_LARGE, "upstream_request_too_large"),
        429 => (axum::http::StatusCode::TOO_MANY_REQUESTS, "upstream_rate_limited"),
        _ => (axum::http::StatusCode::BAD_GATEWAY, "upstream_error"),
    };
    let mut err = ApiError::upstream(code_status, code, message);
    if code_status == axum::http::StatusCode::BAD_REQUEST {
        err.kind = "invalid_request_error";
    }
    err.with_metadata(serde_json::json!({"provider_name": provider, "upstream_status": status}))
}
