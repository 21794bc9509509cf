//! `POST /v1/chat/completions`: admit the request (pipeline), then try the allowed providers in
//! order until one answers. Non-streaming answers are completed (id, provider, cost, restored
//! pseudonyms), recorded durably, then sent; streaming answers go through the SSE relay.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::net::SocketAddr;

use super::forward::{self, Delivery};
use super::pipeline::{self, Dialect, Endpoint, Exchange, ModelRoute};
use super::stamp::{self, Facts, Stamp};
use super::{relay, ApiError, AppState};
use crate::accounting::Generation;
use crate::audit::{Attempt, ResponseRecord, Usage};
use crate::providers::anthropic;
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
        Ok(exchange) if exchange.is_streaming() => relay::stream(state.clone(), exchange).await,
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

/// Finish the upstream answer for the client: our generation id, the public model, the provider,
/// the cost, the original values in place of pseudonyms, and the client's dialect; serialized.
fn finish_tree(
    ex: &Exchange,
    route: &ModelRoute,
    candidate: &Candidate,
    mut json: Value,
) -> Result<(Vec<u8>, Facts), ApiError> {
    let (usage, cost) = stamp::stamp_value(&mut json, &stamp_of(ex, route, candidate), &candidate.price);
    if !route.pseudonyms.is_empty() {
        route.pseudonyms.restore_response(&mut json);
    }
    let finish_reason = stamp::finish_reason_of(&json);
    if ex.dialect == Dialect::Anthropic {
        json = anthropic::openai_to_messages_response(&json);
    }
    let mut bytes = Vec::with_capacity(1024); // a typical answer; saves the growth from 128 bytes
    serde_json::to_writer(&mut bytes, &json).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((bytes, Facts { usage, cost, finish_reason }))
}

fn stamp_of<'a>(ex: &'a Exchange, route: &'a ModelRoute, candidate: &'a Candidate) -> Stamp<'a> {
    Stamp { id: &ex.generation_id, model: &route.model, provider: &candidate.provider.name }
}

/// The answer for the client, stamped without a tree when nothing else in it changes.
fn finish_answer(
    ex: &Exchange,
    route: &ModelRoute,
    candidate: &Candidate,
    delivery: Delivery,
) -> Result<(Vec<u8>, Facts), ApiError> {
    match delivery {
        Delivery::Raw(raw) if ex.dialect == Dialect::OpenAi && route.pseudonyms.is_empty() => {
            Ok(raw.stamp(&stamp_of(ex, route, candidate), &candidate.price))
        }
        Delivery::Raw(raw) => finish_tree(ex, route, candidate, raw.into_value()),
        Delivery::Json(json) => finish_tree(ex, route, candidate, json),
        Delivery::Stream { .. } => Err(ApiError::internal("a stream answered a non-streaming request")),
    }
}

/// A header value taking the string's buffer (no copy); an invalid one becomes empty.
fn header_value(v: String) -> HeaderValue {
    HeaderValue::try_from(v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Non-streaming exchange: the response entry is durable before the client sees the answer.
pub async fn complete(state: &AppState, ex: Exchange) -> Result<Response, ApiError> {
    let mut attempts = Vec::new();
    let success = match forward::forward(state, &ex, &mut attempts).await {
        Ok(s) => s,
        Err(err) => {
            let rec = failure_record(&ex, attempts, &err);
            pipeline::record_response(state, rec, |_| {}).await.map_err(|e| e.with_entry(ex.request_seq))?;
            return Err(err.with_entry(ex.request_seq));
        }
    };
    let upstream_ms = success.sent_at.elapsed().as_secs_f64() * 1000.0;
    let (route, candidate) = (success.route, success.candidate);
    let (bytes, facts) = finish_answer(&ex, route, &candidate, success.delivery)?;
    let Facts { usage, cost, finish_reason } = facts;
    let outcome = Outcome { usage, cost, finish_reason, streamed: false, cancelled: false };
    let sha256 = pipeline::sha256_hex(&bytes);
    let rec = answer_record(&ex, attempts, &candidate.provider.name, &route.model, &outcome, None, sha256);
    let late = late_settlement(state, &ex, &candidate, &route.model, &outcome, upstream_ms);
    let response_seq = pipeline::record_response(state, rec, late).await.map_err(|e| e.with_entry(ex.request_seq))?;
    // Charged as recorded: the response entry with its cost is durable.
    settle(state, &ex, &candidate, &route.model, outcome, upstream_ms, Some(response_seq));
    pipeline::store_body(state, ex.request_seq, "response", &bytes, ex.body_hold_years)
        .await
        .map_err(|_| ApiError::audit_unavailable_after_forward(true).with_entry(ex.request_seq))?;
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("x-auditgate-entry", HeaderValue::from(ex.request_seq));
    h.insert("x-auditgate-response-entry", HeaderValue::from(response_seq));
    h.insert("x-auditgate-cost", header_value(format!("{cost:.8}")));
    h.insert("x-generation-id", header_value(ex.generation_id.clone()));
    Ok(response)
}

/// The response entry of an exchange that got an answer, whole or streamed; `error` says why a
/// stream ended early.
pub fn answer_record(
    ex: &Exchange,
    attempts: Vec<Attempt>,
    provider: &str,
    model: &str,
    outcome: &Outcome,
    error: Option<String>,
    response_sha256: String,
) -> ResponseRecord {
    ResponseRecord {
        request_seq: ex.request_seq,
        generation_id: ex.generation_id.clone(),
        attempts,
        provider: Some(provider.to_string()),
        model: Some(model.to_string()),
        status: 200,
        usage: outcome.usage.clone(),
        cost_usd: Some(outcome.cost),
        finish_reason: outcome.finish_reason.clone(),
        error,
        streamed: outcome.streamed,
        cancelled: outcome.cancelled,
        latency_ms: ex.started.elapsed().as_secs_f64() * 1000.0,
        response_sha256,
    }
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
    let usage = outcome.usage.clone().unwrap_or_default();
    tracing::info!(
        generation = %ex.generation_id, key = %ex.key.id, model, provider = %candidate.provider.name,
        region = %candidate.provider.region, entry = ex.request_seq, streamed = outcome.streamed,
        cancelled = outcome.cancelled, prompt_tokens = usage.prompt_tokens,
        completion_tokens = usage.completion_tokens, cost_usd = outcome.cost,
        latency_ms = ex.started.elapsed().as_secs_f64() * 1000.0, "exchange done"
    );
    if let Some(reservation) = ex.reservation.lock().take() {
        reservation.settle(outcome.cost, usage.total_tokens);
    }
    state.recorder.record(generation_of(ex, candidate, model, &outcome, upstream_ms, response_entry));
}

/// The generation record of a finished exchange.
fn generation_of(
    ex: &Exchange,
    candidate: &Candidate,
    model: &str,
    outcome: &Outcome,
    upstream_ms: f64,
    response_entry: Option<u64>,
) -> Generation {
    let usage = outcome.usage.clone().unwrap_or_default();
    Generation {
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
        finish_reason: outcome.finish_reason.clone(),
        streamed: outcome.streamed,
        cancelled: outcome.cancelled,
        request_entry: ex.request_seq,
        response_entry,
    }
}

/// The charge of an answer whose response entry could not be written in time: run by the audit
/// writer once the entry, marked as withheld, is durable. The upstream charged for the answer,
/// so the key is charged what the log records.
pub fn late_settlement(
    state: &AppState,
    ex: &Exchange,
    candidate: &Candidate,
    model: &str,
    outcome: &Outcome,
    upstream_ms: f64,
) -> impl FnOnce(u64) + Send + 'static {
    let mut generation = generation_of(ex, candidate, model, outcome, upstream_ms, None);
    let recorder = state.recorder.clone();
    let runtime = tokio::runtime::Handle::current();
    move |seq| {
        generation.response_entry = Some(seq);
        // The writer thread is outside the runtime the recorder queues its work on.
        let _entered = runtime.enter();
        recorder.record(generation);
    }
}
