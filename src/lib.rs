//! auditgate: a self-hosted, OpenAI-compatible LLM gateway that classifies every request for personal
//! data, lets policy files decide where it may go, and appends every exchange to a hash-chained,
//! ed25519-signed, append-only audit log.
//!
//! Data flows one way through the modules:
//! `api` (parse, authenticate) -> `pii` (classify) -> `policy` (decide) -> `routing` (candidates)
//! -> `audit` (write-ahead entry) -> `providers` (forward) -> `audit` (outcome) -> `api` (respond).

pub mod accounting;
pub mod api;
pub mod audit;
pub mod config;
pub mod dialects;
pub mod metrics;
pub mod offer;
pub mod pii;
pub mod policy;
pub mod presets;
pub mod providers;
pub mod routing;
pub mod sched;
pub mod server;
pub mod witness;
