//! Criterion benchmarks of the routing hot path: planning one model over a handful of
//! providers (default load balancing, sorted, filtered) and recording health outcomes.

use auditgate::offer::{Candidate, Price, ProviderProfile};
use auditgate::routing::{plan_at, AttemptLoop, ErrorKind, Health, ProviderPrefs, RetryPolicy, Sort};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn candidates(n: usize) -> Vec<Candidate> {
    (0..n)
        .map(|i| Candidate {
            provider: ProviderProfile {
                name: format!("provider-{i}"),
                region: "eu".into(),
                country: "FR".into(),
                zdr: i % 2 == 0,
                data_collection: i % 3 == 0,
            }
            .into(),
            public_model: "demo/echo".into(),
            upstream_model: format!("echo-{i}"),
            price: Price {
                prompt_per_mtok: 0.5 + i as f64,
                completion_per_mtok: 1.5 + i as f64,
                cached_prompt_per_mtok: None,
            },
            supported_parameters: vec!["tools".into(), "temperature".into()].into(),
            limits: auditgate::offer::Limits { context_length: Some(128_000), ..Default::default() },
        })
        .collect()
}

fn warmed_health(n: usize, now: Instant) -> Health {
    let health = Health::default();
    for i in 0..n {
        let name = format!("provider-{i}");
        health.record_success(&name, now, Duration::from_millis(200 + 50 * i as u64), 400);
    }
    health.record_failure("provider-1", now, Some(503), ErrorKind::Status);
    health
}

fn bench_plan(c: &mut Criterion) {
    let now = Instant::now();
    let health = warmed_health(8, now);
    let cands = candidates(8);
    let mut rng = StdRng::seed_from_u64(1);
    let default_prefs = ProviderPrefs::default();
    let filtering: ProviderPrefs = serde_json::from_value(serde_json::json!({
        "order": ["provider-4"], "ignore": ["provider-6"], "zdr": true,
        "data_collection": "deny", "require_parameters": true,
        "max_price": {"prompt": 6, "completion": 8}
    }))
    .unwrap_or_default();
    let params = vec!["tools".to_string()];

    c.bench_function("plan/8/default_load_balancing", |b| {
        b.iter_batched(
            || cands.clone(),
            |cs| plan_at(cs, &default_prefs, None, &[], &health, &mut rng, now),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("plan/8/sort_throughput", |b| {
        b.iter_batched(
            || cands.clone(),
            |cs| plan_at(cs, &default_prefs, Some(Sort::Throughput), &[], &health, &mut rng, now),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("plan/8/all_filters", |b| {
        b.iter_batched(
            || cands.clone(),
            |cs| plan_at(cs, &filtering, None, &params, &health, &mut rng, now),
            BatchSize::SmallInput,
        )
    });
}

fn bench_health(c: &mut Criterion) {
    let now = Instant::now();
    let health = warmed_health(8, now);
    c.bench_function("health/record_success", |b| {
        b.iter(|| health.record_success(black_box("provider-3"), now, Duration::from_millis(120), 300))
    });
    c.bench_function("health/allows", |b| b.iter(|| health.allows(black_box("provider-3"), now)));
}

fn bench_attempts(c: &mut Criterion) {
    let now = Instant::now();
    let health = warmed_health(8, now);
    let cands = candidates(3);
    c.bench_function("attempts/first_try_succeeds", |b| {
        b.iter_batched(
            || cands.clone(),
            |cs| {
                let mut l = AttemptLoop::new(RetryPolicy::default(), now);
                l.start_model("demo/echo", cs);
                let next = l.next(&health, now);
                l.succeeded(&health, now, 10);
                next
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench_plan, bench_health, bench_attempts);
criterion_main!(benches);
