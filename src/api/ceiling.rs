//! A policy rule's cost ceiling (`max_cost_usd`), applied before a call leaves. The least a call
//! can cost at a provider is its estimated prompt and one completion token; a provider where even
//! that is over the ceiling is not tried, and when no provider is left the call is refused (402).
//! At the providers that remain, the completion is capped (`max_tokens`) so that no answer can
//! cost more than the ceiling. Prompt tokens are estimated from the body's size, as the credit
//! reservation does.

use serde_json::Value;

use super::exchange::Endpoint;
use crate::offer::Candidate;

/// Bytes of request body per prompt token, for the estimate (about four for Latin text; the
/// JSON around the text makes the estimate high rather than low).
const BYTES_PER_TOKEN: usize = 4;

/// The estimated prompt tokens of a request body of `body_len` bytes.
pub fn prompt_tokens(body_len: usize) -> u64 {
    body_len.div_ceil(BYTES_PER_TOKEN) as u64
}

/// The least a call can cost at `c`: its prompt, and one completion token for a chat call.
pub fn minimum_cost(c: &Candidate, prompt_tokens: u64, endpoint: Endpoint) -> f64 {
    let completion = match endpoint {
        Endpoint::Chat => c.price.completion_per_mtok,
        Endpoint::Embeddings => 0.0,
    };
    (prompt_tokens as f64 * c.price.prompt_per_mtok + completion) / 1_000_000.0
}

/// Completion tokens a call may use at `c` and stay within `max_cost_usd`; None when completions
/// are free there (no cap needed).
fn completion_room(c: &Candidate, prompt_tokens: u64, max_cost_usd: f64) -> Option<u64> {
    if c.price.completion_per_mtok <= 0.0 {
        return None;
    }
    let left = max_cost_usd - prompt_tokens as f64 * c.price.prompt_per_mtok / 1_000_000.0;
    Some((left * 1_000_000.0 / c.price.completion_per_mtok).floor().max(0.0) as u64)
}

/// Split `candidates` into those where the call fits under the ceiling and those where it cannot,
/// each of the latter with its minimum cost.
pub fn split(
    candidates: Vec<Candidate>,
    prompt_tokens: u64,
    max_cost_usd: f64,
    endpoint: Endpoint,
) -> (Vec<Candidate>, Vec<(Candidate, f64)>) {
    let mut fits = Vec::new();
    let mut over = Vec::new();
    for c in candidates {
        let least = minimum_cost(&c, prompt_tokens, endpoint);
        if least > max_cost_usd {
            over.push((c, least));
        } else {
            fits.push(c);
        }
    }
    (fits, over)
}

/// The completion cap that keeps a call within the ceiling at every one of `candidates` (the
/// dearest decides), or None when none is needed.
pub fn completion_cap(candidates: &[Candidate], prompt_tokens: u64, max_cost_usd: f64) -> Option<u64> {
    candidates.iter().filter_map(|c| completion_room(c, prompt_tokens, max_cost_usd)).min()
}

/// Lower the body's completion limit to `cap` when it asks for more or for no limit; returns the
/// limit the body now has if it was lowered. `max_completion_tokens` is kept if the client used
/// it, `max_tokens` otherwise (both when both were sent).
pub fn cap_completion(body: &mut Value, cap: u64) -> Option<u64> {
    let obj = body.as_object_mut()?;
    let asked = ["max_completion_tokens", "max_tokens"].iter().filter_map(|k| obj.get(*k)?.as_u64()).min();
    if asked.is_some_and(|n| n <= cap) {
        return None;
    }
    let keys: Vec<&str> =
        ["max_completion_tokens", "max_tokens"].into_iter().filter(|k| obj.contains_key(*k)).collect();
    let keys = if keys.is_empty() { vec!["max_tokens"] } else { keys };
    for k in keys {
        obj.insert(k.to_string(), Value::from(cap));
    }
    Some(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::{Price, ProviderProfile};
    use std::sync::Arc;

    fn candidate(prompt: f64, completion: f64) -> Candidate {
        Candidate {
            provider: Arc::new(ProviderProfile {
                name: "p".into(),
                region: "ch".into(),
                country: "CH".into(),
                zdr: false,
                data_collection: false,
            }),
            public_model: "m".into(),
            upstream_model: "m".into(),
            price: Price { prompt_per_mtok: prompt, completion_per_mtok: completion, cached_prompt_per_mtok: None },
            supported_parameters: Arc::from(Vec::new()),
            limits: Default::default(),
        }
    }

    #[test]
    fn the_cap_keeps_prompt_and_completion_under_the_ceiling() {
        // 1,000 prompt tokens at 1 USD/M = 0.001; 0.002 left at 4 USD/M = 500 completion tokens.
        let c = [candidate(1.0, 4.0)];
        let cap = completion_cap(&c, 1_000, 0.003).unwrap();
        assert_eq!(cap, 500);
        let cost = (1_000.0 * 1.0 + cap as f64 * 4.0) / 1e6;
        assert!(cost <= 0.003 + 1e-12, "{cost}");
        assert_eq!(completion_cap(&[candidate(1.0, 0.0)], 1_000, 0.003), None);
    }

    #[test]
    fn a_zero_ceiling_leaves_only_free_providers() {
        let (fits, over) = split(vec![candidate(0.1, 0.4), candidate(0.0, 0.0)], 10, 0.0, Endpoint::Chat);
        assert_eq!(fits.len(), 1);
        assert_eq!(fits[0].price.prompt_per_mtok, 0.0);
        assert_eq!(over.len(), 1);
        assert!(over[0].1 > 0.0);
    }

    #[test]
    fn a_body_asking_more_than_the_cap_is_lowered_and_one_asking_less_is_kept() {
        let mut body = serde_json::json!({"max_tokens": 4000});
        assert_eq!(cap_completion(&mut body, 100), Some(100));
        assert_eq!(body["max_tokens"], 100);
        let mut body = serde_json::json!({"max_completion_tokens": 50});
        assert_eq!(cap_completion(&mut body, 100), None);
        assert_eq!(body["max_completion_tokens"], 50);
        let mut body = serde_json::json!({});
        assert_eq!(cap_completion(&mut body, 7), Some(7));
        assert_eq!(body["max_tokens"], 7);
    }
}
