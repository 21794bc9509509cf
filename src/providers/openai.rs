//! The OpenAI-compatible upstream adapter: one pooled HTTP client per provider, built at start.
//! It forwards bodies the gateway has already prepared and returns the raw response, so streaming
//! bodies can be relayed chunk by chunk.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;

use super::{anthropic, ProviderProfile};
use crate::config::{ProviderConfig, ProviderKind};

/// Why an upstream exchange failed before a status line arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connection to {provider} failed: {detail}")]
    Connect { provider: String, detail: String },
    #[error("{provider} did not answer in time")]
    Timeout { provider: String },
    #[error("request to {provider} failed: {detail}")]
    Other { provider: String, detail: String },
}

impl UpstreamError {
    fn from_reqwest(provider: &str, e: reqwest::Error) -> Self {
        let provider = provider.to_string();
        if e.is_timeout() {
            UpstreamError::Timeout { provider }
        } else if e.is_connect() {
            UpstreamError::Connect { provider, detail: e.to_string() }
        } else {
            UpstreamError::Other { provider, detail: e.to_string() }
        }
    }
}

/// A configured provider ready to receive requests.
#[derive(Debug)]
pub struct Upstream {
    pub profile: ProviderProfile,
    pub kind: ProviderKind,
    base_url: String,
    api_key: Option<String>,
    headers: BTreeMap<String, String>,
    client: reqwest::Client,
}

impl Upstream {
    /// Build the adapter; `base_url` overrides the configured one (used for demo upstreams).
    pub fn new(config: &ProviderConfig, base_url: String, connect_timeout: Duration) -> Result<Self, UpstreamError> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .build()
            .map_err(|e| UpstreamError::from_reqwest(&config.name, e))?;
        Ok(Upstream {
            profile: config.profile(),
            kind: config.kind,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: config.api_key(),
            headers: config.headers.clone(),
            client,
        })
    }

    pub fn name(&self) -> &str {
        &self.profile.name
    }

    /// The path of the chat endpoint for this provider's API.
    pub fn chat_path(&self) -> &'static str {
        match self.kind {
            ProviderKind::Anthropic => anthropic::MESSAGES_PATH,
            _ => "/chat/completions",
        }
    }

    pub fn speaks_anthropic(&self) -> bool {
        self.kind == ProviderKind::Anthropic
    }

    /// POST a JSON body to `{base_url}{path}`; `timeout` bounds the time to the response headers and
    /// body of a non-streaming call (streams are bounded by the caller).
    pub async fn post(
        &self,
        path: &str,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut req = self
            .client
            .post(format!("{}{}", self.base_url, path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = &self.api_key {
            req = match self.kind {
                ProviderKind::Anthropic => req
                    .header(anthropic::API_KEY_HEADER, key)
                    .header(anthropic::VERSION_HEADER, anthropic::ANTHROPIC_VERSION),
                _ => req.bearer_auth(key),
            };
        } else if self.kind == ProviderKind::Anthropic {
            req = req.header(anthropic::VERSION_HEADER, anthropic::ANTHROPIC_VERSION);
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        req.send().await.map_err(|e| UpstreamError::from_reqwest(&self.profile.name, e))
    }
}

/// Turn a failure while reading a response body into an UpstreamError.
pub fn body_error(provider: &str, e: reqwest::Error) -> UpstreamError {
    UpstreamError::from_reqwest(provider, e)
}
