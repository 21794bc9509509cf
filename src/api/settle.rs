//! Charging a finished exchange: the key's credit reservation settled with the real cost, and the
//! generation record kept (off the request path), at once or, when the response entry was written
//! late, once the audit writer has it on disk.

use super::exchange::{Exchange, Outcome};
use super::AppState;
use crate::accounting::Generation;
use crate::offer::Candidate;

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
