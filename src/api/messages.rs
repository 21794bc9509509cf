//! `POST /v1/messages`: Anthropic-format clients (the official `anthropic` SDK) through the same
//! pipeline as chat. The request is translated to OpenAI form, then classified, decided, audited
//! and routed like any chat request (to any provider, Anthropic or not); the answer and errors are
//! translated back into the Messages API's shapes.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::net::SocketAddr;

use super::pipeline::{self, Dialect, Endpoint};
use super::{chat, relay, ApiError, AppState};
use crate::providers::anthropic;

pub async fn messages(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, peer, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(
                endpoint = "messages",
                status = e.status.as_u16(),
                code = e.code,
                entry = e.entry,
                "request refused"
            );
            anthropic_error(&e)
        }
    }
}

async fn handle(state: &AppState, peer: SocketAddr, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let (received, bytes) = pipeline::receive(state, peer, headers, body).await?;
    let original = pipeline::parse_object(&bytes)?;
    let request = anthropic::messages_to_openai(&original).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let exchange = pipeline::admit_parsed(state, received, request, Endpoint::Chat, Dialect::Anthropic).await?;
    if exchange.is_streaming() {
        relay::stream(state.clone(), exchange).await
    } else {
        chat::complete(state, exchange).await
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
