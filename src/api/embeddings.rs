//! `POST /v1/embeddings`: classified, policed and audited exactly like chat, answered as JSON.

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

use super::chat::proxy;
use super::pipeline::Endpoint;
use super::AppState;

pub async fn embeddings(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match proxy(&state, peer, &headers, body, Endpoint::Embeddings).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}
