//! Read-only routes: the model list (OpenRouter's shape plus regions), generation look-up, the
//! caller's key, health, and the JSON 404 for unknown paths.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use super::{ApiError, AppState};
use crate::audit::{Record, SystemRecord};
use crate::providers::ModelInfo;

/// Price per token as OpenRouter writes it: a decimal string.
fn per_token(per_mtok: f64) -> String {
    let v = per_mtok / 1_000_000.0;
    let s = format!("{v:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() {
        "0".into()
    } else {
        s.to_string()
    }
}

fn model_json(m: &ModelInfo) -> Value {
    let cheapest = m.candidates.iter().min_by(|a, b| a.price.prompt_per_mtok.total_cmp(&b.price.prompt_per_mtok));
    let pricing = cheapest.map(|c| {
        let mut pricing = json!({
            "prompt": per_token(c.price.prompt_per_mtok),
            "completion": per_token(c.price.completion_per_mtok),
            "request": "0", "image": "0",
        });
        // A cache-read price only where one is configured: none is not "the prompt price".
        if let Some(cached) = c.price.cached_prompt_per_mtok {
            pricing["input_cache_read"] = json!(per_token(cached));
        }
        pricing
    });
    let params: BTreeSet<&str> =
        m.candidates.iter().flat_map(|c| c.supported_parameters.iter().map(String::as_str)).collect();
    let regions: BTreeSet<&str> = m.candidates.iter().map(|c| c.provider.region.as_str()).collect();
    let countries: BTreeSet<&str> = m.candidates.iter().map(|c| c.provider.country.as_str()).collect();
    let providers: Vec<Value> = m
        .candidates
        .iter()
        .map(|c| json!({
            "name": c.provider.name, "region": c.provider.region, "country": c.provider.country,
            "zdr": c.provider.zdr, "data_collection": if c.provider.data_collection { "allow" } else { "deny" },
            "pricing": {"prompt": per_token(c.price.prompt_per_mtok), "completion": per_token(c.price.completion_per_mtok)},
        }))
        .collect();
    json!({
        "id": m.id,
        "canonical_slug": m.id,
        "name": m.name,
        "created": m.created,
        "description": format!("{} served by {} provider(s)", m.name, m.candidates.len()),
        "context_length": m.context_length,
        "architecture": {
            "input_modalities": m.input_modalities,
            "output_modalities": ["text"],
            "modality": format!("{}->text", m.input_modalities.join("+")),
            "tokenizer": "Other",
        },
        "pricing": pricing,
        "top_provider": {"context_length": m.context_length, "max_completion_tokens": m.max_completion_tokens, "is_moderated": false},
        "supported_parameters": params,
        "regions": regions,
        "countries": countries,
        "providers": providers,
        "object": "model",
        "owned_by": m.id.split('/').next().unwrap_or("auditgate"),
    })
}

pub async fn models(State(state): State<AppState>) -> Json<Value> {
    let data: Vec<Value> = state.catalog.models().map(model_json).collect();
    Json(json!({ "object": "list", "data": data }))
}

#[derive(Deserialize)]
pub struct GenerationQuery {
    id: Option<String>,
}

pub async fn generation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<GenerationQuery>,
) -> Response {
    let result = async {
        let key = state.keys.authenticate(&headers)?;
        let id = q.id.ok_or_else(|| ApiError::bad_request("query parameter 'id' is required"))?;
        let g = state
            .accounts
            .generation(&id)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .filter(|g| g.key_id == key.id)
            .ok_or_else(|| ApiError::not_found(format!("generation {id} not found")))?;
        // The answer names audit entries: a read of audit data, recorded before it is revealed.
        let access = SystemRecord::Access {
            by: format!("key:{} ({})", key.id, key.name),
            action: "generation".into(),
            from_seq: Some(g.request_entry),
            to_seq: Some(g.response_entry.unwrap_or(g.request_entry)),
            detail: Some(id.clone()),
            reason: None,
        };
        state.audit.append(Record::System(access)).await.map_err(|_| ApiError::audit_read_unrecorded())?;
        Ok::<_, ApiError>(Json(json!({ "data": {
            "id": g.id, "model": g.model, "provider_name": g.provider_name, "created_at": g.created_at,
            "tokens_prompt": g.tokens_prompt, "tokens_completion": g.tokens_completion,
            "native_tokens_prompt": g.tokens_prompt, "native_tokens_completion": g.tokens_completion,
            "total_cost": g.total_cost, "usage": g.total_cost, "latency": g.latency, "generation_time": g.generation_time,
            "finish_reason": g.finish_reason, "native_finish_reason": g.finish_reason,
            "streamed": g.streamed, "cancelled": g.cancelled, "origin": "", "api_type": "completions",
            "audit_request_entry": g.request_entry, "audit_response_entry": g.response_entry,
        }})))
    }
    .await;
    result.map(IntoResponse::into_response).unwrap_or_else(IntoResponse::into_response)
}

pub async fn key(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let k = match state.keys.authenticate(&headers) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    // This process's ledger is newer than the stored spend (which is written after each call).
    let (spent, reserved) = state.limits.snapshot(&k, std::time::Instant::now());
    let usage = spent.max(k.usage_usd);
    Json(json!({ "data": {
        "label": k.name, "name": k.name, "team": k.team, "usage": usage, "limit": k.credit_limit_usd,
        "limit_remaining": k.credit_limit_usd.map(|l| (l - usage).max(0.0)),
        "reserved_in_flight": reserved,
        "is_free_tier": false,
        "rate_limit": {"requests_per_minute": k.rate_limit_rpm, "tokens_per_minute": k.rate_limit_tpm, "interval": "1m"},
    }}))
    .into_response()
}

/// OpenRouter's `/credits` for the calling key: its credit limit (`null` when it has none) and
/// what it has spent, as `/key` reports them.
pub async fn credits(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let k = match state.keys.authenticate(&headers) {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let (spent, _) = state.limits.snapshot(&k, std::time::Instant::now());
    Json(json!({ "data": { "total_credits": k.credit_limit_usd, "total_usage": spent.max(k.usage_usd) } }))
        .into_response()
}

/// OpenRouter's `/models/{author}/{slug}/endpoints`: every provider serving the model, with its
/// price, limits, parameters, place (region, country, retention) and breaker state now.
pub async fn model_endpoints(
    State(state): State<AppState>,
    axum::extract::Path((author, slug)): axum::extract::Path<(String, String)>,
) -> Response {
    let id = format!("{author}/{slug}");
    let Some(m) = state.catalog.get(&id) else {
        return ApiError::model_not_found(&id).into_response();
    };
    let now = std::time::Instant::now();
    let endpoints: Vec<Value> = m
        .candidates
        .iter()
        .map(|c| {
            let limits = &c.limits;
            json!({
                "name": format!("{} | {}", c.provider.name, c.upstream_model),
                "provider_name": c.provider.name,
                "tag": c.provider.name,
                "context_length": limits.context_length,
                "max_completion_tokens": limits.max_completion_tokens,
                "max_prompt_tokens": null,
                "quantization": null,
                "pricing": {
                    "prompt": per_token(c.price.prompt_per_mtok),
                    "completion": per_token(c.price.completion_per_mtok),
                    "request": "0", "image": "0",
                },
                "supported_parameters": c.supported_parameters,
                "status": if state.health.allows(&c.provider.name, now) { 0 } else { -1 },
                "breaker": breaker_word(state.health.state(&c.provider.name, now)),
                "latency_last_30m": state.health.latency_ms(&c.provider.name),
                "throughput_last_30m": state.health.throughput_tps(&c.provider.name),
                "region": c.provider.region,
                "country": c.provider.country,
                "zdr": c.provider.zdr,
                "data_collection": if c.provider.data_collection { "allow" } else { "deny" },
            })
        })
        .collect();
    let model = model_json(m);
    Json(json!({ "data": {
        "id": m.id, "name": m.name, "created": m.created, "description": model["description"],
        "architecture": model["architecture"], "endpoints": endpoints,
    }}))
    .into_response()
}

fn breaker_word(state: crate::routing::BreakerState) -> &'static str {
    use crate::routing::BreakerState::*;
    match state {
        Closed => "closed",
        Open => "open",
        HalfOpen => "half_open",
    }
}

/// Anthropic's `/v1/messages/count_tokens`, answered here without sending the text anywhere: the
/// gateway's own estimate (one token per four bytes of text, media not counted; the one that
/// model limits and cost ceilings use), since a count from the provider would send the
/// messages out unclassified and unrecorded.
pub async fn count_tokens(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let counted = (|| {
        state.keys.authenticate(&headers)?;
        let request = super::admission::parse_object(&body)?;
        let model = request
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("'model' is required").with_param("model"))?;
        if state.catalog.get(crate::routing::split_model_suffix(model).0).is_none() {
            return Err(ApiError::model_not_found(model));
        }
        if request.get("messages").and_then(Value::as_array).is_none() {
            return Err(ApiError::bad_request("'messages' must be a list").with_param("messages"));
        }
        let needs = crate::routing::Needs::of(&request);
        Ok(Json(json!({ "input_tokens": needs.prompt_tokens })))
    })();
    counted.map(IntoResponse::into_response).unwrap_or_else(IntoResponse::into_response)
}

/// 200 while the audit log takes writes; 503 with the reason while it does not (every proxied
/// call would then be refused, so a load balancer should send traffic elsewhere).
pub async fn health(State(state): State<AppState>) -> Response {
    let policy = state.policy.load();
    let mut body = json!({
        "status": "ok",
        "policy_version": policy.version,
        "models": state.catalog.models().count(),
        "providers": state.upstreams.len(),
    });
    // The log's health first, the statuses after: a witness's refusal is shown before the
    // writer halts on it, so a halted answer never carries the status from before the refusal.
    let log_health = state.audit.health().await;
    if let Some(witnesses) = state.audit.witness_status() {
        body["witnesses"] = witnesses;
    }
    if let Some(timestamps) = state.audit.timestamp_status() {
        body["timestamps"] = timestamps;
    }
    match log_health {
        Ok(()) => Json(body).into_response(),
        Err(reason) => {
            body["status"] = json!("audit_log_unavailable");
            body["reason"] = json!(reason);
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// `GET /metrics`: the Prometheus (OpenMetrics) text exposition. The breaker states are read at
/// scrape time; everything else is counted as it happens (see `crate::metrics`).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let metrics = crate::metrics::global();
    let now = std::time::Instant::now();
    for name in state.upstreams.keys() {
        let code = match state.health.state(name, now) {
            crate::routing::BreakerState::Closed => 0,
            crate::routing::BreakerState::HalfOpen => 1,
            crate::routing::BreakerState::Open => 2,
        };
        metrics.breaker(name, code);
    }
    ([(axum::http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], metrics.render()).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /v1/chat/completions, /v1/embeddings, /v1/models")
}
