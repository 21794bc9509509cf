//! Property tests of the attempt loop: whatever the upstreams answer, the loop only sends to
//! planned providers, respects the per-provider attempt limit, never sends to a provider whose
//! breaker refused, stops on fatal errors, and always terminates.

use auditgate::offer::{Candidate, Price, ProviderProfile};
use auditgate::routing::{
    AttemptLoop, AttemptOutcome, ErrorKind, Health, HealthConfig, Next, RetryClass, RetryPolicy, StopReason,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn cand(name: &str) -> Candidate {
    Candidate {
        provider: ProviderProfile {
            name: name.into(),
            region: "ch".into(),
            country: "CH".into(),
            zdr: true,
            data_collection: false,
        }
        .into(),
        public_model: "m".into(),
        upstream_model: "m".into(),
        price: Price::default(),
        supported_parameters: Default::default(),
        limits: Default::default(),
    }
}

/// An upstream answer: success, or a failure with status, kind and Retry-After seconds.
#[derive(Debug, Clone)]
enum Answer {
    Ok,
    Fail(Option<u16>, ErrorKind, Option<u64>),
}

fn answer() -> impl Strategy<Value = Answer> {
    let status = proptest::option::of(proptest::sample::select(vec![400, 401, 404, 422, 429, 500, 502, 503, 504]));
    let kind = proptest::sample::select(vec![
        ErrorKind::Status,
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::InvalidResponse,
        ErrorKind::Cancelled,
    ]);
    prop_oneof![
        1 => Just(Answer::Ok),
        4 => (status, kind, proptest::option::of(0..10u64)).prop_map(|(s, k, r)| Answer::Fail(s, k, r)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn attempt_loop_is_bounded_and_faithful(
        providers in proptest::sample::subsequence((0..5usize).collect::<Vec<_>>(), 0..=5),
        answers in proptest::collection::vec(answer(), 0..40),
        max_attempts in 1..4u32,
        step_ms in 0..4000u64,
        seed in any::<u64>(),
    ) {
        // Distinct providers, as `plan()` produces.
        let plan: Vec<Candidate> = providers.iter().map(|i| cand(&format!("p{i}"))).collect();
        let policy = RetryPolicy {
            max_attempts_per_provider: max_attempts,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            per_attempt_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(20),
        };
        let health = Health::new(HealthConfig { consecutive_failures: 2, ..HealthConfig::default() });
        let mut rng = StdRng::seed_from_u64(seed);
        let t0 = Instant::now();
        let mut now = t0;
        let mut l = AttemptLoop::new(policy.clone(), t0);
        l.start_model("m", plan.clone());
        let mut answers = answers.into_iter();
        let bound = plan.len() * max_attempts as usize + plan.len() + 1;
        let mut end = None;
        for _ in 0..bound {
            match l.next(&health, now) {
                Next::Attempt(t) => {
                    prop_assert!(plan.contains(&t.candidate));
                    prop_assert!(t.timeout <= policy.per_attempt_timeout && !t.timeout.is_zero());
                    prop_assert!(t.delay <= policy.max_backoff);
                    now += t.delay + Duration::from_millis(step_ms);
                    match answers.next().unwrap_or(Answer::Ok) {
                        Answer::Ok => l.succeeded(&health, now, 10),
                        Answer::Fail(s, k, r) => {
                            l.failed(&health, now, s, k, r.map(Duration::from_secs), &mut rng)
                        }
                    }
                }
                other => { end = Some(other); break; }
            }
        }
        prop_assert!(end.is_some(), "loop did not end within {bound} steps");
        let log = l.attempts();
        let mut per_provider: HashMap<(usize, &str), u32> = HashMap::new();
        // Plan positions are visited in order; count sent attempts per position.
        let mut position = 0usize;
        for a in log {
            while plan.get(position).is_some_and(|c| c.provider.name != a.provider) {
                position += 1;
            }
            prop_assert!(position < plan.len(), "attempt outside plan order: {a:?}");
            if !matches!(a.outcome, AttemptOutcome::Skipped { .. }) {
                *per_provider.entry((position, a.provider.as_str())).or_default() += 1;
            }
        }
        prop_assert!(per_provider.values().all(|n| *n <= max_attempts), "{per_provider:?}");
        let fatal = log.iter().any(|a| matches!(a.outcome, AttemptOutcome::Failed { class: RetryClass::Fatal, .. }));
        if fatal {
            prop_assert_eq!(&end, &Some(Next::Stop(StopReason::Fatal)));
            let last = log.last().map(|a| &a.outcome);
            let last_fatal = matches!(last, Some(AttemptOutcome::Failed { class: RetryClass::Fatal, .. }));
            prop_assert!(last_fatal, "nothing is sent after a fatal error");
        }
        if log.iter().any(|a| a.outcome == AttemptOutcome::Success) {
            prop_assert_eq!(&end, &Some(Next::Stop(StopReason::Succeeded)));
        }
    }
}
