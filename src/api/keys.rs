//! Key management over HTTP in OpenRouter's shapes, for provisioning keys only
//! (`auditgate keys create --admin`): `GET/POST /api/v1/keys`, `GET/PATCH/DELETE
//! /api/v1/keys/{hash}`, where `hash` is the key's id. A created key's secret is in the answer
//! once. Every change is recorded in the audit log (a `key_changed` entry naming the provisioning
//! key) before it takes effect; it counts from the next request on every worker, since the
//! store's key epoch moves with it (`auth.rs`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{ApiError, AppState};
use crate::accounting::{ApiKey, KeyPatch, NewKey, StoreError};
use crate::audit::{Record, SystemRecord};

/// A key as OpenRouter's key endpoints show it, with the gateway's team and rate limits.
fn key_json(k: &ApiKey) -> Value {
    json!({
        "hash": k.id, "name": k.name, "label": k.name, "team": k.team,
        "disabled": k.disabled, "admin": k.admin,
        "limit": k.credit_limit_usd,
        "limit_remaining": k.credit_limit_usd.map(|l| (l - k.usage_usd).max(0.0)),
        "usage": k.usage_usd,
        "rate_limit": {"requests_per_minute": k.rate_limit_rpm, "tokens_per_minute": k.rate_limit_tpm},
        "created_at": k.created_at, "updated_at": k.updated_at,
    })
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::DuplicateName(name) => ApiError::bad_request(format!("a key named {name:?} already exists")),
        other => ApiError::internal(format!("key store: {other}")),
    }
}

fn answer(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Records a change made by `admin`; a change that cannot be recorded is not made.
async fn record(
    state: &AppState,
    admin: &ApiKey,
    action: &str,
    key: (&str, &str),
    changes: Vec<String>,
) -> Result<(), ApiError> {
    let entry = SystemRecord::KeyChanged {
        by: format!("key:{} ({})", admin.id, admin.name),
        action: action.to_string(),
        key_id: key.0.to_string(),
        name: key.1.to_string(),
        changes,
    };
    state.audit.append(Record::System(entry)).await.map(|_| ()).map_err(|_| ApiError::audit_unavailable())
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer((|| {
        state.keys.authenticate_admin(&headers)?;
        let keys = state.accounts.list_keys().map_err(store_error)?;
        let data: Vec<Value> = keys.iter().filter(|k| k.revoked_at.is_none()).map(key_json).collect();
        Ok(Json(json!({ "data": data })).into_response())
    })())
}

pub async fn get(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    answer((|| {
        state.keys.authenticate_admin(&headers)?;
        let key = active_key(&state, &id)?;
        Ok(Json(json!({ "data": key_json(&key) })).into_response())
    })())
}

fn active_key(state: &AppState, id: &str) -> Result<ApiKey, ApiError> {
    let key = state.accounts.key_by_id(id).map_err(store_error)?;
    key.filter(|k| k.revoked_at.is_none()).ok_or_else(|| ApiError::not_found(format!("no active key {id}")))
}

/// `POST /api/v1/keys` with `name` (required), `limit`, `team`, `rpm`, `tpm`, `admin`.
pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let created = async {
        let admin = state.keys.authenticate_admin(&headers)?;
        let fields = object(&body)?;
        let name = fields.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty());
        let name = name.ok_or_else(|| ApiError::bad_request("'name' is required").with_param("name"))?;
        let new = NewKey {
            name: name.to_string(),
            team: optional_str(&fields, "team")?.unwrap_or("default").to_string(),
            credit_limit_usd: limit(&fields, "limit")?.flatten(),
            rate_limit_rpm: count(&fields, "rpm")?.flatten().map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            rate_limit_tpm: count(&fields, "tpm")?.flatten(),
            admin: fields.get("admin").and_then(Value::as_bool).unwrap_or(false),
        };
        let (key, secret) = state.accounts.create_key(&new).map_err(store_error)?;
        // The id exists only now; if the creation cannot be recorded the key is revoked again.
        if let Err(e) = record(&state, &admin, "create", (&key.id, &key.name), described(&fields)).await {
            let _ = state.accounts.revoke_key(&key.id);
            return Err(e);
        }
        Ok((StatusCode::CREATED, Json(json!({ "data": key_json(&key), "key": secret }))).into_response())
    };
    answer(created.await)
}

/// `PATCH /api/v1/keys/{hash}` with any of `name`, `disabled`, `limit`, `rpm`, `tpm` (`null`
/// removes a limit).
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let updated = async {
        let admin = state.keys.authenticate_admin(&headers)?;
        let fields = object(&body)?;
        if let Some(unknown) =
            fields.keys().find(|k| !["name", "disabled", "limit", "rpm", "tpm"].contains(&k.as_str()))
        {
            return Err(ApiError::bad_request(format!("unknown field {unknown:?}")).with_param(unknown.clone()));
        }
        let patch = KeyPatch {
            name: optional_str(&fields, "name")?.map(str::to_string),
            disabled: match fields.get("disabled") {
                None => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(ApiError::bad_request("'disabled' must be a boolean").with_param("disabled")),
            },
            credit_limit_usd: limit(&fields, "limit")?,
            rate_limit_rpm: count(&fields, "rpm")?.map(|n| n.map(|n| u32::try_from(n).unwrap_or(u32::MAX))),
            rate_limit_tpm: count(&fields, "tpm")?,
        };
        let before = active_key(&state, &id)?;
        record(&state, &admin, "update", (&before.id, &before.name), described(&fields)).await?;
        match state.accounts.update_key(&id, &patch) {
            Ok(Some(key)) => Ok(Json(json!({ "data": key_json(&key) })).into_response()),
            Ok(None) => Err(ApiError::not_found(format!("no active key {id}"))),
            Err(e) => {
                let why = vec![format!("error={e}")];
                let _ = record(&state, &admin, "update failed", (&before.id, &before.name), why).await;
                Err(store_error(e))
            }
        }
    };
    answer(updated.await)
}

/// `DELETE /api/v1/keys/{hash}`: the key is revoked (kept for the record, never usable again).
pub async fn delete(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let deleted = async {
        let admin = state.keys.authenticate_admin(&headers)?;
        let key = active_key(&state, &id)?;
        if key.id == admin.id {
            return Err(ApiError::bad_request("a provisioning key cannot revoke itself"));
        }
        record(&state, &admin, "revoke", (&key.id, &key.name), Vec::new()).await?;
        state.accounts.revoke_key(&key.id).map_err(store_error)?;
        Ok(Json(json!({ "deleted": true })).into_response())
    };
    answer(deleted.await)
}

fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match super::admission::parse_object(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("request body must be a JSON object")),
    }
}

fn optional_str<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ApiError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(format!("'{name}' must be a non-empty string")).with_param(name)),
    }
}

/// A USD limit: absent (None), `null` (Some(None): no limit) or a number ≥ 0.
fn limit(fields: &Map<String, Value>, name: &str) -> Result<Option<Option<f64>>, ApiError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => match v.as_f64().filter(|l| l.is_finite() && *l >= 0.0) {
            Some(l) => Ok(Some(Some(l))),
            None => Err(ApiError::bad_request(format!("'{name}' must be a number of USD, 0 or more")).with_param(name)),
        },
    }
}

/// A per-minute count: absent, `null` (no limit) or a whole number.
fn count(fields: &Map<String, Value>, name: &str) -> Result<Option<Option<u64>>, ApiError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => v
            .as_u64()
            .map(|n| Some(Some(n)))
            .ok_or_else(|| ApiError::bad_request(format!("'{name}' must be a whole number")).with_param(name)),
    }
}

/// The fields of a change as `field=value`, for the audit entry.
fn described(fields: &Map<String, Value>) -> Vec<String> {
    fields.iter().map(|(k, v)| format!("{k}={v}")).collect()
}
