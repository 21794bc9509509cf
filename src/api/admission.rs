//! Admission: every step a proxied call takes before its first upstream byte, in order.
//! Authenticate (before reading the body), read and parse the body, validate its shape, classify
//! it, decide per model, keep the providers policy allows and let routing order them, check the
//! key's limits, then write the request entry ahead. Every route shares all of it; the Messages,
//! completions and Responses dialects are translated to chat first (`parse_request`).

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::exchange::{Dialect, EncodedBody, Endpoint, Exchange, ModelRoute};
use super::record::{request_record, sha256_hex, store_body};
use super::{ceiling, extras, ApiError, AppState};
use crate::accounting::ApiKey;
use crate::audit::{BodyStorage, CostCeiling, Excluded, PresetUsed, Record, RequestRecord};
use crate::config::{RequestConfig, UnknownFields, Unsupported};
use crate::dialects;
use crate::offer::Candidate;
use crate::pii::request::{GATEWAY_FIELDS, NON_TEXT_PARAMETERS};
use crate::pii::{self, Classification, Pseudonyms};
use crate::policy::{Decision, Outcome, Policy, RedactOperator, RequestFacts};
use crate::providers::anthropic;
use crate::providers::catalog::Catalog;
use crate::routing::{self, Health, ProviderPrefs};

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
    let body = (state.config.audit.store_bodies != BodyStorage::None).then(|| bytes.clone());
    Ok((Received { body_len, body, started, key, peer, headers, body_sha256 }, bytes))
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

/// A request in the gateway's working form, with what its translation left for the answer.
pub struct Parsed {
    /// The request as OpenAI chat (or embeddings) takes it.
    pub request: Value,
    /// Members dropped under `[request] unsupported = "ignore"` by the translation.
    pub ignored: Vec<String>,
    /// The request members the client's answer repeats.
    pub echo: Value,
}

/// The request in the gateway's working form (OpenAI's): a Messages, completions or Responses
/// request is translated first, so it is classified, decided and routed like any chat request.
pub fn parse_request(bytes: &[u8], dialect: Dialect, unsupported: Unsupported) -> Result<Parsed, ApiError> {
    let request = parse_object(bytes)?;
    let translated = match dialect {
        Dialect::OpenAi => return Ok(Parsed { request, ignored: Vec::new(), echo: Value::Null }),
        Dialect::Anthropic => {
            let request = anthropic::messages_to_openai(&request).map_err(|e| ApiError::bad_request(e.to_string()))?;
            return Ok(Parsed { request, ignored: Vec::new(), echo: Value::Null });
        }
        Dialect::Completions => dialects::completions::to_chat(&request, unsupported),
        Dialect::Responses => dialects::responses::to_chat(&request, unsupported),
    };
    let t = translated.map_err(|e| {
        let error = ApiError::bad_request(e.message);
        if e.param.is_empty() {
            error
        } else {
            error.with_param(e.param)
        }
    })?;
    Ok(Parsed { request: t.chat, ignored: t.ignored, echo: t.echo })
}

/// Classify, decide and write the request entry for a request already in OpenAI form.
pub async fn admit(
    state: &AppState,
    received: Received<'_>,
    parsed: Parsed,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Result<Exchange, ApiError> {
    let Received { started, key, peer, headers, body_sha256, body_len, body } = received;
    let Parsed { mut request, mut ignored, echo } = parsed;
    let preset = apply_preset(&state.config.presets, endpoint, &mut request)?;
    let Reading { stream, cls, models, extras } = read_request(&request, endpoint, &state.config.request, &key.id)?;
    let client_label =
        headers.get("x-data-classification").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_ascii_lowercase());
    let caller = Caller { key_name: &key.name, team: &key.team, client_label };
    let generation_id = new_generation_id();
    let completion_tokens = completion_estimate(&request, endpoint);
    // Usage and cost on the stream's last chunk, as OpenRouter always sends them, unless the client
    // turned it off (`stream_options.include_usage: false` or `usage.include: false`).
    let stream_options = request.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool);
    // A Response object always carries its usage, so a Responses stream needs the usage chunk.
    let client_wants_usage =
        dialect == Dialect::Responses || (stream_options != Some(false) && extras.include_usage != Some(false));
    ignored.extend(extras.ignored);
    let ask = Ask::new(endpoint, &cls, stream, &models, body_len);
    let planned = plan_routes(&Planner::of(state, &state.policy.load()), &caller, &ask, request);
    let (routes, excluded) = match planned {
        Ok(Planned { routes, excluded }) => (routes, excluded),
        Err(Refusal { error, decision: Some(decision), ceiling, excluded }) => {
            // Refusals by policy are part of the record too; nothing is forwarded either way.
            let mut rec = request_record(
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
            rec.cost_ceiling = ceiling;
            rec.excluded = excluded;
            rec.preset = preset;
            rec.route = Some(dialect.route(endpoint).to_string());
            observe_decision(&rec);
            return Err(match state.audit.append(Record::Request(rec)).await {
                Ok(seq) => error.with_entry(seq),
                Err(_) => ApiError::audit_unavailable(),
            });
        }
        Err(Refusal { error, decision: None, .. }) => return Err(error),
    };
    let estimate = estimate_cost(body_len, completion_tokens, &routes);
    let reservation = state.limits.admit(&key, estimate, Instant::now()).map_err(ApiError::limit)?;
    let decision = routes.first().map(|r| &r.decision);
    let body_hold_years = decision.and_then(|d| d.body_hold_years);
    let mut rec =
        request_record(&generation_id, &key, endpoint, peer, models, stream, &cls, &routes, decision, body_sha256);
    let first_body = first_upstream_body(state, &routes, stream && endpoint == Endpoint::Chat);
    rec.upstream_body_sha256 = first_body.as_ref().map(|b| b.sha256.clone());
    rec.cost_ceiling = routes.first().and_then(|r| r.ceiling.clone());
    rec.excluded = excluded;
    rec.preset = preset;
    rec.route = Some(dialect.route(endpoint).to_string());
    observe_decision(&rec);
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
        ignored,
        routes,
        request_seq,
        dialect,
        echo,
        reservation: parking_lot::Mutex::new(Some(reservation)),
        first_body,
        body_hold_years,
    })
}

/// The preset a chat request names, applied before it is read (see `crate::presets`); 400 for
/// an unknown one, or one named by an embeddings request.
pub(super) fn apply_preset(
    presets: &[crate::presets::PresetConfig],
    endpoint: Endpoint,
    request: &mut Value,
) -> Result<Option<PresetUsed>, ApiError> {
    if endpoint == Endpoint::Embeddings && crate::presets::names_one(request) {
        return Err(ApiError::bad_request("presets apply to chat requests").with_param("model"));
    }
    let applied = crate::presets::apply(presets, request)
        .map_err(|e| ApiError::bad_request(e.to_string()).with_param("model"))?;
    Ok(applied.map(|a| PresetUsed { name: a.name, version: a.version }))
}

/// What admission reads off a request before deciding: whether it streams, its classification,
/// the models to try and the OpenRouter extras.
pub(super) struct Reading {
    pub stream: bool,
    pub cls: Classification,
    pub models: Vec<String>,
    pub extras: extras::Extras,
}

/// Check the request's shape and read it (400 for a shape the API does not allow, an extra the
/// gateway cannot honour under `unsupported = "refuse"`); `key_id` keys the classifier's memo.
pub(super) fn read_request(
    request: &Value,
    endpoint: Endpoint,
    config: &RequestConfig,
    key_id: &str,
) -> Result<Reading, ApiError> {
    let stream = match request.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("'stream' must be a boolean")),
    };
    let cls = match endpoint {
        Endpoint::Chat => {
            validate_chat(request, config.unknown_fields)?;
            pii::classify_chat_for_key(request, key_id)
        }
        Endpoint::Embeddings => {
            validate_embeddings(request, config.unknown_fields)?;
            pii::classify_embeddings_for_key(request, key_id)
        }
    };
    let models = requested_models(request)?;
    let extras = extras::read(request, &models, config.unsupported)?;
    Ok(Reading { stream, cls, models, extras })
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

/// Everything about the caller the policy looks at.
pub struct Caller<'a> {
    pub key_name: &'a str,
    pub team: &'a str,
    /// Header `X-Data-Classification`, trimmed and lower-cased.
    pub client_label: Option<String>,
}

/// What route planning reads besides the request: the policy in force, the catalogue (of the
/// enabled providers, each of which has an upstream) and the providers' health. The gateway and
/// `policy explain` plan with the same function, so the explanation is the gateway's answer.
pub struct Planner<'a> {
    pub policy: &'a Policy,
    pub catalog: &'a Catalog,
    pub health: &'a Health,
}

impl<'a> Planner<'a> {
    /// The running gateway's planner, with the policy loaded for this request.
    fn of(state: &'a AppState, policy: &'a Policy) -> Planner<'a> {
        Planner { policy, catalog: &state.catalog, health: &state.health }
    }
}

/// The routes of a request and every provider passed over on the way.
pub(super) struct Planned {
    pub routes: Vec<ModelRoute>,
    pub excluded: Vec<Excluded>,
}

/// A request that policy or routing refused, with the decision (and the cost ceiling that
/// refused it, if one did) to record.
pub(super) struct Refusal {
    pub error: ApiError,
    pub decision: Option<Box<Decision>>,
    pub ceiling: Option<CostCeiling>,
    pub excluded: Vec<Excluded>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal { error, decision: None, ceiling: None, excluded: Vec::new() }
    }
}

/// The planning of one request: what it asks, and what it may cost.
pub(super) struct Ask<'a> {
    endpoint: Endpoint,
    cls: &'a Classification,
    stream: bool,
    models: &'a [String],
    prompt_tokens: u64,
}

impl<'a> Ask<'a> {
    pub(super) fn new(
        endpoint: Endpoint,
        cls: &'a Classification,
        stream: bool,
        models: &'a [String],
        body_len: usize,
    ) -> Self {
        Ask { endpoint, cls, stream, models, prompt_tokens: ceiling::prompt_tokens(body_len) }
    }
}

/// A route's candidates under its decision's cost ceiling: those where even the least call costs
/// more are excluded; the body's completion limit is lowered so that none of the rest can cost
/// more. Err with the ceiling's record when no candidate is left.
fn apply_ceiling(
    ask: &Ask<'_>,
    model: &str,
    decision: &Decision,
    candidates: Vec<Candidate>,
    body: &mut Arc<Value>,
    exclusions: &mut Vec<Excluded>,
) -> Result<(Vec<Candidate>, Option<CostCeiling>), CostCeiling> {
    let Some(max) = decision.max_cost_usd else {
        return Ok((candidates, None));
    };
    let (fits, over) = ceiling::split(candidates, ask.prompt_tokens, max, ask.endpoint);
    for (c, least) in &over {
        let why = format!("the least call costs {least:.6} USD, over max_cost_usd {max}");
        exclusions.push(exclusion(model, c, &format!("policy rule {}", decision.rule_id), &why));
    }
    if fits.is_empty() {
        let minimum_cost_usd = over.iter().map(|(_, least)| *least).fold(f64::INFINITY, f64::min);
        return Err(CostCeiling { max_cost_usd: max, minimum_cost_usd, max_tokens: None });
    }
    let minimum_cost_usd =
        fits.iter().map(|c| ceiling::minimum_cost(c, ask.prompt_tokens, ask.endpoint)).fold(f64::INFINITY, f64::min);
    let max_tokens = match (ask.endpoint, ceiling::completion_cap(&fits, ask.prompt_tokens, max)) {
        (Endpoint::Chat, Some(cap)) => ceiling::cap_completion(Arc::make_mut(body), cap),
        _ => None,
    };
    Ok((fits, Some(CostCeiling { max_cost_usd: max, minimum_cost_usd, max_tokens })))
}

fn facts(caller: &Caller<'_>, model: &str, endpoint: Endpoint, cls: &Classification, stream: bool) -> RequestFacts {
    RequestFacts {
        key_name: caller.key_name.to_string(),
        team: caller.team.to_string(),
        model: model.to_string(),
        level: cls.level,
        entity_types: cls.entity_types(),
        client_label: caller.client_label.clone(),
        stream,
        endpoint: endpoint.as_str().to_string(),
        has_unscannable: !cls.unscannable.is_empty(),
    }
}

/// Count a request entry's deciding rule and its findings for `/metrics`.
fn observe_decision(rec: &RequestRecord) {
    let entities = rec.pii.entities.iter().map(|(kind, n)| (kind.clone(), *n));
    crate::metrics::global().decision(&rec.policy_rule, &rec.decision, entities);
}

fn exclusion(model: &str, c: &Candidate, by: &str, reason: &str) -> Excluded {
    Excluded {
        model: model.to_string(),
        provider: c.provider.name.clone(),
        region: c.provider.region.clone(),
        by: by.to_string(),
        reason: reason.to_string(),
    }
}

/// Decide each requested model, keep the providers its decision allows (policy first), then let
/// routing order them by the client's preferences and provider health. Consumes the request: it
/// becomes the upstream template.
pub(super) fn plan_routes(
    planner: &Planner<'_>,
    caller: &Caller<'_>,
    ask: &Ask<'_>,
    req: Value,
) -> Result<Planned, Refusal> {
    let Ask { endpoint, cls, stream, models, .. } = *ask;
    let prefs = ProviderPrefs::from_request(req.get("provider")).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let params = req.as_object().map(routing::request_parameters).unwrap_or_default();
    let needs = routing::Needs::of(&req);
    let policy = planner.policy;
    let template = Arc::new(upstream_template(req));
    let mut rng = rand::thread_rng();
    let mut routes = Vec::new();
    let mut first_refusal: Option<Decision> = None;
    let mut cost_refusal: Option<CostCeiling> = None;
    let mut exclusions: Vec<Excluded> = Vec::new();
    let mut known = 0;
    for requested in models {
        let (requested, free) = extras::free_variant(extras::without_online(requested));
        let (model, sort_override) = routing::split_model_suffix(requested);
        let Some(info) = planner.catalog.get(model) else {
            continue;
        };
        known += 1;
        let decision = policy.decide(&facts(caller, model, endpoint, cls, stream));
        if let Outcome::Deny { .. } = decision.outcome {
            first_refusal.get_or_insert(decision);
            continue;
        }
        let mut allowed = Vec::new();
        for c in &info.candidates {
            if free && (c.price.prompt_per_mtok != 0.0 || c.price.completion_per_mtok != 0.0) {
                exclusions.push(exclusion(model, c, "the :free variant", "the provider charges for this model"));
                continue;
            }
            if let Err(why) = decision.constraints.check(&c.provider) {
                exclusions.push(exclusion(model, c, &format!("policy rule {}", decision.rule_id), &why.to_string()));
            } else if let Err(why) = routing::check_fit(c, &needs) {
                exclusions.push(exclusion(model, c, "model limits", &why.to_string()));
            } else {
                allowed.push(c.clone());
            }
        }
        if allowed.is_empty() {
            first_refusal.get_or_insert(decision);
            continue;
        }
        let plan = routing::plan(allowed, &prefs, sort_override, &params, planner.health, &mut rng);
        for (provider, why) in &plan.excluded {
            if let Some(c) = info.candidates.iter().find(|c| &c.provider.name == provider) {
                exclusions.push(exclusion(model, c, "provider preferences", &why.to_string()));
            }
        }
        if plan.ordered.is_empty() {
            continue;
        }
        let (mut body, pseudonyms) = route_body(endpoint, &template, cls, &decision);
        let (candidates, ceiling) = match apply_ceiling(ask, model, &decision, plan.ordered, &mut body, &mut exclusions)
        {
            Ok(kept) => kept,
            Err(refused) => {
                if first_refusal.is_none() {
                    cost_refusal = Some(refused);
                }
                first_refusal.get_or_insert(decision);
                continue;
            }
        };
        routes.push(ModelRoute { model: model.to_string(), decision, candidates, body, pseudonyms, ceiling });
    }
    if known == 0 {
        return Err(ApiError::model_not_found(&models[0]).into());
    }
    if !routes.is_empty() {
        return Ok(Planned { routes, excluded: exclusions });
    }
    let error = match (&first_refusal, &cost_refusal) {
        (Some(d), Some(c)) => ApiError::over_cost_ceiling(&d.rule_id, c.max_cost_usd, c.minimum_cost_usd)
            .with_metadata(serde_json::json!({"rule": d.rule_id, "policy_version": d.policy_version,
                "max_cost_usd": c.max_cost_usd, "minimum_cost_usd": c.minimum_cost_usd, "excluded": exclusions})),
        (Some(d), None) if exclusions.is_empty() => {
            let reason = match &d.outcome {
                Outcome::Deny { reason } => reason.clone(),
                Outcome::Allow => "denied".into(),
            };
            ApiError::policy_denied(format!("denied by policy rule {}: {reason}", d.rule_id))
                .with_metadata(serde_json::json!({"rule": d.rule_id, "policy_version": d.policy_version}))
        }
        _ if !exclusions.is_empty() && exclusions.iter().all(|e| e.by == "model limits") => {
            ApiError::over_model_limits(no_provider_message(None, &exclusions))
                .with_metadata(serde_json::json!({ "excluded": exclusions }))
        }
        _ => {
            let rule = first_refusal.as_ref().map(|d| d.rule_id.clone());
            ApiError::no_provider(no_provider_message(rule.as_deref(), &exclusions))
                .with_metadata(serde_json::json!({ "rule": rule, "excluded": exclusions }))
        }
    };
    Err(Refusal { error, decision: first_refusal.map(Box::new), ceiling: cost_refusal, excluded: exclusions })
}

/// "no provider allowed ...: demo-us (region us not in allowed regions ...)".
fn no_provider_message(rule: Option<&str>, exclusions: &[Excluded]) -> String {
    let reasons: Vec<String> = exclusions.iter().map(|e| format!("{} ({})", e.provider, e.reason)).collect();
    let by = rule.map(|r| format!(" under policy rule {r}")).unwrap_or_default();
    format!("no provider may serve this request{by}; nothing was forwarded. Excluded: {}", reasons.join("; "))
}

/// SHA-256 of the exact bytes the first choice will be sent (its dialect, streaming options included),
/// so the request entry matches the first attempt's hash in the response entry.
fn first_upstream_body(state: &AppState, routes: &[ModelRoute], streaming: bool) -> Option<EncodedBody> {
    let route = routes.first()?;
    let candidate = route.candidates.first()?;
    let upstream = state.upstreams.get(&candidate.provider.name)?;
    let bytes = upstream.encode_request(&route.body, &candidate.upstream_model, streaming).ok()?;
    Some(EncodedBody {
        model: route.model.clone(),
        provider: candidate.provider.name.clone(),
        upstream_model: candidate.upstream_model.clone(),
        sha256: sha256_hex(&bytes),
        bytes,
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

#[cfg(test)]
mod tests {
    use super::new_generation_id;

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
