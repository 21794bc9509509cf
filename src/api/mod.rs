//! HTTP surface: OpenAI/OpenRouter-compatible routes. A proxied call reads one way through these
//! files: `proxy` (the routes) → `admission` (authenticate, parse, validate, classify, decide,
//! plan, limits, request entry) → `forward` (attempts, retries, fallbacks) → `respond` (a whole
//! answer) or `stream` (the SSE relay) → `record` and `settle`. `exchange` holds the types they
//! pass along; `sse`, `stamp`, `auth` and `error` are leaves. Start-up wiring is in `crate::server`.

mod admission;
mod auth;
mod ceiling;
pub mod dry_run;
pub mod error;
mod exchange;
mod extras;
mod forward;
mod info;
mod keys;
mod proxy;
mod record;
mod respond;
mod settle;
mod sse;
mod stamp;
mod state;
mod stream;

pub use admission::{Caller, Planner};
pub use auth::KeyCache;
pub use error::ApiError;
pub use state::{AppState, Inner};

/// Hot pieces of the request path, reachable for the criterion benchmarks in
/// `tests/benches/gateway.rs` only; not an API.
#[doc(hidden)]
pub mod bench {
    pub use super::admission::parse_object;
    pub use super::sse::{SseEvent, SseParser};
    pub use super::stamp::{stamp_chunk_raw, stamp_value, RawAnswer, Stamp};
    pub use crate::providers::wire::openai_body as upstream_body;
}

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

/// All routes. OpenRouter's `/api/v1/...` prefix is served beside `/v1/...`. The routes are
/// registered with their full paths rather than nested: axum serves a nested router through a
/// prefix-stripping layer that rebuilds every request's URI.
pub fn router(state: AppState) -> Router {
    let mut app = Router::new();
    for prefix in ["/v1", "/api/v1"] {
        app = app
            .route(&format!("{prefix}/chat/completions"), post(proxy::chat_completions))
            .route(&format!("{prefix}/completions"), post(proxy::completions))
            .route(&format!("{prefix}/responses"), post(proxy::responses))
            .route(&format!("{prefix}/embeddings"), post(proxy::embeddings))
            .route(&format!("{prefix}/models"), get(info::models))
            .route(&format!("{prefix}/generation"), get(info::generation))
            .route(&format!("{prefix}/key"), get(info::key))
            .route(&format!("{prefix}/credits"), get(info::credits))
            .route(&format!("{prefix}/keys"), get(keys::list).post(keys::create))
            .route(&format!("{prefix}/keys/{{hash}}"), get(keys::get).patch(keys::update).delete(keys::delete))
            .route(&format!("{prefix}/models/{{author}}/{{slug}}/endpoints"), get(info::model_endpoints))
            .route(&format!("{prefix}/messages"), post(proxy::messages))
            .route(&format!("{prefix}/messages/count_tokens"), post(info::count_tokens));
    }
    app.route("/health", get(info::health))
        .route("/metrics", get(info::metrics))
        .fallback(info::not_found)
        // Bodies are read with our own limit so the 413 has the OpenAI error shape.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
