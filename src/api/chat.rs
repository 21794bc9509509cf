//! `POST /v1/chat/completions`: admit the request (pipeline), then try the allowed providers in
//! order until one answers. Non-streaming answers are completed (id, provider, cost, restored
//! pseudonyms), recorded durably, then sent; streaming answers go through the SSE relay.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::pipeline::{self, Endpoint, Exchange, ModelRoute};
use super::{relay, ApiError, AppState};
use crate::accounting::cost::{cost_usd, usage_from_json};
use crate::accounting::Generation;
use crate::audit::{Attempt, ResponseRecord, Usage};
use crate::providers::openai::body_error;
use crate::routing::Candidate;

pub async fn chat_completions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match proxy(&state, peer, &headers, body, Endpoint::Chat).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Shared by chat and embeddings: admit, then forward.
pub async fn proxy(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    endpoint: Endpoint,
) -> Result<Response, ApiError> {
    let result = match pipeline::admit(state, peer, headers, body, endpoint).await {
        Ok(exchange) if exchange.stream && endpoint == Endpoint::Chat => {
            relay::stream(state.clone(), exchange).await
        }
        Ok(exchange) => complete(state, exchange).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        // Operational log: status and code only, never request content.
        tracing::info!(
            endpoint = endpoint.as_str(),
            status = e.status.as_u16(),
            code = e.code,
            entry = e.entry,
            "request refused"
        );
    }
    result
}

/// A successful upstream answer, parsed.
struct Answer<'a> {
    route: &'a ModelRoute,
    candidate: &'a Candidate,
    json: Value,
    upstream_ms: f64,
}

/// The outcome of trying every allowed provider.
enum Tried<'a> {
    Answered(Answer<'a>),
    /// A client error from upstream: trying other providers with the same body would not help.
    Fatal(ApiError),
    Exhausted(ApiError),
}

fn total_timeout(state: &AppState) -> Duration {
    Duration::from_secs(state.config.upstream_timeout_secs)
}

/// Try providers in order, model after model, until one gives a well-formed 2xx answer.
async fn try_providers<'a>(
    state: &AppState,
    ex: &'a Exchange,
    attempts: &mut Vec<Attempt>,
) -> Tried<'a> {
    let mut last_error = ApiError::upstream(
        StatusCode::BAD_GATEWAY,
        "upstream_error",
        "no provider answered",
    );
    for route in &ex.routes {
        for candidate in &route.candidates {
            let Some(upstream) = state.upstreams.get(&candidate.provider.name) else {
                continue;
            };
            let body = pipeline::upstream_body(&route.body, &candidate.upstream_model, false);
            let t0 = Instant::now();
            let sent = upstream
                .post(
                    ex.endpoint.upstream_path(),
                    body.clone(),
                    Some(total_timeout(state)),
                )
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    attempts.push(pipeline::attempt(
                        candidate,
                        t0,
                        None,
                        Some(e.to_string()),
                        &body,
                    ));
                    last_error = ApiError::upstream(
                        StatusCode::BAD_GATEWAY,
                        "upstream_unreachable",
                        e.to_string(),
                    );
                    if !ex.allow_fallbacks {
                        return Tried::Exhausted(last_error);
                    }
                    continue;
                }
            };
            let status = response.status().as_u16();
            let bytes = match response.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    let e = body_error(&candidate.provider.name, e);
                    attempts.push(pipeline::attempt(
                        candidate,
                        t0,
                        Some(status),
                        Some(e.to_string()),
                        &body,
                    ));
                    last_error = ApiError::upstream(
                        StatusCode::BAD_GATEWAY,
                        "upstream_error",
                        e.to_string(),
                    );
                    continue;
                }
            };
            if (200..300).contains(&status) {
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(json) if json.is_object() => {
                        attempts.push(pipeline::attempt(candidate, t0, Some(status), None, &body));
                        let upstream_ms = t0.elapsed().as_secs_f64() * 1000.0;
                        return Tried::Answered(Answer {
                            route,
                            candidate,
                            json,
                            upstream_ms,
                        });
                    }
                    _ => {
                        let msg =
                            format!("{} returned a malformed answer", candidate.provider.name);
                        attempts.push(pipeline::attempt(
                            candidate,
                            t0,
                            Some(status),
                            Some(msg.clone()),
                            &body,
                        ));
                        last_error = ApiError::upstream(
                            StatusCode::BAD_GATEWAY,
                            "upstream_invalid_response",
                            msg,
                        );
                    }
                }
            } else {
                let err = pipeline::upstream_error(&candidate.provider.name, status, &bytes);
                attempts.push(pipeline::attempt(
                    candidate,
                    t0,
                    Some(status),
                    Some(err.message.clone()),
                    &body,
                ));
                if !pipeline::retryable_status(status) {
                    return Tried::Fatal(err);
                }
                last_error = err;
            }
            if !ex.allow_fallbacks {
                return Tried::Exhausted(last_error);
            }
        }
    }
    Tried::Exhausted(last_error)
}

/// Finish the upstream answer for the client: our generation id, the public model, the provider,
/// the cost, and the original values in place of pseudonyms.
fn finish_answer(ex: &Exchange, answer: &mut Answer<'_>) -> (Option<Usage>, f64) {
    let json = &mut answer.json;
    json["id"] = Value::String(ex.generation_id.clone());
    json["model"] = Value::String(answer.route.model.clone());
    json["provider"] = Value::String(answer.candidate.provider.name.clone());
    let usage = json.get("usage").and_then(usage_from_json);
    let cost = usage
        .as_ref()
        .map(|u| cost_usd(&answer.candidate.price, u))
        .unwrap_or(0.0);
    if let Some(u) = json.get_mut("usage").and_then(Value::as_object_mut) {
        u.insert("cost".into(), serde_json::json!(cost));
    }
    if !answer.route.pseudonyms.is_empty() {
        answer.route.pseudonyms.restore_response(json);
    }
    (usage, cost)
}

fn header_value(v: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&v.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Non-streaming exchange: the response entry is durable before the client sees the answer.
async fn complete(state: &AppState, ex: Exchange) -> Result<Response, ApiError> {
    let mut attempts = Vec::new();
    let tried = try_providers(state, &ex, &mut attempts).await;
    let mut answer = match tried {
        Tried::Answered(a) => a,
        Tried::Fatal(err) | Tried::Exhausted(err) => {
            let rec = failure_record(&ex, attempts, &err);
            pipeline::record_response(state, rec).await?;
            return Err(err.with_entry(ex.request_seq));
        }
    };
    let (usage, cost) = finish_answer(&ex, &mut answer);
    let finish_reason = answer
        .json
        .pointer("/choices/0/finish_reason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let bytes = serde_json::to_vec(&answer.json).map_err(|e| ApiError::internal(e.to_string()))?;
    let rec = ResponseRecord {
        request_seq: ex.request_seq,
        generation_id: ex.generation_id.clone(),
        attempts,
        provider: Some(answer.candidate.provider.name.clone()),
        model: Some(answer.route.model.clone()),
        status: 200,
        usage: usage.clone(),
        cost_usd: Some(cost),
        finish_reason: finish_reason.clone(),
        error: None,
        streamed: false,
        cancelled: false,
        latency_ms: ex.started.elapsed().as_secs_f64() * 1000.0,
        response_sha256: pipeline::sha256_hex(&bytes),
    };
    let response_seq = pipeline::record_response(state, rec).await?;
    let outcome = Outcome {
        usage,
        cost,
        finish_reason,
        streamed: false,
        cancelled: false,
    };
    settle(
        state,
        &ex,
        answer.candidate,
        &answer.route.model,
        outcome,
        answer.upstream_ms,
        Some(response_seq),
    );
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("x-auditgate-entry", header_value(ex.request_seq));
    h.insert("x-auditgate-response-entry", header_value(response_seq));
    h.insert("x-auditgate-cost", header_value(format!("{cost:.8}")));
    h.insert("x-generation-id", header_value(&ex.generation_id));
    Ok(response)
}

/// The response entry of an exchange that got no answer.
pub fn failure_record(ex: &Exchange, attempts: Vec<Attempt>, err: &ApiError) -> ResponseRecord {
    ResponseRecord {
        request_seq: ex.request_seq,
        generation_id: ex.generation_id.clone(),
        attempts,
        status: err.status.as_u16(),
        error: Some(err.message.clone()),
        streamed: ex.stream,
        latency_ms: ex.started.elapsed().as_secs_f64() * 1000.0,
        response_sha256: pipeline::sha256_hex(&serde_json::to_vec(&err.body()).unwrap_or_default()),
        ..Default::default()
    }
}

/// What a finished exchange cost and how it ended.
pub struct Outcome {
    pub usage: Option<Usage>,
    pub cost: f64,
    pub finish_reason: Option<String>,
    pub streamed: bool,
    pub cancelled: bool,
}

/// Charge the key and keep the generation record, off the request path.
pub fn settle(
    state: &AppState,
    ex: &Exchange,
    candidate: &Candidate,
    model: &str,
    outcome: Outcome,
    upstream_ms: f64,
    response_entry: Option<u64>,
) {
    let usage = outcome.usage.unwrap_or_default();
    tracing::info!(
        generation = %ex.generation_id, key = %ex.key.id, model, provider = %candidate.provider.name,
        region = %candidate.provider.region, entry = ex.request_seq, streamed = outcome.streamed,
        cancelled = outcome.cancelled, prompt_tokens = usage.prompt_tokens,
        completion_tokens = usage.completion_tokens, cost_usd = outcome.cost,
        latency_ms = ex.started.elapsed().as_secs_f64() * 1000.0, "exchange done"
    );
    let generation = Generation {
        id: ex.generation_id.clone(),
        key_id: ex.key.id.clone(),
        model: model.to_string(),
        provider_name: Some(candidate.provider.name.clone()),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        tokens_prompt: usage.prompt_tokens,
        tokens_completion: usage.completion_tokens,
        total_cost: outcome.cost,
        latency: ex.started.elapsed().as_secs_f64() * 1000.0,
        generation_time: upstream_ms,
        finish_reason: outcome.finish_reason,
        streamed: outcome.streamed,
        cancelled: outcome.cancelled,
        request_entry: ex.request_seq,
        response_entry,
    };
    let accounts = state.accounts.clone();
    let key_id = ex.key.id.clone();
    let charged = outcome.cost > 0.0;
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = accounts.record_generation(&generation) {
            tracing::warn!(error = %e, "generation record not stored");
        }
        if charged {
            if let Err(e) = accounts.add_usage(&key_id, generation.total_cost) {
                tracing::warn!(error = %e, "key usage not updated");
            }
            state.keys.invalidate(&key_id);
        }
    });
}
