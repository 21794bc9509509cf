//! The attempt loop as a pure state machine: which candidate to try next, after what delay and
//! with which timeout, when to retry the same provider, move on, or stop. It also keeps the list
//! of attempts for the audit entry ("every attempt is in the audit entry").
//!
//! The gateway owns the I/O and the clock; for each model of the `models` sequence:
//!
//! ```text
//! attempts.start_model(model, plan.ordered);
//! loop {
//!     match attempts.next(&health, Instant::now()) {
//!         Next::Attempt(t) => { sleep(t.delay); send to t.candidate within t.timeout;
//!                               then attempts.succeeded(..) or attempts.failed(..) }
//!         Next::ModelExhausted => break,          // next model, or 502/503 after the last
//!         Next::Stop(reason) => return ...,       // Succeeded, Fatal (pass the 4xx on), TimedOut
//!     }
//! }
//! ```
//!
//! Before each attempt the loop asks [`Health::allows`]; a refused provider is skipped and
//! logged, never sent to. Every outcome is reported to the health book here, so the gateway does
//! not call `record_success` / `record_failure` itself for attempts made through this loop.
//! For streams, report success or failure only up to the first byte relayed to the client:
//! after that there is no fallback (OpenRouter ends the stream with an error event).

use crate::offer::Candidate;
use crate::routing::health::Health;
use crate::routing::retry::{retry_class, ErrorKind, RetryClass, RetryPolicy, Step};
use rand::Rng;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Handed out by [`AttemptLoop::next`], not reported yet.
    Pending,
    Success,
    Failed {
        status: Option<u16>,
        kind: ErrorKind,
        class: RetryClass,
    },
    /// Not sent: the provider's circuit breaker refused it.
    Skipped {
        reason: String,
    },
}

/// One line of the audit entry's attempt list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    /// The public model being tried (an entry of the `models` sequence).
    pub model: String,
    pub provider: String,
    pub upstream_model: String,
    /// When the attempt began (after its backoff), in ms since the request started.
    pub started_ms: u64,
    /// How long it ran, once reported.
    pub duration_ms: Option<u64>,
    pub outcome: AttemptOutcome,
}

/// An attempt to make: wait `delay`, then send to `candidate` with `timeout`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub candidate: Candidate,
    pub delay: Duration,
    pub timeout: Duration,
}

/// Why the loop ended for the whole request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Succeeded,
    /// The request itself is wrong (see [`retry_class`]): return the upstream error.
    Fatal,
    /// `total_timeout` is spent (the gateway answers 504).
    TimedOut,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Boxed: a ticket is far larger than the other variants.
    Attempt(Box<Ticket>),
    /// Every candidate of the current model failed or was skipped.
    ModelExhausted,
    Stop(StopReason),
}

/// State of the attempts of one request, across all its models.
#[derive(Debug)]
pub struct AttemptLoop {
    policy: RetryPolicy,
    started: Instant,
    model: String,
    plan: Vec<Candidate>,
    idx: usize,
    tries_here: u32,
    delay: Duration,
    in_flight: Option<(usize, Instant)>,
    stopped: Option<StopReason>,
    last_failure: Option<(Option<u16>, ErrorKind)>,
    log: Vec<AttemptRecord>,
}

impl AttemptLoop {
    pub fn new(policy: RetryPolicy, started: Instant) -> Self {
        AttemptLoop {
            policy,
            started,
            model: String::new(),
            plan: Vec::new(),
            idx: 0,
            tries_here: 0,
            delay: Duration::ZERO,
            in_flight: None,
            stopped: None,
            last_failure: None,
            log: Vec::new(),
        }
    }

    /// Starts trying `model` with its planned candidates (the output of `plan`).
    pub fn start_model(&mut self, model: &str, ordered: Vec<Candidate>) {
        self.model = model.to_owned();
        self.plan = ordered;
        self.idx = 0;
        self.tries_here = 0;
        self.delay = Duration::ZERO;
    }

    /// The next thing to do. An attempt still in flight is abandoned (logged, not counted
    /// against the provider), which makes a forgotten report harmless.
    pub fn next(&mut self, health: &Health, now: Instant) -> Next {
        if let Some(reason) = self.stopped {
            return Next::Stop(reason);
        }
        if self.in_flight.is_some() {
            self.abandon(now);
        }
        while let Some(candidate) = self.plan.get(self.idx) {
            let begins = now + self.delay;
            let Some(timeout) = self.policy.attempt_timeout(self.started, begins) else {
                self.stopped = Some(StopReason::TimedOut);
                return Next::Stop(StopReason::TimedOut);
            };
            if !health.allows(candidate.provider_name(), begins) {
                let reason = "circuit open".to_owned();
                let record = self.record(candidate, begins, AttemptOutcome::Skipped { reason });
                self.log.push(record);
                self.advance();
                continue;
            }
            let candidate = candidate.clone();
            let delay = std::mem::take(&mut self.delay);
            let record = self.record(&candidate, begins, AttemptOutcome::Pending);
            self.log.push(record);
            self.in_flight = Some((self.log.len() - 1, begins));
            return Next::Attempt(Box::new(Ticket { candidate, delay, timeout }));
        }
        Next::ModelExhausted
    }

    /// Reports success of the attempt in flight; the loop then stops with `Succeeded`.
    pub fn succeeded(&mut self, health: &Health, now: Instant, completion_tokens: u64) {
        if let Some((provider, latency)) = self.finish(now, AttemptOutcome::Success) {
            health.record_success(&provider, now, latency, completion_tokens);
            self.stopped = Some(StopReason::Succeeded);
        }
    }

    /// Reports failure of the attempt in flight and decides the next step. `retry_after` is the
    /// upstream's `Retry-After`, already parsed (see `parse_retry_after`).
    pub fn failed(
        &mut self,
        health: &Health,
        now: Instant,
        status: Option<u16>,
        kind: ErrorKind,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) {
        let class = retry_class(status, kind);
        let Some((provider, _)) = self.finish(now, AttemptOutcome::Failed { status, kind, class }) else {
            return;
        };
        health.record_failure(&provider, now, status, kind);
        self.last_failure = Some((status, kind));
        self.tries_here += 1;
        match self.policy.next_step(class, self.tries_here, retry_after, rng) {
            Step::Stop => self.stopped = Some(StopReason::Fatal),
            Step::RetrySame { after } => self.delay = after,
            Step::NextProvider => self.advance(),
        }
    }

    /// Every attempt so far, for the audit entry.
    pub fn attempts(&self) -> &[AttemptRecord] {
        &self.log
    }

    /// Status and kind of the last failed attempt (to shape the error returned to the client).
    pub fn last_failure(&self) -> Option<(Option<u16>, ErrorKind)> {
        self.last_failure
    }

    /// True when at least one request was actually sent upstream (else "no provider available",
    /// 503, is the right answer rather than 502).
    pub fn any_sent(&self) -> bool {
        self.log.iter().any(|a| !matches!(a.outcome, AttemptOutcome::Skipped { .. }))
    }

    /// Closes an attempt that was never reported. It counts as a try on its provider (so a caller
    /// that never reports still makes progress and terminates) but not against its health.
    fn abandon(&mut self, now: Instant) {
        let outcome = AttemptOutcome::Failed { status: None, kind: ErrorKind::Cancelled, class: RetryClass::Fatal };
        self.finish(now, outcome);
        self.tries_here += 1;
        if self.tries_here >= self.policy.max_attempts_per_provider {
            self.advance();
        }
    }

    fn advance(&mut self) {
        self.idx += 1;
        self.tries_here = 0;
        self.delay = Duration::ZERO;
    }

    /// The log record of an attempt on `c` of the current model.
    fn record(&self, c: &Candidate, begins: Instant, outcome: AttemptOutcome) -> AttemptRecord {
        AttemptRecord {
            model: self.model.clone(),
            provider: c.provider.name.clone(),
            upstream_model: c.upstream_model.clone(),
            started_ms: millis(begins.saturating_duration_since(self.started)),
            duration_ms: None,
            outcome,
        }
    }

    /// Closes the in-flight record; returns its provider and duration, or None if none was open.
    fn finish(&mut self, now: Instant, outcome: AttemptOutcome) -> Option<(String, Duration)> {
        let (i, begins) = self.in_flight.take()?;
        let record = self.log.get_mut(i)?;
        let took = now.saturating_duration_since(begins);
        record.duration_ms = Some(millis(took));
        record.outcome = outcome;
        Some((record.provider.clone(), took))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::{Price, ProviderProfile};
    use crate::routing::HealthConfig;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

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
            upstream_model: format!("{name}-m"),
            price: Price::default(),
            supported_parameters: Default::default(),
            limits: Default::default(),
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts_per_provider: 2,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            per_attempt_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
        }
    }

    fn ticket(next: Next) -> Ticket {
        match next {
            Next::Attempt(t) => *t,
            other => panic!("expected an attempt, got {other:?}"),
        }
    }

    #[test]
    fn retries_same_then_next_then_succeeds() {
        let h = Health::default();
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut l = AttemptLoop::new(policy(), t0);
        l.start_model("m", vec![cand("a"), cand("b")]);
        let t = ticket(l.next(&h, t0));
        assert_eq!((t.candidate.provider.name.as_str(), t.delay), ("a", Duration::ZERO));
        l.failed(&h, t0, Some(503), ErrorKind::Status, None, &mut rng);
        let t = ticket(l.next(&h, t0));
        assert_eq!(t.candidate.provider.name, "a", "503 retries the same provider");
        assert!(t.delay <= Duration::from_millis(100));
        l.failed(&h, t0, Some(503), ErrorKind::Status, None, &mut rng);
        let t = ticket(l.next(&h, t0));
        assert_eq!(t.candidate.provider.name, "b", "after two attempts move on");
        l.succeeded(&h, t0 + Duration::from_millis(500), 50);
        assert_eq!(l.next(&h, t0), Next::Stop(StopReason::Succeeded));
        assert_eq!(l.attempts().len(), 3);
        assert_eq!(l.attempts()[2].outcome, AttemptOutcome::Success);
        assert_eq!(h.latency_ms("b"), Some(500.0));
    }

    #[test]
    fn fatal_stops_everything() {
        let h = Health::default();
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut l = AttemptLoop::new(policy(), t0);
        l.start_model("m", vec![cand("a"), cand("b")]);
        ticket(l.next(&h, t0));
        l.failed(&h, t0, Some(422), ErrorKind::Status, None, &mut rng);
        assert_eq!(l.next(&h, t0), Next::Stop(StopReason::Fatal));
        assert_eq!(l.last_failure(), Some((Some(422), ErrorKind::Status)));
    }

    #[test]
    fn exhausts_model_then_continues_with_next_model() {
        let h = Health::default();
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut l = AttemptLoop::new(policy(), t0);
        l.start_model("m1", vec![cand("a")]);
        ticket(l.next(&h, t0));
        l.failed(&h, t0, None, ErrorKind::Timeout, None, &mut rng);
        assert_eq!(l.next(&h, t0), Next::ModelExhausted);
        l.start_model("m2", vec![cand("b")]);
        let t = ticket(l.next(&h, t0));
        assert_eq!(t.candidate.provider.name, "b");
        assert_eq!(l.attempts()[1].model, "m2");
    }

    #[test]
    fn retry_after_is_the_delay_and_long_ones_move_on() {
        let h = Health::default();
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut l = AttemptLoop::new(policy(), t0);
        l.start_model("m", vec![cand("a"), cand("b")]);
        ticket(l.next(&h, t0));
        l.failed(&h, t0, Some(429), ErrorKind::Status, Some(Duration::from_millis(700)), &mut rng);
        let t = ticket(l.next(&h, t0));
        assert_eq!((t.candidate.provider.name.as_str(), t.delay), ("a", Duration::from_millis(700)));
        assert_eq!(l.attempts()[1].started_ms, 700);
        l.failed(&h, t0, Some(429), ErrorKind::Status, Some(Duration::from_secs(60)), &mut rng);
        assert_eq!(ticket(l.next(&h, t0)).candidate.provider.name, "b");
    }

    #[test]
    fn open_breaker_is_skipped_and_logged() {
        let h = Health::new(HealthConfig { consecutive_failures: 1, ..HealthConfig::default() });
        let t0 = Instant::now();
        h.record_failure("a", t0, None, ErrorKind::Connect);
        let mut l = AttemptLoop::new(policy(), t0);
        l.start_model("m", vec![cand("a"), cand("b")]);
        assert_eq!(ticket(l.next(&h, t0)).candidate.provider.name, "b");
        assert!(matches!(l.attempts()[0].outcome, AttemptOutcome::Skipped { .. }));
        let mut only_a = AttemptLoop::new(policy(), t0);
        only_a.start_model("m", vec![cand("a")]);
        assert_eq!(only_a.next(&h, t0), Next::ModelExhausted);
        assert!(!only_a.any_sent(), "nothing was sent: 503, not 502");
    }

    #[test]
    fn total_timeout_stops_and_bounds_attempts() {
        let h = Health::default();
        let mut rng = StdRng::seed_from_u64(1);
        let t0 = Instant::now();
        let mut l = AttemptLoop::new(policy(), t0);
        l.start_model("m", vec![cand("a"), cand("b"), cand("c")]);
        ticket(l.next(&h, t0));
        let late = t0 + Duration::from_secs(25);
        l.failed(&h, late, None, ErrorKind::Timeout, None, &mut rng);
        assert_eq!(ticket(l.next(&h, late)).timeout, Duration::from_secs(5));
        let later = t0 + Duration::from_secs(30);
        l.failed(&h, later, None, ErrorKind::Timeout, None, &mut rng);
        assert_eq!(l.next(&h, later), Next::Stop(StopReason::TimedOut));
    }

    #[test]
    fn unreported_attempt_is_abandoned_without_blame() {
        let h = Health::new(HealthConfig { consecutive_failures: 1, ..HealthConfig::default() });
        let t0 = Instant::now();
        let mut l = AttemptLoop::new(policy(), t0);
        l.start_model("m", vec![cand("a")]);
        ticket(l.next(&h, t0));
        let again = ticket(l.next(&h, t0));
        assert_eq!(again.candidate.provider.name, "a");
        assert_eq!(l.next(&h, t0), Next::ModelExhausted, "abandoned attempts count as tries");
        assert!(h.allows("a", t0), "abandonment does not open the breaker");
        let reports_without_attempt = {
            let mut fresh = AttemptLoop::new(policy(), t0);
            fresh.succeeded(&h, t0, 1);
            fresh.next(&h, t0)
        };
        assert_eq!(reports_without_attempt, Next::ModelExhausted);
    }
}
