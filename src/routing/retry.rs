//! Retry policy: which failures are worth another attempt, where, and after how long.
//!
//! Classification (OpenRouter-like; the gateway's loop applies it per attempt):
//! - `RetrySame` (transient, the same provider may answer next time): connection errors, 408, 425,
//!   429, 500, 502, 503, 504, 529. After `max_attempts_per_provider` the loop moves on.
//! - `NextProvider` (this provider cannot serve this request, another may): timeouts (a whole
//!   attempt budget is already spent), malformed upstream responses, other 5xx, and 401/402/403/404.
//!   The latter four deliberately differ from "client error": the client authenticated to the
//!   gateway, so an upstream 401/402 is our key or account at that provider, 404 a wrong
//!   `upstream_model` mapping, and 403 that provider's own moderation. None says anything about
//!   the body, and another provider may well serve it.
//! - `Fatal` (the request itself is wrong; the same body fails everywhere): 400, 413, 422 and any
//!   other 4xx, and a cancelled request. The gateway returns the error to the client.
//!
//! Backoff is exponential with full jitter (uniform in `[0, min(max, base * 2^(n-1))]`), which
//! spreads retries of many clients instead of synchronising them. A `Retry-After` from the
//! upstream is honoured exactly when it fits in `max_backoff`; a longer one sends the loop to the
//! next provider rather than holding the client.

use rand::Rng;
use std::time::{Duration, Instant, SystemTime};

/// How an attempt failed, independent of the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The upstream answered with an error status (pass it as `status`).
    Status,
    /// No complete answer within the per-attempt timeout.
    Timeout,
    /// Connecting, TLS, or the connection dropped before a response arrived.
    Connect,
    /// The upstream answered 2xx with a body that is not a valid response.
    InvalidResponse,
    /// The client went away; nobody is waiting for a retry.
    Cancelled,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryClass {
    RetrySame,
    NextProvider,
    Fatal,
}

/// Classifies a failed attempt (see the module docs for the table and its reasons).
pub fn retry_class(status: Option<u16>, kind: ErrorKind) -> RetryClass {
    match kind {
        ErrorKind::Cancelled => RetryClass::Fatal,
        ErrorKind::Connect => RetryClass::RetrySame,
        ErrorKind::Timeout | ErrorKind::InvalidResponse => RetryClass::NextProvider,
        ErrorKind::Status => status.map_or(RetryClass::NextProvider, classify_status),
    }
}

fn classify_status(status: u16) -> RetryClass {
    match status {
        408 | 425 | 429 | 500 | 502 | 503 | 504 | 529 => RetryClass::RetrySame,
        401..=404 => RetryClass::NextProvider,
        400..=499 => RetryClass::Fatal,
        _ => RetryClass::NextProvider,
    }
}

/// Whether a failure should count against the provider's health (the client's own mistakes and
/// cancellations do not).
pub fn counts_against_provider(status: Option<u16>, kind: ErrorKind) -> bool {
    retry_class(status, kind) != RetryClass::Fatal
}

/// The next move of the attempt loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Try the same provider again after this delay.
    RetrySame { after: Duration },
    /// Go to the next candidate of the plan (then the next model of a `models` list).
    NextProvider,
    /// Stop and report this error to the client.
    Stop,
}

/// Limits of the attempt loop for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts on one provider before moving on (1 = no same-provider retry).
    pub max_attempts_per_provider: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Upper bound of one attempt (for streams: until the first byte).
    pub per_attempt_timeout: Duration,
    /// Upper bound of all attempts of a request, models fallback included.
    pub total_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts_per_provider: 2,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            per_attempt_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(180),
        }
    }
}

impl RetryPolicy {
    /// Full-jitter delay before retry number `retry` (1 = first retry).
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        let cap = self.base_backoff.saturating_mul(1u32 << exp).min(self.max_backoff);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.gen_range(0..=nanos))
    }

    /// Decides the next step after a failed attempt. `attempts_on_provider` counts the attempts
    /// already made on this provider, the failed one included; `retry_after` is the upstream's
    /// `Retry-After` (see [`parse_retry_after`]).
    pub fn next_step(
        &self,
        class: RetryClass,
        attempts_on_provider: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Step {
        match class {
            RetryClass::Fatal => Step::Stop,
            RetryClass::NextProvider => Step::NextProvider,
            RetryClass::RetrySame if attempts_on_provider >= self.max_attempts_per_provider => Step::NextProvider,
            RetryClass::RetrySame => match retry_after {
                Some(wait) if wait > self.max_backoff => Step::NextProvider,
                Some(wait) => Step::RetrySame { after: wait },
                None => Step::RetrySame { after: self.backoff(attempts_on_provider, rng) },
            },
        }
    }

    /// Timeout for an attempt starting at `now` in a request started at `started`: the
    /// per-attempt limit cut to what is left of the total; `None` when the total is spent.
    pub fn attempt_timeout(&self, started: Instant, now: Instant) -> Option<Duration> {
        let spent = now.saturating_duration_since(started);
        let left = self.total_timeout.checked_sub(spent).filter(|d| !d.is_zero())?;
        Some(left.min(self.per_attempt_timeout))
    }
}

/// Parses a `Retry-After` header value: delay-seconds or an HTTP-date (RFC 9110). A date in
/// the past gives zero; garbage gives `None` (then the normal backoff applies).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let when = SystemTime::from(when.with_timezone(&chrono::Utc));
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn classification_table() {
        use RetryClass::*;
        let status = |s| retry_class(Some(s), ErrorKind::Status);
        for s in [408, 425, 429, 500, 502, 503, 504, 529] {
            assert_eq!(status(s), RetrySame, "{s}");
        }
        for s in [401, 402, 403, 404, 501, 505, 200, 302] {
            assert_eq!(status(s), NextProvider, "{s}");
        }
        for s in [400, 405, 409, 413, 415, 422] {
            assert_eq!(status(s), Fatal, "{s}");
        }
        assert_eq!(retry_class(None, ErrorKind::Connect), RetrySame);
        assert_eq!(retry_class(None, ErrorKind::Timeout), NextProvider);
        assert_eq!(retry_class(None, ErrorKind::InvalidResponse), NextProvider);
        assert_eq!(retry_class(None, ErrorKind::Cancelled), Fatal);
        assert_eq!(retry_class(None, ErrorKind::Status), NextProvider);
    }

    #[test]
    fn provider_blame() {
        assert!(counts_against_provider(Some(503), ErrorKind::Status));
        assert!(counts_against_provider(Some(401), ErrorKind::Status));
        assert!(!counts_against_provider(Some(422), ErrorKind::Status));
        assert!(!counts_against_provider(None, ErrorKind::Cancelled));
    }

    #[test]
    fn backoff_is_capped_full_jitter() {
        let p = RetryPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        let mut r = rng();
        for retry in 0..40 {
            let shift = retry.clamp(1, 20) - 1;
            let cap = Duration::from_millis(100 * (1u64 << shift)).min(p.max_backoff);
            for _ in 0..50 {
                assert!(p.backoff(retry, &mut r) <= cap, "retry {retry}");
            }
        }
        // Jitter actually varies the delay.
        let samples: std::collections::BTreeSet<_> = (0..20).map(|_| p.backoff(3, &mut r)).collect();
        assert!(samples.len() > 10);
    }

    #[test]
    fn next_step_rules() {
        let p = RetryPolicy { max_attempts_per_provider: 2, ..RetryPolicy::default() };
        let mut r = rng();
        assert_eq!(p.next_step(RetryClass::Fatal, 1, None, &mut r), Step::Stop);
        assert_eq!(p.next_step(RetryClass::NextProvider, 1, None, &mut r), Step::NextProvider);
        assert!(matches!(p.next_step(RetryClass::RetrySame, 1, None, &mut r), Step::RetrySame { .. }));
        assert_eq!(p.next_step(RetryClass::RetrySame, 2, None, &mut r), Step::NextProvider);
        let short = Some(Duration::from_secs(2));
        assert_eq!(
            p.next_step(RetryClass::RetrySame, 1, short, &mut r),
            Step::RetrySame { after: Duration::from_secs(2) }
        );
        let long = Some(Duration::from_secs(30));
        assert_eq!(p.next_step(RetryClass::RetrySame, 1, long, &mut r), Step::NextProvider);
    }

    #[test]
    fn attempt_timeout_respects_total() {
        let p = RetryPolicy {
            per_attempt_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(25),
            ..RetryPolicy::default()
        };
        let t = Instant::now();
        assert_eq!(p.attempt_timeout(t, t), Some(Duration::from_secs(10)));
        assert_eq!(p.attempt_timeout(t, t + Duration::from_secs(20)), Some(Duration::from_secs(5)));
        assert_eq!(p.attempt_timeout(t, t + Duration::from_secs(25)), None);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470); // 07:27:50 GMT
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(10)));
        let later = now + Duration::from_secs(3600);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", later), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
