//! What the gateway tells the log: the typed payloads of request, response and system entries.
//! The audit module turns these into the exact bytes that are hashed and stored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// Records are built once per exchange and moved, never stored in bulk: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Request(RequestRecord),
    Response(ResponseRecord),
    System(SystemRecord),
}

/// PII findings without raw values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PiiSummary {
    pub level: String,
    pub entities: BTreeMap<String, usize>,
    pub paths: Vec<String>,
    pub unscannable: Vec<String>,
    pub special_categories: Vec<String>,
}

/// Written and made durable before any byte goes upstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub generation_id: String,
    pub endpoint: String,
    pub key_id: String,
    pub key_name: String,
    pub team: String,
    pub client_addr: String,
    pub models: Vec<String>,
    pub stream: bool,
    pub policy_version: String,
    pub policy_rule: String,
    /// `allow`, `redact` or `deny`.
    pub decision: String,
    pub pii: PiiSummary,
    /// Every provider the request may be sent to, in the order they will be tried (`name@region`).
    pub candidates: Vec<String>,
    /// The first choice and its region.
    pub provider: Option<String>,
    pub region: Option<String>,
    pub body_sha256: String,
    /// SHA-256 of the body sent upstream (after redaction and model rewriting) for the first choice.
    pub upstream_body_sha256: Option<String>,
    /// The deciding rule's cost ceiling (`max_cost_usd`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_ceiling: Option<CostCeiling>,
    /// Providers of the requested models the request was not sent to, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<Excluded>,
    /// The preset the request selected (`model: "@preset/NAME"`), with its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<PresetUsed>,
    /// The route the call came in on (`/v1/chat/completions`, `/v1/messages`, `/v1/completions`,
    /// `/v1/responses`, `/v1/embeddings`): `endpoint` is what the gateway made of it. Absent in
    /// entries written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// A preset as one request used it: its name and the hex SHA-256 of its definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PresetUsed {
    pub name: String,
    pub version: String,
}

/// A provider passed over for one requested model. `by` names what excluded it: `policy rule
/// ID`, `provider preferences`, `model limits` (context length, completion limit, input
/// modality) or `the :free variant`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Excluded {
    pub model: String,
    pub provider: String,
    pub region: String,
    pub by: String,
    pub reason: String,
}

/// A policy rule's cost ceiling as applied to one request (docs/policy.md, `max_cost_usd`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostCeiling {
    pub max_cost_usd: f64,
    /// The least the call could cost at the cheapest provider it may go to, estimated before
    /// sending (above `max_cost_usd`: the call was refused).
    pub minimum_cost_usd: f64,
    /// The completion limit the gateway set so that no answer costs more, if it lowered it.
    pub max_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub provider: String,
    pub region: String,
    pub model: String,
    /// HTTP status, or None for a connection error or timeout.
    pub status: Option<u16>,
    pub latency_ms: f64,
    pub error: Option<String>,
    pub upstream_body_sha256: String,
    /// `team:NAME` when the call went out with that team's own credential (`[[teams]]`), so the
    /// provider billed the team's account, not the operator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billed_to: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub cached_tokens: u64,
}

/// Written after the exchange ends (or fails).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseRecord {
    pub request_seq: u64,
    pub generation_id: String,
    pub attempts: Vec<Attempt>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub status: u16,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    pub finish_reason: Option<String>,
    pub error: Option<String>,
    pub streamed: bool,
    pub cancelled: bool,
    pub latency_ms: f64,
    /// SHA-256 of the response bytes as delivered to the client (the whole SSE stream when streaming).
    pub response_sha256: String,
}

/// Gateway life-cycle and configuration events.
///
/// `Recovered` is written when a writer opens a log the previous one did not close (a crash): the
/// last entry before it, and how many request entries had no outcome entry then; one `Outcome`
/// entry per such request follows. `Outcome` ends an exchange cut short without a response entry
/// (the gateway stopped in the middle): [`OUTCOME_GATEWAY_STOPPED`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SystemRecord {
    Genesis {
        origin: String,
        public_key: String,
    },
    GatewayStart {
        version: String,
        config_sha256: String,
    },
    GatewayStop {
        reason: String,
    },
    PolicyLoaded {
        version: String,
        files: BTreeMap<String, String>,
    },
    PolicyRejected {
        errors: Vec<String>,
        files: BTreeMap<String, String>,
    },
    KeyRotated {
        old_public_key: String,
        new_public_key: String,
        signature_by_old: String,
    },
    Recovered {
        last_seq_before: u64,
        requests_without_outcome: u64,
    },
    Outcome {
        request_seq: u64,
        outcome: String,
    },
    /// A witness refused a checkpoint (docs/audit-format.md 10): `status` is its HTTP answer
    /// (409 stale or rolled back, 422 failed consistency proof, 403 or 404 not configured for this
    /// log), `witness_size` the size it said it cosigned last (409), `rolled_back` whether that is
    /// more than the log holds (the gateway then refuses every call).
    WitnessRefused {
        witness: String,
        url: String,
        tree_size: u64,
        status: u16,
        witness_size: Option<u64>,
        rolled_back: bool,
        detail: String,
    },
    /// A time-stamping authority refused to stamp a checkpoint, or answered with a token that
    /// did not check out (docs/audit-format.md 11.2): `status` is its HTTP answer (200 when the
    /// reply itself said no, or its token was bad), `detail` says what was wrong. Nothing it sent
    /// was stored.
    TimestampRefused {
        url: String,
        tree_size: u64,
        status: u16,
        detail: String,
    },
    /// A body of entry `seq` was stored sealed: the chain commits to its ciphertext's SHA-256
    /// (docs/audit-format.md 8), never to the body itself.
    BodyStored {
        seq: u64,
        role: String,
        mode: String,
        sha256: String,
        size: u64,
        retain_until: String,
    },
    /// The stored bodies of entry `seq` were erased (their keys destroyed). `forced` when that
    /// was before the statutory hold ended.
    BodyErased {
        seq: u64,
        roles: Vec<String>,
        by: String,
        reason: String,
        forced: bool,
    },
    /// An API key was created, changed or revoked over HTTP (`/api/v1/keys`) by the provisioning
    /// key `by`: `action` is `create`, `update` or `revoke` (`... failed` when the store then
    /// refused), `changes` the fields set, as `field=value` (never a secret).
    KeyChanged {
        by: String,
        action: String,
        key_id: String,
        name: String,
        changes: Vec<String>,
    },
    /// Someone read audit data (GeBueV art. 8): who, what, which entries, and why if they said.
    Access {
        by: String,
        action: String,
        from_seq: Option<u64>,
        to_seq: Option<u64>,
        detail: Option<String>,
        reason: Option<String>,
    },
}

/// The outcome of a request cut short by the gateway's stop: whether the upstream answered, and
/// what it charged, is not known.
pub const OUTCOME_GATEWAY_STOPPED: &str = "unknown (gateway stopped)";
