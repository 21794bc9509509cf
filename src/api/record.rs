//! Every audit record the request path writes, built in one place: the request entry written
//! ahead of any upstream byte, one attempt per upstream try, and the response entry of an answer or
//! a failure; and the bodies kept beside the log.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::time::Instant;

use super::exchange::{Endpoint, Exchange, ModelRoute, Outcome};
use super::{ApiError, AppState};
use crate::accounting::ApiKey;
use crate::audit::{Attempt, BodyStorage, PiiSummary, Record, RequestRecord, ResponseRecord};
use crate::offer::Candidate;
use crate::pii::{self, Classification, Pseudonyms};
use crate::policy::Decision;

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

#[allow(clippy::too_many_arguments)]
pub fn request_record(
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
        // Filled in by the caller, which applied the ceiling while planning.
        cost_ceiling: None,
        excluded: Vec::new(),
        preset: None,
        // Filled in by admission, which knows the dialect the client spoke.
        route: None,
    }
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
        response_sha256: sha256_hex(&serde_json::to_vec(&err.body()).unwrap_or_default()),
        ..Default::default()
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
        billed_to: None,
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
    observe(&rec);
    let late = withheld(&rec);
    state.audit.append_outcome(Record::Response(rec), Record::Response(late), settle_late).await.map_err(|e| {
        tracing::error!(error = %e, "response audit append failed after forwarding; the outcome is kept for later");
        ApiError::audit_unavailable_after_forward(answered)
    })
}

/// Count the response entry and its upstream attempts for `/metrics`.
fn observe(rec: &ResponseRecord) {
    let metrics = crate::metrics::global();
    metrics.response(rec.model.as_deref(), rec.provider.as_deref(), rec.status);
    for a in &rec.attempts {
        let took = std::time::Duration::from_secs_f64(a.latency_ms.max(0.0) / 1000.0);
        metrics.upstream_attempt(&a.provider, a.status, took);
    }
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
    let stored = match state.config.audit.store_bodies {
        BodyStorage::None => return Ok(()),
        BodyStorage::Redacted => redacted_body(bytes),
        BodyStorage::Full => bytes.to_vec(),
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

#[cfg(test)]
mod tests {
    use super::redacted_body;

    #[test]
    fn redacted_bodies_decode_json_escapes_before_scanning() {
        let body = br#"{"messages":[{"role":"user","content":"IBAN CH93\u00a00076\u00a02011\u00a06238\u00a05295\u00a07"}],"metadata":{"k":"anna@example.ch"}}"#;
        let stored = String::from_utf8(redacted_body(body)).unwrap();
        assert!(stored.contains("IBAN <IBAN_CODE>"), "{stored}");
        assert!(stored.contains("<EMAIL_ADDRESS>") && !stored.contains("anna@"), "{stored}");
        let sse = redacted_body(b"data: {\"x\": 1} anna@example.ch\n\n");
        assert!(!String::from_utf8_lossy(&sse).contains("anna@"));
    }
}
