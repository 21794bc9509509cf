//! The routing pieces glued together the way the gateway uses them: `models` fallback, model
//! suffixes, the policy filter applied first, the planner, and the attempt loop against a
//! scripted upstream. Shows that a policy-excluded provider is never attempted, even when the
//! client names it in `provider.order`.

use auditgate::offer::{Candidate, Price, ProviderProfile};
use auditgate::policy::RouteConstraints;
use auditgate::routing::{
    model_sequence, plan_at, request_parameters, split_model_suffix, AttemptLoop, AttemptOutcome, ErrorKind, Health,
    Next, ProviderPrefs, RetryPolicy, StopReason,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn catalogue(model: &str) -> Vec<Candidate> {
    let entry = |name: &str, region: &str, price: f64| Candidate {
        provider: ProviderProfile {
            name: name.into(),
            region: region.into(),
            country: region.to_uppercase(),
            zdr: true,
            data_collection: false,
        }
        .into(),
        public_model: model.into(),
        upstream_model: format!("{name}/{model}"),
        price: Price { prompt_per_mtok: price, completion_per_mtok: price, cached_prompt_per_mtok: None },
        supported_parameters: vec!["temperature".into(), "tools".into()].into(),
        limits: Default::default(),
    };
    match model {
        "big" => vec![entry("us-cheap", "us", 0.1), entry("ch-one", "ch", 2.0)],
        "small" => vec![entry("ch-two", "ch", 1.0), entry("eu-one", "eu", 0.5)],
        _ => vec![],
    }
}

/// What the upstreams answer in this scenario: ch-one is down, everything else works.
fn upstream(provider: &str) -> Result<u64, (Option<u16>, ErrorKind)> {
    match provider {
        "ch-one" => Err((Some(503), ErrorKind::Status)),
        _ => Ok(42),
    }
}

#[test]
fn policy_then_preferences_then_attempts() {
    let body = json!({
        "model": "big:floor",
        "models": ["small"],
        "temperature": 0.1,
        "provider": {"order": ["us-cheap"], "require_parameters": true}
    });
    let policy = RouteConstraints { regions: Some(BTreeSet::from(["ch".to_string()])), ..Default::default() };
    let prefs = ProviderPrefs::from_request(body.get("provider")).expect("valid provider object");
    let params = body.as_object().map(request_parameters).unwrap_or_default();
    let models: Vec<String> = body["models"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let sequence = model_sequence(body["model"].as_str(), Some(&models)).expect("a model");

    let health = Health::default();
    let mut rng = StdRng::seed_from_u64(9);
    let t0 = Instant::now();
    let mut attempts = AttemptLoop::new(RetryPolicy { max_attempts_per_provider: 1, ..RetryPolicy::default() }, t0);
    let mut served_by = None;
    'models: for entry in &sequence {
        let (model, sort) = split_model_suffix(entry);
        let allowed: Vec<Candidate> =
            catalogue(model).into_iter().filter(|c| policy.check(&c.provider).is_ok()).collect();
        let plan = plan_at(allowed, &prefs, sort, &params, &health, &mut rng, t0);
        attempts.start_model(model, plan.ordered);
        loop {
            match attempts.next(&health, t0) {
                Next::Attempt(t) => match upstream(&t.candidate.provider.name) {
                    Ok(tokens) => attempts.succeeded(&health, t0 + Duration::from_millis(80), tokens),
                    Err((status, kind)) => attempts.failed(&health, t0, status, kind, None, &mut rng),
                },
                Next::ModelExhausted => continue 'models,
                Next::Stop(reason) => {
                    served_by = Some((reason, attempts.attempts().last().map(|a| a.provider.clone())));
                    break 'models;
                }
            }
        }
    }

    assert_eq!(served_by, Some((StopReason::Succeeded, Some("ch-two".to_string()))));
    let tried: Vec<(&str, &str)> =
        attempts.attempts().iter().map(|a| (a.model.as_str(), a.provider.as_str())).collect();
    // us-cheap is named in `order` but outside the policy: never attempted. eu-one likewise.
    assert_eq!(tried, [("big", "ch-one"), ("small", "ch-two")]);
    assert!(matches!(attempts.attempts()[0].outcome, AttemptOutcome::Failed { status: Some(503), .. }));
    assert_eq!(health.latency_ms("ch-two"), Some(80.0));
}
