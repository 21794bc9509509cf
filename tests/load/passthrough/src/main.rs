//! passthrough: the floor for a Rust gateway on this host. It forwards POST /v1/chat/completions
//! to an upstream and relays the answer, and does nothing else: no parsing, no policy, no log.
//!
//! Usage: passthrough LISTEN=UPSTREAM [LISTEN=UPSTREAM ...]
//!   passthrough 127.0.0.1:18093=http://127.0.0.1:18081 127.0.0.1:18094=http://127.0.0.1:18082
//! A call to LISTEN/v1/chat/completions goes to UPSTREAM/v1/chat/completions. All listeners share
//! one runtime and one connection pool, as a gateway with several providers does.

use std::process::ExitCode;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

/// The gateway's allocator (src/main.rs), so the floor does not carry a cost the gateway avoids.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const PATH: &str = "/v1/chat/completions";

/// Where one listener sends its calls.
#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    url: reqwest::Url,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let pairs: Vec<String> = std::env::args().skip(1).collect();
    let routes = match parse_routes(&pairs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("passthrough: {e}\nusage: passthrough LISTEN=UPSTREAM [LISTEN=UPSTREAM ...]");
            return ExitCode::from(2);
        }
    };
    let client = match upstream_client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("passthrough: cannot build the HTTP client: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Bind every port before serving any, so a script that waits for one port finds them all.
    let mut servers = Vec::new();
    for (listen, url) in routes {
        match TcpListener::bind(&listen).await {
            Ok(listener) => servers.push(serve(listener, Upstream { client: client.clone(), url })),
            Err(e) => {
                eprintln!("passthrough: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("passthrough listening on {}", pairs.join(" "));
    for result in run_all(servers).await {
        if let Err(e) = result {
            eprintln!("passthrough: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// `LISTEN=UPSTREAM` pairs into listen addresses and full upstream URLs.
fn parse_routes(pairs: &[String]) -> Result<Vec<(String, reqwest::Url)>, String> {
    if pairs.is_empty() {
        return Err("no LISTEN=UPSTREAM given".into());
    }
    pairs
        .iter()
        .map(|pair| {
            let (listen, base) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not LISTEN=UPSTREAM"))?;
            let url = format!("{}{PATH}", base.trim_end_matches('/'));
            let url = reqwest::Url::parse(&url).map_err(|e| format!("upstream {base:?}: {e}"))?;
            Ok((listen.to_string(), url))
        })
        .collect()
}

/// The gateway's upstream client settings (src/providers/openai.rs): the same pool size, idle
/// timeout and TCP_NODELAY, so both keep the same warm connections to the upstream.
fn upstream_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(1024)
        .build()
}

/// Run every server on the current runtime and wait for all of them (they only end on error).
async fn run_all<F>(servers: Vec<F>) -> Vec<std::io::Result<()>>
where
    F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let handles: Vec<_> = servers.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.unwrap_or_else(|e| Err(std::io::Error::other(e))));
    }
    results
}

async fn serve(listener: TcpListener, upstream: Upstream) -> std::io::Result<()> {
    // As the gateway does (src/api/mod.rs): the response head and each SSE frame are separate
    // small writes, and with Nagle on the second would wait for the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("passthrough: cannot set TCP_NODELAY: {e}");
        }
    });
    let app = Router::new().route(PATH, post(forward)).with_state(upstream);
    axum::serve(listener, app).await
}

/// One call: the client's body and end-to-end headers go upstream unchanged, the answer comes back.
async fn forward(State(upstream): State<Upstream>, headers: HeaderMap, body: Bytes) -> Response {
    let sent = upstream.client.post(upstream.url).headers(end_to_end(headers)).body(body).send().await;
    match sent {
        Ok(answer) => relay(answer).await,
        Err(e) => bad_gateway(e),
    }
}

/// An event stream is passed on chunk by chunk as it arrives, as a gateway must for streaming
/// calls; any other answer is read whole first, as a gateway does to read its usage.
async fn relay(answer: reqwest::Response) -> Response {
    let status = answer.status();
    let headers = end_to_end(answer.headers().clone());
    let body = if is_event_stream(&headers) {
        Body::from_stream(answer.bytes_stream())
    } else {
        match answer.bytes().await {
            Ok(bytes) => Body::from(bytes),
            Err(e) => return bad_gateway(e),
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"))
}

/// Drop the hop-by-hop headers (RFC 9110 section 7.6.1), the Host (the client named us, not the
/// upstream) and the length, which the HTTP layer sets again for the body it sends.
fn end_to_end(mut headers: HeaderMap) -> HeaderMap {
    for name in [
        header::CONNECTION,
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
    headers
}

fn bad_gateway(e: reqwest::Error) -> Response {
    (StatusCode::BAD_GATEWAY, format!("passthrough: upstream call failed: {e}\n")).into_response()
}
