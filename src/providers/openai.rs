//! The OpenAI-compatible upstream adapter: one pooled HTTP client per provider, built at start.
//! It forwards bodies the gateway has already prepared and returns the raw response, so streaming
//! bodies can be relayed chunk by chunk.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use std::collections::BTreeMap;
use std::time::Duration;

use super::anthropic;
use crate::config::{ProviderConfig, ProviderKind};
use crate::offer::ProviderProfile;

/// Why an upstream exchange failed before a status line arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connection to {provider} failed: {detail}")]
    Connect { provider: String, detail: String },
    #[error("{provider} did not answer in time")]
    Timeout { provider: String },
    #[error("request to {provider} failed: {detail}")]
    Other { provider: String, detail: String },
    #[error("provider {provider} is misconfigured: {detail}")]
    Config { provider: String, detail: String },
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

/// Which upstream API an attempt calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamApi {
    Chat,
    Embeddings,
}

/// A configured provider ready to receive requests.
#[derive(Debug)]
pub struct Upstream {
    pub profile: ProviderProfile,
    pub kind: ProviderKind,
    /// Endpoint URLs and headers are parsed and validated once, at start: a bad `base_url` or
    /// header stops the gateway from starting instead of failing every call, and a call only
    /// clones them.
    chat_url: reqwest::Url,
    embeddings_url: reqwest::Url,
    /// Sent with every request: content type, credentials, the provider's extra headers.
    headers: HeaderMap,
    /// The same with a team's own credential instead, per team that has one (`[[teams]]`).
    team_headers: std::collections::HashMap<String, HeaderMap>,
    client: reqwest::Client,
}

impl Upstream {
    /// Build the adapter; `base_url` overrides the configured one (used for demo upstreams);
    /// `team_keys` are the teams with their own key for this provider.
    pub fn new(
        config: &ProviderConfig,
        base_url: String,
        connect_timeout: Duration,
        team_keys: Vec<(String, String)>,
    ) -> Result<Self, UpstreamError> {
        let client = reqwest::Client::builder()
            // Never follow a redirect: a 307/308 would re-send the body, personal data included, to
            // whatever host the upstream names, outside the policy's choice of region. A 3xx is an
            // upstream failure like any other, recorded in the attempt log.
            .redirect(reqwest::redirect::Policy::none())
            // Every retry is ours, decided by the routing policy and written to the audit log.
            .retry(reqwest::retry::never())
            .connect_timeout(connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .build()
            .map_err(|e| UpstreamError::from_reqwest(&config.name, e))?;
        let invalid = |detail: String| UpstreamError::Config { provider: config.name.clone(), detail };
        let base_url = base_url.trim_end_matches('/');
        let url = |path: &str| {
            reqwest::Url::parse(&format!("{base_url}{path}"))
                .map_err(|e| invalid(format!("base_url {base_url:?}: {e}")))
        };
        let chat_path = match config.kind {
            ProviderKind::Anthropic => anthropic::MESSAGES_PATH,
            _ => "/chat/completions",
        };
        Ok(Upstream {
            profile: config.profile(),
            kind: config.kind,
            chat_url: url(chat_path)?,
            embeddings_url: url("/embeddings")?,
            headers: request_headers(config.kind, config.api_key(), &config.headers).map_err(invalid)?,
            team_headers: team_keys
                .into_iter()
                .map(|(team, key)| Ok((team, request_headers(config.kind, Some(key), &config.headers)?)))
                .collect::<Result<_, String>>()
                .map_err(invalid)?,
            client,
        })
    }

    pub fn name(&self) -> &str {
        &self.profile.name
    }

    /// Whether `team` calls this provider with its own credential.
    pub fn bills_team(&self, team: &str) -> bool {
        self.team_headers.contains_key(team)
    }

    /// POST a JSON body to the provider's `api` endpoint; `timeout` bounds the time to the response
    /// headers and body of a non-streaming call (streams are bounded by the caller).
    /// `team` picks the team's own credential when it has one.
    pub async fn post(
        &self,
        api: UpstreamApi,
        body: Bytes,
        timeout: Option<Duration>,
        team: &str,
    ) -> Result<reqwest::Response, UpstreamError> {
        let url = match api {
            UpstreamApi::Chat => &self.chat_url,
            UpstreamApi::Embeddings => &self.embeddings_url,
        };
        let mut request = reqwest::Request::new(reqwest::Method::POST, url.clone());
        *request.headers_mut() = self.team_headers.get(team).unwrap_or(&self.headers).clone();
        *request.body_mut() = Some(body.into());
        *request.timeout_mut() = timeout;
        self.client.execute(request).await.map_err(|e| UpstreamError::from_reqwest(&self.profile.name, e))
    }
}

/// The headers of every request to a provider of `kind`: JSON content, its credentials (marked
/// sensitive, so they never appear in debug output) and its configured extra headers.
fn request_headers(
    kind: ProviderKind,
    api_key: Option<String>,
    extra: &BTreeMap<String, String>,
) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let secret = |value: String| {
        let mut value =
            HeaderValue::try_from(value).map_err(|_| "the API key is not a valid header value".to_string())?;
        value.set_sensitive(true);
        Ok::<_, String>(value)
    };
    if kind == ProviderKind::Anthropic {
        headers.insert(anthropic::VERSION_HEADER, HeaderValue::from_static(anthropic::ANTHROPIC_VERSION));
    }
    match (kind, api_key) {
        (ProviderKind::Anthropic, Some(key)) => {
            headers.insert(anthropic::API_KEY_HEADER, secret(key)?);
        }
        (_, Some(key)) => {
            headers.insert(AUTHORIZATION, secret(format!("Bearer {key}"))?);
        }
        (_, None) => {}
    }
    for (name, value) in extra {
        let name = HeaderName::try_from(name.as_str()).map_err(|_| format!("header name {name:?} is not valid"))?;
        let value = HeaderValue::try_from(value.as_str()).map_err(|_| format!("header {name} has an invalid value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Turn a failure while reading a response body into an UpstreamError.
pub fn body_error(provider: &str, e: reqwest::Error) -> UpstreamError {
    UpstreamError::from_reqwest(provider, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(kind: ProviderKind, extra: &[(&str, &str)]) -> ProviderConfig {
        let mut config = crate::config::default_providers().remove(0);
        config.kind = kind;
        config.headers = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        config
    }

    #[test]
    fn openai_requests_carry_a_sensitive_bearer_token_and_extra_headers() {
        let extra = BTreeMap::from([("api-key".to_string(), "azure".to_string())]);
        let headers = request_headers(ProviderKind::Openai, Some("sk-1".into()), &extra).unwrap();
        assert_eq!(headers[CONTENT_TYPE], "application/json");
        assert_eq!(headers[AUTHORIZATION], "Bearer sk-1");
        assert!(headers[AUTHORIZATION].is_sensitive());
        assert_eq!(headers["api-key"], "azure");
        assert!(headers.get(anthropic::VERSION_HEADER).is_none());
    }

    #[test]
    fn anthropic_requests_carry_its_key_header_and_version_even_without_a_key() {
        let headers = request_headers(ProviderKind::Anthropic, Some("k".into()), &BTreeMap::new()).unwrap();
        assert_eq!(headers[anthropic::API_KEY_HEADER], "k");
        assert!(headers[anthropic::API_KEY_HEADER].is_sensitive());
        assert_eq!(headers[anthropic::VERSION_HEADER], anthropic::ANTHROPIC_VERSION);
        assert!(headers.get(AUTHORIZATION).is_none());
        let keyless = request_headers(ProviderKind::Anthropic, None, &BTreeMap::new()).unwrap();
        assert_eq!(keyless[anthropic::VERSION_HEADER], anthropic::ANTHROPIC_VERSION);
        assert!(keyless.get(anthropic::API_KEY_HEADER).is_none());
    }

    #[test]
    fn endpoint_urls_join_the_base_url_without_a_double_slash() {
        let up = Upstream::new(
            &provider(ProviderKind::Openai, &[]),
            "http://127.0.0.1:9/v1/".into(),
            Duration::from_secs(1),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(up.chat_url.as_str(), "http://127.0.0.1:9/v1/chat/completions");
        assert_eq!(up.embeddings_url.as_str(), "http://127.0.0.1:9/v1/embeddings");
        let anthropic = Upstream::new(
            &provider(ProviderKind::Anthropic, &[]),
            "http://127.0.0.1:9".into(),
            Duration::from_secs(1),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(anthropic.chat_url.as_str(), "http://127.0.0.1:9/v1/messages");
    }

    #[test]
    fn a_bad_base_url_or_header_is_refused_when_the_upstream_is_built() {
        let refused = |config: &ProviderConfig, base: &str| {
            Upstream::new(config, base.into(), Duration::from_secs(1), Vec::new()).unwrap_err().to_string()
        };
        let error = refused(&provider(ProviderKind::Openai, &[]), "not a url");
        assert!(error.contains("base_url") && error.contains("misconfigured"), "{error}");
        let error = refused(&provider(ProviderKind::Openai, &[("bad header", "x")]), "http://127.0.0.1:9/v1");
        assert!(error.contains("bad header"), "{error}");
        let error = refused(&provider(ProviderKind::Openai, &[("x-ok", "line\nbreak")]), "http://127.0.0.1:9/v1");
        assert!(error.contains("x-ok"), "{error}");
    }
}
