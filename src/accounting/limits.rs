//! Per-key limits enforced in the gateway process: rate limits per minute (requests and tokens)
//! and credit limits with reservations.
//!
//! Credit: each admitted request reserves an estimate of its cost before anything is forwarded;
//! a request is refused (402) when spend plus every in-flight reservation plus its own estimate
//! would pass the key's limit. When the call ends the reservation is replaced by the real cost, so
//! concurrent requests can overspend only by what their real costs exceed their estimates.
//!
//! Rates: a sliding-window counter per key (this minute's count plus the previous minute's,
//! weighted by how much of it still lies in the last 60 seconds): constant memory per key, no
//! per-request allocation. Tokens are counted when a call ends, requests when it is admitted.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ApiKey;

const WINDOW: Duration = Duration::from_secs(60);

/// A per-minute sliding-window counter.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    current: u64,
    previous: u64,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window { start: now, current: 0, previous: 0 }
    }

    fn roll(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed >= WINDOW * 2 {
            *self = Window::new(now);
        } else if elapsed >= WINDOW {
            self.previous = self.current;
            self.current = 0;
            self.start += WINDOW;
        }
    }

    /// Estimated count over the last 60 seconds.
    fn estimate(&self, now: Instant) -> f64 {
        let into = now.saturating_duration_since(self.start).as_secs_f64() / WINDOW.as_secs_f64();
        self.previous as f64 * (1.0 - into.min(1.0)) + self.current as f64
    }

    fn reset_in(&self, now: Instant) -> Duration {
        (self.start + WINDOW).saturating_duration_since(now)
    }
}

/// Why a request is refused by a limit, with what the client needs to retry well.
#[derive(Debug, Clone, PartialEq)]
pub enum LimitError {
    /// 429: requests or tokens per minute used up.
    RateLimited { what: &'static str, limit: u64, retry_after: Duration },
    /// 402: the credit limit would be passed.
    Credit { limit: f64, spent: f64, reserved: f64, estimate: f64 },
}

#[derive(Debug)]
struct KeyState {
    requests: Window,
    tokens: Window,
    spent: f64,
    reserved: f64,
}

/// Limits of every key seen by this process.
#[derive(Debug, Default)]
pub struct Limits {
    keys: Mutex<HashMap<String, KeyState>>,
}

/// A cost estimate held for one in-flight request. Dropping it without `settle` releases it.
#[derive(Debug)]
pub struct Reservation {
    limits: Arc<Limits>,
    key_id: String,
    estimate: f64,
    settled: bool,
}

impl Limits {
    fn with_state<T>(&self, key: &ApiKey, now: Instant, f: impl FnOnce(&mut KeyState) -> T) -> T {
        let mut keys = self.keys.lock();
        let state = keys.entry(key.id.clone()).or_insert_with(|| KeyState {
            requests: Window::new(now),
            tokens: Window::new(now),
            spent: key.usage_usd,
            reserved: 0.0,
        });
        state.requests.roll(now);
        state.tokens.roll(now);
        f(state)
    }

    /// Admit one request of `key` with an estimated cost, or say which limit refuses it.
    pub fn admit(self: &Arc<Self>, key: &ApiKey, estimate: f64, now: Instant) -> Result<Reservation, LimitError> {
        self.with_state(key, now, |s| {
            if let Some(rpm) = key.rate_limit_rpm {
                if s.requests.estimate(now) + 1.0 > rpm as f64 {
                    let retry_after = s.requests.reset_in(now).max(Duration::from_secs(1));
                    return Err(LimitError::RateLimited { what: "requests", limit: rpm as u64, retry_after });
                }
            }
            if let Some(tpm) = key.rate_limit_tpm {
                if s.tokens.estimate(now) >= tpm as f64 {
                    let retry_after = s.tokens.reset_in(now).max(Duration::from_secs(1));
                    return Err(LimitError::RateLimited { what: "tokens", limit: tpm, retry_after });
                }
            }
            if let Some(limit) = key.credit_limit_usd {
                if s.spent + s.reserved + estimate > limit {
                    return Err(LimitError::Credit { limit, spent: s.spent, reserved: s.reserved, estimate });
                }
            }
            s.requests.current += 1;
            s.reserved += estimate;
            Ok(Reservation { limits: Arc::clone(self), key_id: key.id.clone(), estimate, settled: false })
        })
    }

    /// Spend and remaining rate allowance of a key, for `GET /api/v1/key`.
    pub fn snapshot(&self, key: &ApiKey, now: Instant) -> (f64, f64) {
        self.with_state(key, now, |s| (s.spent, s.reserved))
    }

    fn release(&self, key_id: &str, estimate: f64, cost: f64, tokens: u64) {
        let now = Instant::now();
        let mut keys = self.keys.lock();
        if let Some(s) = keys.get_mut(key_id) {
            s.reserved = (s.reserved - estimate).max(0.0);
            s.spent += cost;
            s.tokens.roll(now);
            s.tokens.current += tokens;
        }
    }
}

impl Reservation {
    /// Replace the estimate by the real cost and count the tokens used.
    pub fn settle(mut self, cost: f64, tokens: u64) {
        self.settled = true;
        self.limits.release(&self.key_id, self.estimate, cost, tokens);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.limits.release(&self.key_id, self.estimate, 0.0, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(credit: Option<f64>, rpm: Option<u32>, tpm: Option<u64>) -> ApiKey {
        ApiKey {
            id: "key_1".into(),
            name: "k".into(),
            team: "t".into(),
            credit_limit_usd: credit,
            rate_limit_rpm: rpm,
            rate_limit_tpm: tpm,
            usage_usd: 0.0,
            created_at: String::new(),
            revoked_at: None,
            admin: false,
            disabled: false,
            updated_at: None,
        }
    }

    #[test]
    fn requests_per_minute_are_enforced_and_recover() {
        let limits = Arc::new(Limits::default());
        let k = key(None, Some(3), None);
        let t0 = Instant::now();
        for _ in 0..3 {
            limits.admit(&k, 0.0, t0).unwrap().settle(0.0, 0);
        }
        match limits.admit(&k, 0.0, t0) {
            Err(LimitError::RateLimited { what: "requests", limit: 3, retry_after }) => {
                assert!(retry_after <= WINDOW && retry_after >= Duration::from_secs(1));
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // Two minutes later the window is empty again.
        assert!(limits.admit(&k, 0.0, t0 + WINDOW * 2).is_ok());
    }

    #[test]
    fn tokens_per_minute_count_finished_calls() {
        let limits = Arc::new(Limits::default());
        let k = key(None, None, Some(100));
        let t0 = Instant::now();
        limits.admit(&k, 0.0, t0).unwrap().settle(0.0, 100);
        assert!(matches!(limits.admit(&k, 0.0, t0), Err(LimitError::RateLimited { what: "tokens", .. })));
    }

    #[test]
    fn concurrent_reservations_cannot_overspend() {
        let limits = Arc::new(Limits::default());
        let k = key(Some(1.0), None, None);
        let now = Instant::now();
        let a = limits.admit(&k, 0.4, now).unwrap();
        let b = limits.admit(&k, 0.4, now).unwrap();
        assert!(matches!(limits.admit(&k, 0.4, now), Err(LimitError::Credit { .. })));
        a.settle(0.1, 10);
        drop(b); // failed call: its estimate is released, nothing spent
        assert_eq!(limits.snapshot(&k, now), (0.1, 0.0));
        assert!(limits.admit(&k, 0.8, now).is_ok());
    }
}
