//! The types of one exchange as it passes through the request path: what was asked (endpoint,
//! dialect), what policy and routing planned for each model, and how it ended. Every step after
//! admission reads these; none of them is built anywhere but in admission.

use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

use crate::accounting::{ApiKey, Reservation};
use crate::audit::CostCeiling;
use crate::offer::{Candidate, Usage};
use crate::pii::Pseudonyms;
use crate::policy::Decision;

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
    /// The legacy completions API (`POST /v1/completions`).
    Completions,
    /// The Responses API (`POST /v1/responses`).
    Responses,
}

impl Dialect {
    /// The route a call of `endpoint` in this dialect came in on (`/api/v1/...` counts as
    /// `/v1/...`): recorded in its request entry and counted in `/metrics`.
    pub fn route(self, endpoint: Endpoint) -> &'static str {
        match (endpoint, self) {
            (Endpoint::Embeddings, _) => "/v1/embeddings",
            (_, Dialect::Anthropic) => "/v1/messages",
            (_, Dialect::Completions) => "/v1/completions",
            (_, Dialect::Responses) => "/v1/responses",
            (_, Dialect::OpenAi) => "/v1/chat/completions",
        }
    }
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
    /// The decision's cost ceiling as applied to this model's providers, if it has one.
    pub ceiling: Option<CostCeiling>,
}

/// A request that passed authentication, parsing and policy, with its write-ahead entry on disk.
pub struct Exchange {
    pub started: Instant,
    pub generation_id: String,
    pub key: Arc<ApiKey>,
    pub endpoint: Endpoint,
    pub stream: bool,
    /// The stream ends with a usage chunk (the default, as on OpenRouter; off with
    /// `stream_options.include_usage: false` or `usage.include: false`); the gateway always asks the
    /// upstream for usage, and passes the chunk on unless the client turned it off.
    pub client_wants_usage: bool,
    /// OpenRouter extras dropped under `[request] unsupported = "ignore"` (`x-auditgate-ignored`).
    pub ignored: Vec<String>,
    pub routes: Vec<ModelRoute>,
    pub request_seq: u64,
    pub dialect: Dialect,
    /// The request members the client's answer repeats (the Responses object's parameters).
    pub echo: Value,
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
    /// The headers every proxied answer carries, whole or streamed: the request's audit entry,
    /// our generation id, and the extras dropped under `[request] unsupported = "ignore"`.
    pub fn put_headers(&self, h: &mut axum::http::HeaderMap) {
        use axum::http::HeaderValue;
        h.insert("x-auditgate-entry", HeaderValue::from(self.request_seq));
        if let Ok(v) = HeaderValue::from_str(&self.generation_id) {
            h.insert("x-generation-id", v);
        }
        if !self.ignored.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&self.ignored.join(", ")) {
                h.insert("x-auditgate-ignored", v);
            }
        }
    }

    /// A streamed chat answer (embeddings are never streamed).
    pub fn is_streaming(&self) -> bool {
        self.stream && self.endpoint == Endpoint::Chat
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
