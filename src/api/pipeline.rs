//! The steps every proxied call takes, in order: authenticate, read and parse the body, classify,
//! decide per model, filter and order providers, write the request entry ahead, then try the
//! providers. Chat and embeddings share all of it; only classification, redaction and the response
//! handling differ.

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::{ApiError, AppState};
use crate::accounting::{ApiKey, Reservation};
use crate::audit::{Attempt, PiiSummary, Record, RequestRecord, ResponseRecord};
use crate::config::UnknownFields;
use crate::pii::{self, Classification, Pseudonyms};
use crate::policy::{Decision, Outcome, RedactOperator, RequestFacts};
use crate::routing::{self, Candidate, ProviderPrefs};

/// Which API a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Embeddings,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// The API shape the client speaks; the gateway works in OpenAI's internally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAi,
    /// Anthropic Messages (`POST /v1/messages`).
    Anthropic,
}

/// One model of the request (the `model`, then each `models` fallback) with what policy decided
/// for it and the providers it may go to, in the order they will be tried.
pub struct ModelRoute {
    pub model: String,
    pub decision: Decision,
    pub candidates: Vec<Candidate>,
    /// The request as it goes upstream for this model, minus the gateway's own fields: shared by
    /// every route the policy does not redact, a redacted copy for those it does.
    pub body: Arc<Value>,
    pub pseudonyms: Pseudonyms,
}

/// A request that passed authentication, parsing and policy, with its write-ahead entry on disk.
pub struct Exchange {
    pub started: Instant,
    pub generation_id: String,
    pub key: Arc<ApiKey>,
    pub endpoint: Endpoint,
    pub stream: bool,
    /// The client asked for usage in the stream (`stream_options.include_usage`); the gateway always
    /// asks the upstream for it, and only passes the usage chunk on when the client asked.
    pub client_wants_usage: bool,
    pub routes: Vec<ModelRoute>,
    pub request_seq: u64,
    pub dialect: Dialect,
    /// The credit reserved for this call; settled with the real cost, released if dropped.
    pub reservation: parking_lot::Mutex<Option<Reservation>>,
    /// The body of the first planned attempt, encoded once for the request entry's hash and
    /// reused when that attempt is sent.
    pub first_body: Option<EncodedBody>,
    /// The deciding rule's hold for stored bodies (None: `[audit] body_hold_years`).
    pub body_hold_years: Option<u32>,
}

/// A request body in one provider's dialect, with its SHA-256 (hex).
#[derive(Debug, Clone)]
pub struct EncodedBody {
    /// The requested model (route) it was encoded for.
    pub model: String,
    pub provider: String,
    pub upstream_model: String,
    pub bytes: Bytes,
    pub sha256: String,
}

impl Exchange {
    /// A streamed chat answer (embeddings are never streamed).
    pub fn is_streaming(&self) -> bool {
        self.stream && self.endpoint == Endpoint::Chat
    }
}

/// Read the body with the configured limit, so an oversized one gets a proper 413.
pub async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.config.max_body_bytes;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::too_large(limit))
}

/// Parse a JSON object body, reporting syntax errors with line and column.
pub fn parse_object(bytes: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| super::error::json_error(&e))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    Ok(value)
}

/// The models to try, in order (`model`, then the `models` fallback list; see
/// `routing::model_sequence`), after checking the fields have the right JSON types.
pub fn requested_models(req: &Value) -> Result<Vec<String>, ApiError> {
    let model = match req.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if !m.is_empty() => Some(m.as_str()),
        Some(_) => return Err(ApiError::bad_request("'model' must be a non-empty string")),
    };
    let not_strings = || ApiError::bad_request("'models' must be a list of strings");
    let models = match req.get("models") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|m| m.as_str().map(str::to_string).ok_or_else(not_strings))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(not_strings()),
    };
    routing::model_sequence(model, models.as_deref()).map_err(|_| ApiError::bad_request("'model' is required"))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn pii_summary(cls: &Classification) -> PiiSummary {
    PiiSummary {
        level: cls.level.as_str().to_string(),
        entities: cls.counts().into_iter().collect(),
        paths: cls.paths().into_iter().collect(),
        unscannable: cls.unscannable.clone(),
        special_categories: cls.special_categories.clone(),
    }
}

fn redact(endpoint: Endpoint, body: &mut Value, cls: &Classification, decision: &Decision) -> Pseudonyms {
    let Some(action) = &decision.redact else {
        return Pseudonyms::default();
    };
    let op = match action.operator {
        RedactOperator::Replace => pii::Operator::Replace,
        RedactOperator::Mask => pii::Operator::Mask,
        RedactOperator::Hash => pii::Operator::Hash,
        RedactOperator::Pseudonymize => pii::Operator::Pseudonymize,
    };
    match endpoint {
        Endpoint::Chat => pii::redact_chat(body, cls, &action.entities, op),
        Endpoint::Embeddings => pii::redact_embeddings(body, cls, &action.entities, op),
    }
}

use crate::pii::request::{GATEWAY_FIELDS, NON_TEXT_PARAMETERS};

/// The request minus the gateway's own fields; takes the request so nothing is copied.
fn upstream_template(mut req: Value) -> Value {
    if let Some(obj) = req.as_object_mut() {
        for f in GATEWAY_FIELDS {
            obj.shift_remove(*f); // `remove` would move the last field into the gap
        }
    }
    req
}

/// The body for one model's providers: the shared template, or a redacted copy of it when the
/// policy's decision redacts (only then is the request copied).
fn route_body(
    endpoint: Endpoint,
    template: &Arc<Value>,
    cls: &Classification,
    decision: &Decision,
) -> (Arc<Value>, Pseudonyms) {
    if decision.redact.is_none() {
        return (Arc::clone(template), Pseudonyms::default());
    }
    let mut body = Value::clone(template);
    let pseudonyms = redact(endpoint, &mut body, cls, decision);
    (Arc::new(body), pseudonyms)
}

/// The body for one provider, serialized without copying the request: its own model id first,
/// then the request's fields, with `stream_options.include_usage` forced on for streams (the gateway
/// always needs usage for cost and the audit entry).
struct UpstreamBody<'a> {
    model: &'a str,
    fields: Option<&'a serde_json::Map<String, Value>>,
    stream_usage: bool,
}

impl serde::Serialize for UpstreamBody<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("model", self.model)?;
        let mut saw_options = false;
        for (k, v) in self.fields.into_iter().flatten() {
            if self.stream_usage && k == "stream_options" {
                saw_options = true;
                let mut opts = v.as_object().cloned().unwrap_or_default();
                opts.insert("include_usage".into(), Value::Bool(true));
                map.serialize_entry(k, &opts)?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        if self.stream_usage && !saw_options {
            map.serialize_entry("stream_options", &serde_json::json!({"include_usage": true}))?;
        }
        map.end()
    }
}

/// Serialize the body for one OpenAI-compatible provider.
pub fn upstream_body(template: &Value, upstream_model: &str, force_stream_usage: bool) -> Bytes {
    let body = UpstreamBody { model: upstream_model, fields: template.as_object(), stream_usage: force_stream_usage };
    // Sized for a typical chat request: serde_json's own buffer starts at 128 bytes and would be
    // reallocated and copied five times on the way to 2 KB.
    let mut bytes = Vec::with_capacity(4096);
    match serde_json::to_writer(&mut bytes, &body) {
        Ok(()) => Bytes::from(bytes),
        Err(_) => Bytes::new(),
    }
}

/// The same body as a JSON value, for providers whose API needs a translation first.
pub fn upstream_value(template: &Value, upstream_model: &str) -> Value {
    let body = UpstreamBody { model: upstream_model, fields: template.as_object(), stream_usage: false };
    serde_json::to_value(&body).unwrap_or(Value::Null)
}

/// Everything about the caller the policy looks at.
struct Caller<'a> {
    key: &'a ApiKey,
    client_label: Option<String>,
}

/// A request that policy or routing refused, with the decision to record.
struct Refusal {
    error: ApiError,
    decision: Option<Box<Decision>>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal { error, decision: None }
    }
}

fn facts(caller: &Caller<'_>, model: &str, endpoint: Endpoint, cls: &Classification, stream: bool) -> RequestFacts {
    RequestFacts {
        key_name: caller.key.name.clone(),
        team: caller.key.team.clone(),
        model: model.to_string(),
        level: cls.level,
        entity_types: cls.entity_types(),
        client_label: caller.client_label.clone(),
        stream,
        endpoint: endpoint.as_str().to_string(),
        has_unscannable: !cls.unscannable.is_empty(),
    }
}

fn exclusion(model: &str, c: &Candidate, by: &str, reason: &str) -> Value {
    serde_json::json!({"model": model, "provider": c.provider.name, "region": c.provider.region, "by": by, "reason": reason})
}

/// Decide each requested model, keep the providers its decision allows (policy first), then let
/// routing order them by the client's preferences and provider health. Consumes the request: it
/// becomes the upstream template.
fn plan_routes(
    state: &AppState,
    caller: &Caller<'_>,
    endpoint: Endpoint,
    req: Value,
    cls: &Classification,
    stream: bool,
    models: &[String],
) -> Result<Vec<ModelRoute>, Refusal> {
    let prefs = ProviderPrefs::from_request(req.get("provider")).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let params = req.as_object().map(routing::request_parameters).unwrap_or_default();
    let policy = state.policy.load();
    let template = Arc::new(upstream_template(req));
    let mut rng = rand::thread_rng();
    let mut routes = Vec::new();
    let mut first_refusal: Option<Decision> = None;
    let mut exclusions: Vec<Value> = Vec::new();
    let mut known = 0;
    for requested in models {
        let (model, sort_override) = routing::split_model_suffix(requested);
        let Some(info) = state.catalog.get(model) else {
            continue;
        };
        known += 1;
        let decision = policy.decide(&facts(caller, model, endpoint, cls, stream));
        if let Outcome::Deny { .. } = decision.outcome {
            first_refusal.get_or_insert(decision);
            continue;
        }
        let mut allowed = Vec::new();
        for c in info.candidates.iter().filter(|c| state.upstreams.contains_key(&c.provider.name)) {
            match decision.constraints.check(&c.provider) {
                Ok(()) => allowed.push(c.clone()),
                Err(why) => exclusions.push(exclusion(model, c, &format!("policy rule {}", decision.rule_id), &why)),
            }
        }
        if allowed.is_empty() {
            first_refusal.get_or_insert(decision);
            continue;
        }
        let plan = routing::plan(allowed, &prefs, sort_override, &params, &state.health, &mut rng);
        for (provider, why) in &plan.excluded {
            exclusions.push(
                serde_json::json!({"model": model, "provider": provider, "by": "provider preferences", "reason": why}),
            );
        }
        if plan.ordered.is_empty() {
            continue;
        }
        let (body, pseudonyms) = route_body(endpoint, &template, cls, &decision);
        routes.push(ModelRoute { model: model.to_string(), decision, candidates: plan.ordered, body, pseudonyms });
    }
    if known == 0 {
        return Err(ApiError::model_not_found(&models[0]).into());
    }
    if !routes.is_empty() {
        return Ok(routes);
    }
    let error = match &first_refusal {
        Some(d) if exclusions.is_empty() => {
            let reason = match &d.outcome {
                Outcome::Deny { reason } => reason.clone(),
                Outcome::Allow => "denied".into(),
            };
            ApiError::policy_denied(format!("denied by policy rule {}: {reason}", d.rule_id))
                .with_metadata(serde_json::json!({"rule": d.rule_id, "policy_version": d.policy_version}))
        }
        _ => {
            let rule = first_refusal.as_ref().map(|d| d.rule_id.clone());
            ApiError::no_provider(no_provider_message(rule.as_deref(), &exclusions))
                .with_metadata(serde_json::json!({ "rule": rule, "excluded": exclusions }))
        }
    };
    Err(Refusal { error, decision: first_refusal.map(Box::new) })
}

/// "no provider allowed ...: demo-us (region us not in allowed regions ...)".
fn no_provider_message(rule: Option<&str>, exclusions: &[Value]) -> String {
    let reasons: Vec<String> = exclusions
        .iter()
        .map(|e| format!("{} ({})", e["provider"].as_str().unwrap_or("?"), e["reason"].as_str().unwrap_or("?")))
        .collect();
    let by = rule.map(|r| format!(" under policy rule {r}")).unwrap_or_default();
    format!("no provider may serve this request{by}; nothing was forwarded. Excluded: {}", reasons.join("; "))
}

#[allow(clippy::too_many_arguments)]
fn request_record(
    generation_id: &str,
    key: &ApiKey,
    endpoint: Endpoint,
    peer: SocketAddr,
    models: Vec<String>,
    stream: bool,
    cls: &Classification,
    routes: &[ModelRoute],
    decision: Option<&Decision>,
    body_sha256: String,
) -> RequestRecord {
    let first = routes.first().and_then(|r| r.candidates.first().map(|c| (r, c)));
    let decision_word = match decision {
        None => "deny",
        Some(_) if routes.is_empty() => "deny",
        Some(d) if d.redact.is_some() => "redact",
        Some(_) => "allow",
    };
    RequestRecord {
        generation_id: generation_id.to_string(),
        endpoint: endpoint.as_str().to_string(),
        key_id: key.id.clone(),
        key_name: key.name.clone(),
        team: key.team.clone(),
        client_addr: peer.ip().to_string(),
        models,
        stream,
        policy_version: decision.map(|d| d.policy_version.clone()).unwrap_or_default(),
        policy_rule: decision.map(|d| d.rule_id.clone()).unwrap_or_default(),
        decision: decision_word.to_string(),
        pii: pii_summary(cls),
        candidates: routes
            .iter()
            .flat_map(|r| {
                r.candidates.iter().map(move |c| format!("{}:{}@{}", r.model, c.provider.name, c.provider.region))
            })
            .collect(),
        provider: first.map(|(_, c)| c.provider.name.clone()),
        region: first.map(|(_, c)| c.provider.region.clone()),
        body_sha256,
        // Filled in by the caller, which knows the provider's dialect (see `first_upstream_body`).
        upstream_body_sha256: None,
    }
}

/// SHA-256 of the exact bytes the first choice will be sent (its dialect, streaming options included),
/// so the request entry matches the first attempt's hash in the response entry.
fn first_upstream_body(state: &AppState, routes: &[ModelRoute], streaming: bool) -> Option<EncodedBody> {
    let route = routes.first()?;
    let candidate = route.candidates.first()?;
    let upstream = state.upstreams.get(&candidate.provider.name)?;
    let bytes = super::forward::encode_for(upstream, &route.body, &candidate.upstream_model, streaming)?;
    Some(EncodedBody {
        model: route.model.clone(),
        provider: candidate.provider.name.clone(),
        upstream_model: candidate.upstream_model.clone(),
        sha256: sha256_hex(&bytes),
        bytes,
    })
}

/// Authenticate, parse, classify, decide and write the request entry ahead of any upstream byte.
pub async fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    endpoint: Endpoint,
) -> Result<Exchange, ApiError> {
    let (received, bytes) = receive(state, peer, headers, body).await?;
    let request = parse_object(&bytes)?;
    admit_parsed(state, received, request, endpoint, Dialect::OpenAi).await
}

/// An authenticated caller whose body has been read.
pub struct Received<'a> {
    started: Instant,
    key: Arc<ApiKey>,
    peer: SocketAddr,
    headers: &'a HeaderMap,
    body_sha256: String,
    body_len: usize,
    /// The body as received, kept only when bodies are stored beside the log.
    body: Option<Bytes>,
}

/// Authenticate (before reading a byte of the body), check credit, read the body.
pub async fn receive<'a>(
    state: &AppState,
    peer: SocketAddr,
    headers: &'a HeaderMap,
    body: Body,
) -> Result<(Received<'a>, Bytes), ApiError> {
    let started = Instant::now();
    let key = state.keys.authenticate(headers)?;
    let bytes = read_body(state, headers, body).await?;
    let body_sha256 = sha256_hex(&bytes);
    let body_len = bytes.len();
    let body = (state.config.audit.store_bodies != "none").then(|| bytes.clone());
    Ok((Received { body_len, body, started, key, peer, headers, body_sha256 }, bytes))
}

/// Classify, decide and write the request entry for a request already in OpenAI form.
pub async fn admit_parsed(
    state: &AppState,
    received: Received<'_>,
    request: Value,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Result<Exchange, ApiError> {
    let Received { started, key, peer, headers, body_sha256, body_len, body } = received;
    let stream = match request.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("'stream' must be a boolean")),
    };
    let cls = match endpoint {
        Endpoint::Chat => {
            validate_chat(&request, state.config.request.unknown_fields)?;
            pii::classify_chat_for_key(&request, &key.id)
        }
        Endpoint::Embeddings => {
            validate_embeddings(&request, state.config.request.unknown_fields)?;
            pii::classify_embeddings_for_key(&request, &key.id)
        }
    };
    let client_label =
        headers.get("x-data-classification").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_ascii_lowercase());
    let caller = Caller { key: &key, client_label };
    let generation_id = new_generation_id();
    let models = requested_models(&request)?;
    let completion_tokens = completion_estimate(&request, endpoint);
    let client_wants_usage =
        request.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool) == Some(true);
    let routes = match plan_routes(state, &caller, endpoint, request, &cls, stream, &models) {
        Ok(routes) => routes,
        Err(Refusal { error, decision: Some(decision) }) => {
            // Refusals by policy are part of the record too; nothing is forwarded either way.
            let rec = request_record(
                &generation_id,
                &key,
                endpoint,
                peer,
                models,
                stream,
                &cls,
                &[],
                Some(&decision),
                body_sha256,
            );
            return Err(match state.audit.append(Record::Request(rec)).await {
                Ok(seq) => error.with_entry(seq),
                Err(_) => ApiError::audit_unavailable(),
            });
        }
        Err(Refusal { error, decision: None }) => return Err(error),
    };
    let estimate = estimate_cost(body_len, completion_tokens, &routes);
    let reservation = state.limits.admit(&key, estimate, Instant::now()).map_err(ApiError::limit)?;
    let decision = routes.first().map(|r| &r.decision);
    let body_hold_years = decision.and_then(|d| d.body_hold_years);
    let mut rec =
        request_record(&generation_id, &key, endpoint, peer, models, stream, &cls, &routes, decision, body_sha256);
    let first_body = first_upstream_body(state, &routes, stream && endpoint == Endpoint::Chat);
    rec.upstream_body_sha256 = first_body.as_ref().map(|b| b.sha256.clone());
    let request_seq = state.audit.append(Record::Request(rec)).await.map_err(|e| {
        tracing::error!(error = %e, "write-ahead audit append failed; refusing the request");
        ApiError::audit_unavailable()
    })?;
    if let Some(body) = body {
        store_body(state, request_seq, "request", &body, body_hold_years).await?;
    }
    Ok(Exchange {
        started,
        generation_id,
        key,
        endpoint,
        stream,
        client_wants_usage,
        routes,
        request_seq,
        dialect,
        reservation: parking_lot::Mutex::new(Some(reservation)),
        first_body,
        body_hold_years,
    })
}

/// A fresh `gen-` id: a UUIDv7, time-ordered so generation records are inserted at the end of
/// their index. Its random bits come from the thread's generator: `Uuid::now_v7` asks the kernel
/// (one `getrandom` system call per call, about 1 % of the gateway's time under load).
fn new_generation_id() -> String {
    use rand::Rng;
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let random: [u8; 10] = rand::thread_rng().gen();
    format!("gen-{}", uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid().simple())
}

/// Completion tokens a call may use, for the cost estimate: `max_tokens` (256 when not given).
fn completion_estimate(request: &Value, endpoint: Endpoint) -> f64 {
    match endpoint {
        Endpoint::Embeddings => 0.0,
        Endpoint::Chat => request
            .get("max_completion_tokens")
            .or_else(|| request.get("max_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(256) as f64,
    }
}

/// An upper-bound guess of a call's cost before it is made: prompt tokens from the body size
/// (about four bytes a token), completion tokens from [`completion_estimate`], at the dearest price
/// among the providers it may go to.
fn estimate_cost(body_len: usize, completion: f64, routes: &[ModelRoute]) -> f64 {
    let prompt = (body_len / 4) as f64;
    routes
        .iter()
        .flat_map(|r| r.candidates.iter())
        .map(|c| (prompt * c.price.prompt_per_mtok + completion * c.price.completion_per_mtok) / 1_000_000.0)
        .fold(0.0, f64::max)
}

/// Check the shapes the chat schema allows, naming the offending member: a message is an object
/// with a known role, `content` is a string, a list of parts or null, a part is an object whose
/// `type` and `text` are strings. Anything else would reach the upstream in a shape nobody
/// classified it in.
fn validate_chat(req: &Value, unknown: UnknownFields) -> Result<(), ApiError> {
    refuse_unknown_fields(req, crate::pii::request::CHAT_FIELDS, unknown)?;
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("'messages' is required and must be an array"))?;
    if messages.is_empty() {
        return Err(ApiError::bad_request("'messages' must not be empty"));
    }
    for (i, m) in messages.iter().enumerate() {
        validate_message(m, i)?;
    }
    Ok(())
}

fn validate_message(m: &Value, i: usize) -> Result<(), ApiError> {
    let bad = |what: String| Err(ApiError::bad_request(what).with_param(format!("messages[{i}]")));
    let Some(m) = m.as_object() else {
        return bad(format!("messages[{i}] must be an object"));
    };
    match m.get("role") {
        Some(Value::String(r)) if crate::pii::request::ROLES.contains(&r.as_str()) => {}
        Some(Value::String(r)) => {
            return bad(format!(
                "messages[{i}].role: unknown role {r:?} (expected one of {})",
                crate::pii::request::ROLES.join(", ")
            ))
        }
        _ => return bad(format!("messages[{i}] needs a string 'role'")),
    }
    match m.get("content") {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                validate_part(part, i, j)?;
            }
            Ok(())
        }
        Some(_) => bad(format!("messages[{i}].content must be a string, a list of content parts or null")),
    }
}

fn validate_part(part: &Value, i: usize, j: usize) -> Result<(), ApiError> {
    let path = format!("messages[{i}].content[{j}]");
    let bad = |what: String| Err(ApiError::bad_request(what).with_param(path.clone()));
    let Some(part) = part.as_object() else {
        return bad(format!("{path} must be a content part object with a 'type'"));
    };
    if !part.get("type").is_some_and(Value::is_string) {
        return bad(format!("{path} needs a string 'type'"));
    }
    if part.get("text").is_some_and(|t| !t.is_string()) {
        return bad(format!("{path}.text must be a string"));
    }
    Ok(())
}

fn validate_embeddings(req: &Value, unknown: UnknownFields) -> Result<(), ApiError> {
    refuse_unknown_fields(req, crate::pii::request::EMBEDDINGS_FIELDS, unknown)?;
    match req.get("input") {
        Some(Value::String(_)) | Some(Value::Array(_)) => Ok(()),
        _ => Err(ApiError::bad_request("'input' is required: a string or an array")),
    }
}

/// With `[request] unknown_fields = "reject"`, a top-level field no schema defines is a 400.
fn refuse_unknown_fields(req: &Value, endpoint_fields: &[&str], unknown: UnknownFields) -> Result<(), ApiError> {
    if unknown == UnknownFields::Scan {
        return Ok(());
    }
    let known =
        |k: &str| endpoint_fields.contains(&k) || GATEWAY_FIELDS.contains(&k) || NON_TEXT_PARAMETERS.contains(&k);
    match req.as_object().and_then(|o| o.keys().find(|k| !known(k))) {
        Some(k) => Err(ApiError::bad_request(format!(
            "unknown request field {k:?}: this gateway refuses fields the API does not define ([request] unknown_fields = \"reject\")"
        ))
        .with_param(k.clone())),
        None => Ok(()),
    }
}

/// How one upstream try ended, for the response entry.
pub fn attempt(
    candidate: &Candidate,
    started: Instant,
    status: Option<u16>,
    error: Option<String>,
    body_sha256: String,
) -> Attempt {
    Attempt {
        provider: candidate.provider.name.clone(),
        region: candidate.provider.region.clone(),
        model: candidate.upstream_model.clone(),
        status,
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        error,
        upstream_body_sha256: body_sha256,
    }
}

/// Append the response entry of an exchange that went upstream. If the log cannot take it, the
/// client gets `audit_unavailable_after_forward` and the entry, marked as withheld, is appended
/// as soon as the log takes writes again; `settle_late` then charges what the upstream answered.
pub async fn record_response(
    state: &AppState,
    rec: ResponseRecord,
    settle_late: impl FnOnce(u64) + Send + 'static,
) -> Result<u64, ApiError> {
    let answered = rec.provider.is_some();
    let late = withheld(&rec);
    state.audit.append_outcome(Record::Response(rec), Record::Response(late), settle_late).await.map_err(|e| {
        tracing::error!(error = %e, "response audit append failed after forwarding; the outcome is kept for later");
        ApiError::audit_unavailable_after_forward(answered)
    })
}

/// The response entry as recorded late: the client got 503 instead of the answer.
fn withheld(rec: &ResponseRecord) -> ResponseRecord {
    let note = "withheld from the client (503 audit_unavailable_after_forward): the audit log could not record this outcome in time";
    let error = match &rec.error {
        Some(e) => format!("{note}; {e}"),
        None => note.to_string(),
    };
    ResponseRecord { status: 503, error: Some(error), ..rec.clone() }
}

/// Keep a body beside the log (audit `store_bodies`): as it was (`full`) or with every finding
/// the scanner makes replaced by its type (`redacted`). Fails closed like the log itself.
pub async fn store_body(
    state: &AppState,
    seq: u64,
    role: &str,
    bytes: &[u8],
    hold_years: Option<u32>,
) -> Result<(), ApiError> {
    let stored = match state.config.audit.store_bodies.as_str() {
        "none" => return Ok(()),
        "redacted" => redacted_body(bytes),
        _ => bytes.to_vec(),
    };
    state.audit.store_body(seq, role, stored, hold_years).await.map_err(|e| {
        tracing::error!(error = %e, "body storage failed");
        ApiError::audit_unavailable()
    })
}

/// A body with every finding replaced by its type. A JSON body is redacted string by string, as
/// the classifier reads it (JSON escapes decoded, so an escaped no-break space inside an IBAN does
/// not hide it); anything else (an event stream) as text.
fn redacted_body(bytes: &[u8]) -> Vec<u8> {
    let all = std::collections::BTreeSet::new();
    if let Ok(mut doc) = serde_json::from_slice::<Value>(bytes) {
        let cls = pii::classify_chat(&doc);
        pii::redact_chat(&mut doc, &cls, &all, pii::Operator::Replace);
        return serde_json::to_vec(&doc).unwrap_or_default();
    }
    let text = String::from_utf8_lossy(bytes);
    let findings = pii::scan_text(&text);
    pii::redact_text(&text, &findings, &all, pii::Operator::Replace, &mut Pseudonyms::default()).into_bytes()
}

/// Map an upstream error answer to the client's error, keeping the upstream's message.
pub fn upstream_error(provider: &str, status: u16, body: &[u8]) -> ApiError {
    upstream_error_text(provider, status, upstream_message(body))
}

/// Map an upstream error status and its already extracted message to the client's error.
pub fn upstream_error_text(provider: &str, status: u16, detail: String) -> ApiError {
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

/// The human message inside an upstream error body, whatever its shape.
fn upstream_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let found = v
            .pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .or_else(|| v.get("detail"));
        if let Some(m) = found {
            return m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string());
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no details given".into()
    } else {
        text.chars().take(300).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{new_generation_id, redacted_body};

    #[test]
    fn redacted_bodies_decode_json_escapes_before_scanning() {
        let body = br#"{"messages":[{"role":"user","content":"IBAN CH93\u00a00076\u00a02011\u00a06238\u00a05295\u00a07"}],"metadata":{"k":"anna@example.ch"}}"#;
        let stored = String::from_utf8(redacted_body(body)).unwrap();
        assert!(stored.contains("IBAN <IBAN_CODE>"), "{stored}");
        assert!(stored.contains("<EMAIL_ADDRESS>") && !stored.contains("anna@"), "{stored}");
        let sse = redacted_body(b"data: {\"x\": 1} anna@example.ch\n\n");
        assert!(!String::from_utf8_lossy(&sse).contains("anna@"));
    }

    #[test]
    fn generation_ids_are_distinct_version_7_uuids_ordered_by_time() {
        let first = new_generation_id();
        let hex = first.strip_prefix("gen-").expect("gen- prefix");
        let uuid = uuid::Uuid::parse_str(hex).expect("a UUID in simple form");
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
        let same_ms: std::collections::HashSet<String> = (0..1000).map(|_| new_generation_id()).collect();
        assert_eq!(same_ms.len(), 1000);
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(new_generation_id() > first);
    }
}
