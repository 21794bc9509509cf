//! Routing: which providers, in which order, may serve a request (always inside what policy
//! allows). Pure decision logic; the gateway does the I/O.
//!
//! How the gateway uses it, per request:
//! 1. [`model_sequence`] turns `model` + `models` into the models to try, in order. For each
//!    model, strip `:nitro` / `:floor` with [`split_model_suffix`], build its [`Candidate`]s from
//!    the catalogue, and keep those the policy allows (`RouteConstraints::check`).
//!    Pass over candidates that cannot take the request ([`check_fit`]: context length,
//!    completion limit, input modalities).
//!    Parse the `provider` object with [`ProviderPrefs::from_request`] and the parameters the
//!    request uses with [`request_parameters`].
//! 2. [`plan`] filters them by the client's [`ProviderPrefs`] and orders them (see `plan.rs`).
//!    An empty plan means "try the next model", and 503 after the last one.
//! 3. [`AttemptLoop`] walks the plan: it skips providers whose breaker refuses
//!    ([`Health::allows`]), bounds each attempt ([`RetryPolicy::attempt_timeout`]), classifies
//!    failures ([`retry_class`]), retries with backoff or moves on ([`RetryPolicy::next_step`]),
//!    feeds the health book, and keeps the attempt list for the audit entry. The pieces are public
//!    on their own for callers that drive attempts themselves.
//!
//! The planner's output is always a subset of its input, so routing can never widen the set of
//! providers the policy allowed.

mod attempts;
mod fit;
mod health;
mod models;
mod params;
mod plan;
mod prefs;
mod retry;

pub use attempts::{AttemptLoop, AttemptOutcome, AttemptRecord, Next, StopReason, Ticket};
pub use fit::{check as check_fit, Misfit, Needs};
pub use health::{BreakerState, Health, HealthConfig, ProviderStats};
pub use models::model_sequence;
pub use params::request_parameters;
pub use plan::{plan, plan_at, Plan};
pub use prefs::PassedOver;
pub use prefs::{split_model_suffix, DataCollection, MaxPrice, ProviderPrefs, Sort, SortPref};
pub use retry::{counts_against_provider, parse_retry_after, retry_class, ErrorKind, RetryClass, RetryPolicy, Step};

/// Errors of the routing module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// Neither `model` nor `models` names a model (the gateway answers 400).
    #[error("no model given: set `model` or a non-empty `models` list")]
    NoModel,
    /// The `provider` object does not parse (the gateway answers 400 with this message).
    #[error("invalid provider preferences: {0}")]
    InvalidProviderPrefs(String),
}
