//! A whole (non-streaming) answer for the client: stamped with our generation id, the public
//! model, the provider and the cost, pseudonyms restored, in the client's dialect. Its response
//! entry is durable before the client sees a byte.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::exchange::{Dialect, Exchange, ModelRoute, Outcome};
use super::forward::{self, Delivery};
use super::stamp::{self, Facts, Stamp};
use super::{record, settle, ApiError, AppState};
use crate::dialects;
use crate::offer::Candidate;
use crate::providers::anthropic;

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
    json = match ex.dialect {
        Dialect::OpenAi => json,
        Dialect::Anthropic => anthropic::openai_to_messages_response(&json),
        Dialect::Completions => dialects::completions::from_chat_answer(&json),
        Dialect::Responses => dialects::responses::from_chat_answer(&json, &ex.echo),
    };
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
            let rec = record::failure_record(&ex, attempts, &err);
            record::record_response(state, rec, |_| {}).await.map_err(|e| e.with_entry(ex.request_seq))?;
            return Err(err.with_entry(ex.request_seq));
        }
    };
    let upstream_ms = success.sent_at.elapsed().as_secs_f64() * 1000.0;
    let route = success.route(&ex);
    let candidate = success.candidate;
    let (bytes, facts) = finish_answer(&ex, route, &candidate, success.delivery)?;
    let Facts { usage, cost, finish_reason } = facts;
    let outcome = Outcome { usage, cost, finish_reason, streamed: false, cancelled: false };
    let sha256 = record::sha256_hex(&bytes);
    let rec = record::answer_record(&ex, attempts, &candidate.provider.name, &route.model, &outcome, None, sha256);
    let late = settle::late_settlement(state, &ex, &candidate, &route.model, &outcome, upstream_ms);
    let response_seq = record::record_response(state, rec, late).await.map_err(|e| e.with_entry(ex.request_seq))?;
    // Charged as recorded: the response entry with its cost is durable.
    settle::settle(state, &ex, &candidate, &route.model, outcome, upstream_ms, Some(response_seq));
    record::store_body(state, ex.request_seq, "response", &bytes, ex.body_hold_years)
        .await
        .map_err(|_| ApiError::audit_unavailable_after_forward(true).with_entry(ex.request_seq))?;
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    ex.put_headers(h);
    h.insert("x-auditgate-response-entry", HeaderValue::from(response_seq));
    h.insert("x-auditgate-cost", header_value(format!("{cost:.8}")));
    Ok(response)
}
