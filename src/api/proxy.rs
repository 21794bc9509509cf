//! The proxied routes: `POST /v1/chat/completions`, `/v1/messages` (Anthropic's Messages API),
//! `/v1/completions` (the legacy prompt API), `/v1/responses` (the Responses API) and
//! `/v1/embeddings`, all through one path: the three other dialects are chat requests once
//! translated. Admission reads, classifies, decides and writes the
//! request entry ahead; then a streamed answer goes through the SSE relay and a whole one is
//! completed and recorded before it is sent. Errors take the shape of the client's dialect.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::net::SocketAddr;

use super::exchange::{Dialect, Endpoint};
use super::{admission, respond, stream, ApiError, AppState};
use crate::providers::anthropic;

pub async fn chat_completions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy(&state, peer, &headers, body, Endpoint::Chat, Dialect::OpenAi).await
}

pub async fn messages(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy(&state, peer, &headers, body, Endpoint::Chat, Dialect::Anthropic).await
}

pub async fn completions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy(&state, peer, &headers, body, Endpoint::Chat, Dialect::Completions).await
}

pub async fn responses(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy(&state, peer, &headers, body, Endpoint::Chat, Dialect::Responses).await
}

pub async fn embeddings(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy(&state, peer, &headers, body, Endpoint::Embeddings, Dialect::OpenAi).await
}

/// One call, from the first header to the answer or the error, in the client's dialect.
async fn proxy(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Response {
    let started = std::time::Instant::now();
    let response = match exchange(state, peer, headers, body, endpoint, dialect).await {
        Ok(response) => response,
        Err(e) => {
            // Operational log: status and code only, never request content.
            tracing::info!(
                endpoint = endpoint.as_str(),
                status = e.status.as_u16(),
                code = e.code,
                entry = e.entry,
                "request refused"
            );
            match dialect {
                Dialect::OpenAi | Dialect::Completions | Dialect::Responses => e.into_response(),
                Dialect::Anthropic => anthropic_error(&e),
            }
        }
    };
    crate::metrics::global().request(dialect.route(endpoint), response.status().as_u16(), started.elapsed());
    response
}

async fn exchange(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Result<Response, ApiError> {
    let (received, bytes) = admission::receive(state, peer, headers, body).await?;
    let parsed = admission::parse_request(&bytes, dialect, state.config.request.unsupported)?;
    let exchange = admission::admit(state, received, parsed, endpoint, dialect).await?;
    if exchange.is_streaming() {
        stream::stream(state.clone(), exchange).await
    } else {
        respond::complete(state, exchange).await
    }
}

/// The Messages API error shape, with the audit entry header when one was written.
fn anthropic_error(e: &ApiError) -> Response {
    let mut response = (e.status, Json(anthropic::error_body(e.status.as_u16(), &e.message))).into_response();
    if let Some(entry) = e.entry {
        response.headers_mut().insert("x-auditgate-entry", HeaderValue::from(entry));
    }
    response
}
