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
    if let Some(witnesses) = state.audit.witness_status() {
        body["witnesses"] = witnesses;
    }
    if let Some(timestamps) = state.audit.timestamp_status() {
        body["timestamps"] = timestamps;
    }
    match state.audit.health().await {
        Ok(()) => Json(body).into_response(),
        Err(reason) => {
            body["status"] = json!("audit_log_unavailable");
            body["reason"] = json!(reason);
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /v1/chat/completions, /v1/embeddings, /v1/models")
}
