//! Health book: live per-provider statistics (EWMA latency, throughput, error rate) and a
//! circuit breaker, shared by all requests through an `Arc<Health>`.
//!
//! Breaker state machine:
//! - Closed: all traffic passes. Opens after `consecutive_failures` failures in a row, or when
//!   the failure ratio in the current window reaches `error_rate_threshold` over at least
//!   `min_window_requests` outcomes.
//! - Open: refuses traffic until `open_for` has elapsed.
//! - HalfOpen: the first caller of [`Health::allows`] after the cool-down gets the single probe;
//!   others are refused while it is in flight. Success closes, failure re-opens. A probe that
//!   never reports back (client gone) is forgotten after `probe_timeout`, so one lost request
//!   cannot keep a provider out forever.
//!
//! Time is always passed in (`now: Instant`), which keeps the logic deterministic in tests.
//! Only provider faults count (see [`counts_against_provider`]); a 400 caused by the client's
//! body says nothing about the provider.

use crate::routing::retry::{counts_against_provider, ErrorKind};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Tuning of the health book. The defaults suit interactive LLM traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// Weight of a new sample in the moving averages (0 < alpha <= 1).
    pub ewma_alpha: f64,
    pub consecutive_failures: u32,
    pub error_rate_threshold: f64,
    pub min_window_requests: u32,
    /// Length of the tumbling window the error rate is counted in.
    pub window: Duration,
    /// Cool-down before a half-open probe.
    pub open_for: Duration,
    pub probe_timeout: Duration,
    /// A provider with a failure this recent is "unstable" for load balancing (OpenRouter
    /// prefers providers without significant outages in the last 30 seconds).
    pub stable_after: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            ewma_alpha: 0.2,
            consecutive_failures: 5,
            error_rate_threshold: 0.5,
            min_window_requests: 10,
            window: Duration::from_secs(60),
            open_for: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(120),
            stable_after: Duration::from_secs(30),
        }
    }
}

/// Breaker state as seen from outside, at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    /// Cooling down: attempts are refused.
    Open,
    /// Cool-down over: the next attempt is a probe (or a probe is in flight).
    HalfOpen,
}

/// A read-only snapshot of one provider's health, e.g. for a status endpoint or the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderStats {
    pub latency_ms: Option<f64>,
    pub throughput_tps: Option<f64>,
    /// EWMA of failures (1) and successes (0).
    pub error_rate: f64,
    pub consecutive_failures: u32,
    pub state: BreakerState,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Breaker {
    Closed,
    Open { until: Instant },
    HalfOpen { probe_since: Option<Instant> },
}

#[derive(Debug)]
struct Entry {
    latency_ms: Option<f64>,
    throughput_tps: Option<f64>,
    error_rate: f64,
    consecutive_failures: u32,
    window_start: Option<Instant>,
    window_ok: u32,
    window_failed: u32,
    last_failure: Option<Instant>,
    breaker: Breaker,
}

impl Entry {
    fn new() -> Self {
        Entry {
            latency_ms: None,
            throughput_tps: None,
            error_rate: 0.0,
            consecutive_failures: 0,
            window_start: None,
            window_ok: 0,
            window_failed: 0,
            last_failure: None,
            breaker: Breaker::Closed,
        }
    }

    /// Resets the error window when it has expired (tumbling window).
    fn roll_window(&mut self, now: Instant, window: Duration) {
        let expired = self.window_start.is_none_or(|start| now.saturating_duration_since(start) >= window);
        if expired {
            self.window_start = Some(now);
            self.window_ok = 0;
            self.window_failed = 0;
        }
    }

    fn state(&self, now: Instant) -> BreakerState {
        match self.breaker {
            Breaker::Closed => BreakerState::Closed,
            Breaker::Open { until } if now < until => BreakerState::Open,
            Breaker::Open { .. } | Breaker::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn should_open(&self, cfg: &HealthConfig) -> bool {
        let total = self.window_ok + self.window_failed;
        let rate_tripped = total >= cfg.min_window_requests
            && f64::from(self.window_failed) >= cfg.error_rate_threshold * f64::from(total);
        self.consecutive_failures >= cfg.consecutive_failures || rate_tripped
    }
}

/// Thread-safe health book. Lookups take a read lock on the map and a per-provider mutex, so
/// requests to different providers do not contend.
#[derive(Debug, Default)]
pub struct Health {
    cfg: HealthConfig,
    entries: RwLock<HashMap<String, Mutex<Entry>>>,
}

impl Health {
    pub fn new(cfg: HealthConfig) -> Self {
        Health { cfg, entries: RwLock::new(HashMap::new()) }
    }

    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    /// Runs `f` on the provider's entry, creating it on first use.
    fn with_entry<R>(&self, provider: &str, f: impl FnOnce(&mut Entry) -> R) -> R {
        if let Some(entry) = self.entries.read().get(provider) {
            return f(&mut entry.lock());
        }
        let mut map = self.entries.write();
        let entry = map.entry(provider.to_owned()).or_insert_with(|| Mutex::new(Entry::new()));
        f(entry.get_mut())
    }

    /// Runs `f` on an existing entry only; unknown providers give `None` without allocating.
    fn peek<R>(&self, provider: &str, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        self.entries.read().get(provider).map(|e| f(&e.lock()))
    }

    /// Records a successful call. `latency` is the time until the response (or the whole
    /// stream) finished; throughput is `completion_tokens / latency`.
    pub fn record_success(&self, provider: &str, now: Instant, latency: Duration, completion_tokens: u64) {
        let cfg = &self.cfg;
        self.with_entry(provider, |e| {
            let ms = latency.as_secs_f64() * 1000.0;
            e.latency_ms = Some(ewma(e.latency_ms, ms, cfg.ewma_alpha));
            let secs = latency.as_secs_f64();
            if completion_tokens > 0 && secs > 0.0 {
                let tps = completion_tokens as f64 / secs;
                e.throughput_tps = Some(ewma(e.throughput_tps, tps, cfg.ewma_alpha));
            }
            e.error_rate = ewma(Some(e.error_rate), 0.0, cfg.ewma_alpha);
            e.consecutive_failures = 0;
            e.roll_window(now, cfg.window);
            e.window_ok = e.window_ok.saturating_add(1);
            // Any success proves the provider answers again, including a late one while open.
            e.breaker = Breaker::Closed;
        });
    }

    /// Records a failed attempt. Failures that are not the provider's fault (the client's own
    /// 400/413/422, a cancelled request) are ignored, so callers may report every failure.
    pub fn record_failure(&self, provider: &str, now: Instant, status: Option<u16>, kind: ErrorKind) {
        if !counts_against_provider(status, kind) {
            return;
        }
        let cfg = &self.cfg;
        self.with_entry(provider, |e| {
            e.error_rate = ewma(Some(e.error_rate), 1.0, cfg.ewma_alpha);
            e.consecutive_failures = e.consecutive_failures.saturating_add(1);
            e.last_failure = Some(now);
            e.roll_window(now, cfg.window);
            e.window_failed = e.window_failed.saturating_add(1);
            e.breaker = match e.breaker {
                Breaker::HalfOpen { .. } => Breaker::Open { until: now + cfg.open_for },
                Breaker::Closed if e.should_open(cfg) => Breaker::Open { until: now + cfg.open_for },
                other => other,
            };
        });
    }

    /// Asks permission for one attempt. Closed: yes. Open: no until the cool-down ends, then the
    /// caller becomes the half-open probe (yes) and everyone else is refused until the probe
    /// reports through `record_success` / `record_failure`. Call this right before each attempt,
    /// not while planning.
    pub fn allows(&self, provider: &str, now: Instant) -> bool {
        let probe_timeout = self.cfg.probe_timeout;
        let closed = self.peek(provider, |e| e.breaker == Breaker::Closed);
        if closed.unwrap_or(true) {
            return true;
        }
        self.with_entry(provider, |e| match e.breaker {
            Breaker::Closed => true,
            Breaker::Open { until } if now < until => false,
            Breaker::Open { .. } => {
                e.breaker = Breaker::HalfOpen { probe_since: Some(now) };
                true
            }
            Breaker::HalfOpen { probe_since } => {
                let free = probe_since.is_none_or(|t| now.saturating_duration_since(t) >= probe_timeout);
                if free {
                    e.breaker = Breaker::HalfOpen { probe_since: Some(now) };
                }
                free
            }
        })
    }

    /// Breaker state without side effects (used by the planner).
    pub fn state(&self, provider: &str, now: Instant) -> BreakerState {
        self.peek(provider, |e| e.state(now)).unwrap_or(BreakerState::Closed)
    }

    /// Closed and no failure within `stable_after`: eligible for first-choice load balancing.
    pub fn is_stable(&self, provider: &str, now: Instant) -> bool {
        let after = self.cfg.stable_after;
        self.peek(provider, |e| {
            let recent = e.last_failure.is_some_and(|t| now.saturating_duration_since(t) < after);
            e.state(now) == BreakerState::Closed && !recent
        })
        .unwrap_or(true)
    }

    pub fn latency_ms(&self, provider: &str) -> Option<f64> {
        self.peek(provider, |e| e.latency_ms).flatten()
    }

    pub fn throughput_tps(&self, provider: &str) -> Option<f64> {
        self.peek(provider, |e| e.throughput_tps).flatten()
    }

    pub fn stats(&self, provider: &str, now: Instant) -> Option<ProviderStats> {
        self.peek(provider, |e| ProviderStats {
            latency_ms: e.latency_ms,
            throughput_tps: e.throughput_tps,
            error_rate: e.error_rate,
            consecutive_failures: e.consecutive_failures,
            state: e.state(now),
        })
    }
}

fn ewma(prev: Option<f64>, sample: f64, alpha: f64) -> f64 {
    match prev {
        Some(p) => p + alpha * (sample - p),
        None => sample,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "demo-ch";

    fn book() -> Health {
        Health::new(HealthConfig {
            consecutive_failures: 3,
            min_window_requests: 6,
            error_rate_threshold: 0.5,
            open_for: Duration::from_secs(10),
            probe_timeout: Duration::from_secs(60),
            ..HealthConfig::default()
        })
    }

    fn fail(h: &Health, now: Instant) {
        h.record_failure(P, now, Some(503), ErrorKind::Status);
    }

    fn ok(h: &Health, now: Instant) {
        h.record_success(P, now, Duration::from_millis(100), 10);
    }

    #[test]
    fn unknown_provider_is_closed_and_allowed() {
        let h = book();
        let t = Instant::now();
        assert_eq!(h.state(P, t), BreakerState::Closed);
        assert!(h.allows(P, t) && h.is_stable(P, t));
        assert!(h.stats(P, t).is_none());
    }

    #[test]
    fn opens_after_consecutive_failures() {
        let h = book();
        let t = Instant::now();
        fail(&h, t);
        fail(&h, t);
        assert_eq!(h.state(P, t), BreakerState::Closed);
        assert!(!h.is_stable(P, t), "a recent failure makes it unstable");
        fail(&h, t);
        assert_eq!(h.state(P, t), BreakerState::Open);
        assert!(!h.allows(P, t + Duration::from_secs(9)));
    }

    #[test]
    fn success_resets_consecutive_count() {
        let h = book();
        let t = Instant::now();
        fail(&h, t);
        fail(&h, t);
        ok(&h, t);
        fail(&h, t);
        fail(&h, t);
        assert_eq!(h.state(P, t), BreakerState::Closed);
    }

    #[test]
    fn opens_on_error_rate_in_window() {
        let h = book();
        let t = Instant::now();
        // Alternate so consecutive failures never reach 3: 3 failures of 6 = 50 %.
        for _ in 0..3 {
            ok(&h, t);
            fail(&h, t);
        }
        assert_eq!(h.state(P, t), BreakerState::Open);
    }

    #[test]
    fn error_window_expires() {
        let h = book();
        let t = Instant::now();
        for _ in 0..2 {
            ok(&h, t);
            fail(&h, t);
        }
        // The next window starts afresh: 1 failure in 2 outcomes is below the minimum volume.
        let later = t + Duration::from_secs(61);
        ok(&h, later);
        fail(&h, later);
        assert_eq!(h.state(P, later), BreakerState::Closed);
    }

    #[test]
    fn half_open_allows_a_single_probe_then_closes_on_success() {
        let h = book();
        let t = Instant::now();
        (0..3).for_each(|_| fail(&h, t));
        let after = t + Duration::from_secs(10);
        assert_eq!(h.state(P, after), BreakerState::HalfOpen);
        assert!(h.allows(P, after), "first caller is the probe");
        assert!(!h.allows(P, after), "second caller refused while probe in flight");
        ok(&h, after);
        assert_eq!(h.state(P, after), BreakerState::Closed);
        assert!(h.allows(P, after));
    }

    #[test]
    fn failed_probe_reopens() {
        let h = book();
        let t = Instant::now();
        (0..3).for_each(|_| fail(&h, t));
        let probe = t + Duration::from_secs(11);
        assert!(h.allows(P, probe));
        fail(&h, probe);
        assert_eq!(h.state(P, probe), BreakerState::Open);
        assert!(!h.allows(P, probe + Duration::from_secs(9)));
        assert!(h.allows(P, probe + Duration::from_secs(10)));
    }

    #[test]
    fn lost_probe_is_replaced_after_timeout() {
        let h = book();
        let t = Instant::now();
        (0..3).for_each(|_| fail(&h, t));
        let probe = t + Duration::from_secs(10);
        assert!(h.allows(P, probe));
        assert!(!h.allows(P, probe + Duration::from_secs(59)));
        assert!(h.allows(P, probe + Duration::from_secs(60)));
    }

    #[test]
    fn client_errors_do_not_count() {
        let h = book();
        let t = Instant::now();
        for _ in 0..10 {
            h.record_failure(P, t, Some(400), ErrorKind::Status);
            h.record_failure(P, t, None, ErrorKind::Cancelled);
        }
        assert_eq!(h.state(P, t), BreakerState::Closed);
        assert!(h.is_stable(P, t));
    }

    #[test]
    fn ewma_statistics() {
        let h = book();
        let t = Instant::now();
        h.record_success(P, t, Duration::from_millis(1000), 100);
        assert_eq!(h.latency_ms(P), Some(1000.0));
        assert_eq!(h.throughput_tps(P), Some(100.0));
        h.record_success(P, t, Duration::from_millis(2000), 0);
        let lat = h.latency_ms(P).unwrap_or_default();
        assert!((lat - 1200.0).abs() < 1e-9, "{lat}");
        assert_eq!(h.throughput_tps(P), Some(100.0), "no tokens: throughput unchanged");
        fail(&h, t);
        let stats = h.stats(P, t).expect("known provider");
        assert!((stats.error_rate - 0.2).abs() < 1e-9);
        assert_eq!(stats.consecutive_failures, 1);
    }

    #[test]
    fn shared_across_threads() {
        let h = std::sync::Arc::new(book());
        let t = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || (0..100).for_each(|_| ok(&h, t)))
            })
            .collect();
        handles.into_iter().for_each(|j| j.join().expect("thread"));
        assert_eq!(h.latency_ms(P), Some(100.0));
    }
}
