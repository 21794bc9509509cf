//! gateway.toml: listen address, data directory, policy directory, providers with their regions and
//! per-model prices, and limits. Every field has a default, so an empty file (or none) is a valid
//! configuration that serves `demo/echo` through the two built-in demo upstreams.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::offer::ProviderProfile;

/// Errors reading or validating gateway.toml.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The `config_sha256` of a gateway that ran on the built-in defaults (no configuration file).
pub const BUILTIN_CONFIG: &str = "builtin";

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub policy_dir: PathBuf,
    /// Largest accepted request body in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Total time allowed for one upstream exchange, in seconds.
    pub upstream_timeout_secs: u64,
    /// Time allowed to connect to an upstream, in milliseconds.
    pub connect_timeout_ms: u64,
    /// How often policy files are checked for changes, in milliseconds (0 = only on SIGHUP).
    pub policy_poll_ms: u64,
    pub audit: AuditConfig,
    pub state: StateConfig,
    pub routing: RoutingConfig,
    pub request: RequestConfig,
    pub providers: Vec<ProviderConfig>,
    /// `[[presets]]`: named request defaults selected with `model: "@preset/NAME"`.
    pub presets: Vec<crate::presets::PresetConfig>,
    /// `[[teams]]`: teams that call providers with their own credentials (bring your own key).
    pub teams: Vec<TeamConfig>,
    /// What the gateway ran on, for its `gateway_start` entry: the SHA-256 (hex) of the file it
    /// read, or `builtin` for the built-in defaults. Not a setting.
    #[serde(skip)]
    pub source_sha256: String,
}

/// The `[request]` table: how request bodies the schemas do not describe are handled.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestConfig {
    pub unknown_fields: UnknownFields,
    /// An OpenRouter extra the gateway cannot do (`transforms`, `plugins`, a `route` other than
    /// `fallback`, the `:online` variant).
    pub unsupported: Unsupported,
}

/// What happens to a request parameter the gateway knows but cannot honour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unsupported {
    /// Refused with 400, naming the parameter.
    #[default]
    Refuse,
    /// Dropped, and named in the answer's `x-auditgate-ignored` header.
    Ignore,
}

/// What happens to a top-level request field the OpenAI / OpenRouter schemas do not define.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownFields {
    /// Scanned like any text and forwarded.
    #[default]
    Scan,
    /// Refused with 400, naming the field.
    Reject,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("audit"),
            policy_dir: PathBuf::from("policies"),
            max_body_bytes: 10 * 1024 * 1024,
            upstream_timeout_secs: 300,
            connect_timeout_ms: 5_000,
            policy_poll_ms: 2_000,
            audit: AuditConfig::default(),
            state: StateConfig::default(),
            routing: RoutingConfig::default(),
            request: RequestConfig::default(),
            providers: default_providers(),
            presets: Vec::new(),
            teams: Vec::new(),
            source_sha256: BUILTIN_CONFIG.into(),
        }
    }
}

/// The `[audit]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Origin line of signed checkpoints; names this log.
    pub origin: String,
    pub checkpoint_interval_ms: u64,
    pub checkpoint_every_entries: u64,
    /// `none` | `redacted` | `full`: whether request and response bodies are kept beside the chain.
    pub store_bodies: crate::audit::BodyStorage,
    /// `[[audit.witnesses]]`: each new checkpoint is sent to these witnesses (C2SP tlog-witness).
    pub witnesses: Vec<WitnessConfig>,
    /// How many witnesses must cosign a checkpoint for `/health` to count it as witnessed
    /// (default: all of them).
    pub witness_quorum: Option<usize>,
    /// `[[audit.timestamp_authorities]]`: checkpoints are sent to these RFC 3161 time-stamping
    /// authorities, at most once per `timestamp_interval_ms` each.
    pub timestamp_authorities: Vec<TimestampAuthorityConfig>,
    /// Least time between two time stamps from one authority (a new checkpoint waits for it).
    pub timestamp_interval_ms: u64,
    /// Where the master key that wraps the stored bodies' keys lives (default: `body-master.key`
    /// in the data directory). Keep it off the log's backups to make erasure reach them too.
    pub body_key_file: Option<std::path::PathBuf>,
    /// Years a stored body is held before `audit erase` may remove it without `--force`.
    pub body_hold_years: u32,
}

/// The `[state]` table: where the audit log is kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// `sqlite` (`log.db` in the data directory, the default) or `postgres` (one database for
    /// several gateway nodes, each with its own chain).
    pub backend: StateBackend,
    /// The PostgreSQL connection URL (`postgresql://user:password@host:port/db` or libpq
    /// `key=value` words); with `backend = "postgres"`.
    pub url: Option<String>,
    /// This node's name: its rows in the shared database, its own chain and checkpoints.
    pub node: Option<String>,
}

/// `[state] backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    #[default]
    Sqlite,
    Postgres,
}

impl StateConfig {
    /// Where the audit log is: None for `log.db` in the data directory.
    pub fn log_location(&self) -> Result<Option<crate::audit::location::LogLocation>, ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("[state] {m}")));
        match self.backend {
            StateBackend::Sqlite if self.url.is_some() || self.node.is_some() => {
                invalid("url and node are for backend = \"postgres\"")
            }
            StateBackend::Sqlite => Ok(None),
            StateBackend::Postgres => {
                let Some(url) = self.url.clone().filter(|u| !u.trim().is_empty()) else {
                    return invalid("backend = \"postgres\" needs url");
                };
                let Some(node) = self.node.clone().filter(|n| valid_node_name(n)) else {
                    return invalid(
                        "backend = \"postgres\" needs node, a name of 1 to 64 letters, digits, '.', '_' or '-'",
                    );
                };
                Ok(Some(crate::audit::location::LogLocation::Postgres { url, node }))
            }
        }
    }
}

fn valid_node_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// One `[[audit.witnesses]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// The witness's base URL; the gateway posts to `{url}/add-checkpoint`.
    pub url: String,
    /// Its verifier key, as in the witness's `witness.pub`.
    pub public_key: String,
}

/// One `[[audit.timestamp_authorities]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampAuthorityConfig {
    /// Where the gateway posts its RFC 3161 requests (`application/timestamp-query`).
    pub url: String,
    /// PEM file with the authority's certificate, or the CA certificate that issued it: a reply
    /// is stored only if its token chains to it.
    pub certificate: std::path::PathBuf,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            origin: "auditgate.local/log".into(),
            checkpoint_interval_ms: 1000,
            checkpoint_every_entries: 10_000,
            store_bodies: crate::audit::BodyStorage::None,
            witnesses: Vec::new(),
            witness_quorum: None,
            timestamp_authorities: Vec::new(),
            timestamp_interval_ms: crate::audit::DEFAULT_TIMESTAMP_INTERVAL_MS,
            body_key_file: None,
            body_hold_years: crate::audit::DEFAULT_BODY_HOLD_YEARS,
        }
    }
}

/// One `[[teams]]` entry: the keys of this team (`keys create --team NAME`) call the providers
/// listed with the team's own credentials, so the provider bills the team's account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub name: String,
    #[serde(default)]
    pub credentials: Vec<TeamCredential>,
}

/// One `[[teams.credentials]]` entry: the API key for one provider, from an environment variable
/// or a file, read at start and never written anywhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamCredential {
    pub provider: String,
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
}

impl TeamCredential {
    /// The secret, or why it cannot be had.
    pub fn secret(&self) -> Result<String, String> {
        let secret = match (&self.api_key_env, &self.api_key_file) {
            (Some(var), None) => std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?,
            (None, Some(file)) => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?
                .trim()
                .to_string(),
            _ => return Err("give exactly one of api_key_env and api_key_file".into()),
        };
        if secret.is_empty() {
            return Err("the key is empty".into());
        }
        Ok(secret)
    }
}

/// The `[routing]` table: retries and timeouts of upstream attempts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Time allowed for one attempt at one provider, in seconds (`upstream_timeout_secs` bounds all).
    pub attempt_timeout_secs: u64,
    /// Tries at the same provider for transient failures (429, 5xx, connection errors).
    pub max_attempts_per_provider: u32,
    pub retry_base_backoff_ms: u64,
    pub retry_max_backoff_ms: u64,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            attempt_timeout_secs: 60,
            max_attempts_per_provider: 2,
            retry_base_backoff_ms: 250,
            retry_max_backoff_ms: 4_000,
        }
    }
}

impl Config {
    /// The retry policy the attempt loop follows.
    pub fn retry_policy(&self) -> crate::routing::RetryPolicy {
        use std::time::Duration;
        let total = Duration::from_secs(self.upstream_timeout_secs);
        crate::routing::RetryPolicy {
            max_attempts_per_provider: self.routing.max_attempts_per_provider.max(1),
            base_backoff: Duration::from_millis(self.routing.retry_base_backoff_ms),
            max_backoff: Duration::from_millis(self.routing.retry_max_backoff_ms),
            per_attempt_timeout: Duration::from_secs(self.routing.attempt_timeout_secs).min(total),
            total_timeout: total,
        }
    }
}

/// How the gateway talks to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// Any OpenAI-compatible `/chat/completions` API (OpenAI, Mistral, Azure OpenAI, vLLM, Ollama, ...).
    Openai,
    /// Anthropic's Messages API (`base_url` without `/v1`, e.g. `https://api.anthropic.com`).
    Anthropic,
    /// A built-in local demo upstream started by the gateway itself.
    Demo,
}

/// One `[[providers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// Base URL including the version prefix, e.g. `https://api.mistral.ai/v1`. Unused for demo.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Environment variable holding the API key. The provider is enabled only when it is set.
    /// Omit it for upstreams that need no key (local vLLM, Ollama).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Extra HTTP headers sent upstream (e.g. `api-key` for Azure).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub region: String,
    pub country: String,
    #[serde(default)]
    pub zdr: bool,
    #[serde(default)]
    pub data_collection: bool,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
}

/// One model a provider serves, with its prices in USD per million tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The public id clients ask for, e.g. `mistral/mistral-small`.
    pub id: String,
    /// The provider's own model id; defaults to the part of `id` after the slash.
    #[serde(default)]
    pub upstream: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub prompt: f64,
    #[serde(default)]
    pub completion: f64,
    #[serde(default)]
    pub cached_prompt: Option<f64>,
    #[serde(default)]
    pub context_length: Option<u64>,
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    /// Input modalities; `text` by default.
    #[serde(default)]
    pub input_modalities: Option<Vec<String>>,
    /// Request parameters this model supports (OpenRouter's `supported_parameters`).
    #[serde(default)]
    pub supported_parameters: Option<Vec<String>>,
    /// When the model was added (a date, `2026-11-23`): `/v1/models` shows it as `created`.
    #[serde(default)]
    pub created: Option<chrono::NaiveDate>,
}

impl ModelConfig {
    /// What the model takes, for routing; Err with an `input_modalities` name that is not one.
    pub fn limits(&self) -> Result<crate::offer::Limits, &str> {
        let input_modalities = match &self.input_modalities {
            Some(names) => crate::offer::Modalities::parse(names.iter().map(String::as_str))?,
            None => crate::offer::Modalities::TEXT,
        };
        Ok(crate::offer::Limits {
            context_length: self.context_length,
            max_completion_tokens: self.max_completion_tokens,
            input_modalities,
        })
    }

    pub fn upstream_id(&self) -> &str {
        match &self.upstream {
            Some(u) => u,
            None => self.id.split_once('/').map(|(_, m)| m).unwrap_or(&self.id),
        }
    }
}

impl ProviderConfig {
    pub fn profile(&self) -> ProviderProfile {
        ProviderProfile {
            name: self.name.clone(),
            region: self.region.to_ascii_lowercase(),
            country: self.country.to_ascii_uppercase(),
            zdr: self.zdr,
            data_collection: self.data_collection,
        }
    }

    /// The API key from the environment, if this provider needs one.
    pub fn api_key(&self) -> Option<String> {
        let var = self.api_key_env.as_ref()?;
        std::env::var(var).ok().filter(|v| !v.is_empty())
    }

    /// Enabled when it is a demo, needs no key, or its key variable is set.
    pub fn enabled(&self) -> bool {
        match (&self.kind, &self.api_key_env) {
            (ProviderKind::Demo, _) | (_, None) => true,
            (_, Some(_)) => self.api_key().is_some(),
        }
    }
}

/// What a model of a provider of `kind` supports when its configuration does not list
/// `supported_parameters`: what that kind of upstream takes, as the gateway sends it (an
/// OpenAI-compatible API gets the request as it is; Anthropic's gets what the translation maps,
/// JSON mode as a forced tool and `reasoning` as a thinking budget).
pub fn default_parameters(kind: ProviderKind) -> Vec<String> {
    let list: &[&str] = match kind {
        ProviderKind::Openai => {
            &[COMMON_PARAMETERS, &["structured_outputs", "reasoning", "include_reasoning"]].concat()
        }
        ProviderKind::Demo => COMMON_PARAMETERS,
        ProviderKind::Anthropic => ANTHROPIC_PARAMETERS,
    };
    list.iter().map(|s| s.to_string()).collect()
}

/// What the Anthropic translation carries (src/providers/anthropic/egress.rs).
const ANTHROPIC_PARAMETERS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "structured_outputs",
    "reasoning",
    "include_reasoning",
    "stream",
    "stream_options",
    "user",
];

/// The parameters every OpenAI-compatible chat model accepts.
pub const COMMON_PARAMETERS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "stream",
    "stream_options",
    "user",
];

fn demo_model() -> ModelConfig {
    ModelConfig {
        id: "demo/echo".into(),
        upstream: Some("echo".into()),
        name: Some("Demo echo (built-in)".into()),
        prompt: 0.10,
        completion: 0.40,
        cached_prompt: None,
        context_length: Some(32_768),
        max_completion_tokens: Some(4_096),
        input_modalities: Some(vec!["text".into(), "image".into()]),
        supported_parameters: None,
        // The day the demo upstream was first shipped.
        created: chrono::NaiveDate::from_ymd_opt(2026, 11, 23),
    }
}

/// The two built-in demo upstreams: one in Switzerland with zero retention, one in the US.
pub fn default_providers() -> Vec<ProviderConfig> {
    let demo = |name: &str, region: &str, country: &str, zdr: bool, price_factor: f64| {
        let mut model = demo_model();
        model.prompt *= price_factor;
        model.completion *= price_factor;
        ProviderConfig {
            name: name.into(),
            kind: ProviderKind::Demo,
            base_url: None,
            api_key_env: None,
            headers: BTreeMap::new(),
            region: region.into(),
            country: country.into(),
            zdr,
            data_collection: false,
            models: vec![model],
        }
    };
    vec![demo("demo-ch", "ch", "CH", true, 1.0), demo("demo-us", "us", "US", false, 0.5)]
}

impl Config {
    /// Read a configuration file. A missing `providers` list means the built-in demo providers.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let mut config: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        config.source_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
        config.validate()?;
        Ok(config)
    }

    /// `--config FILE` if given, else ./gateway.toml when present, else the built-in defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        match explicit {
            Some(path) => Config::from_file(path),
            None if Path::new("gateway.toml").exists() => Config::from_file(Path::new("gateway.toml")),
            None => Ok(Config::default()),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::BTreeSet::new();
        if let Some(p) = self.presets.iter().find(|p| !names.insert(p.name.as_str())) {
            return Err(ConfigError::Invalid(format!("preset {:?} is defined twice", p.name)));
        }
        self.validate_teams()?;
        self.state.log_location()?;
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.providers {
            if !seen.insert(p.name.as_str()) {
                return Err(ConfigError::Invalid(format!("provider {:?} is defined twice", p.name)));
            }
            if p.kind == ProviderKind::Demo {
                // The built-in demo upstream is started by the gateway and needs none of these:
                // accepting them would be a setting that does nothing.
                let set = [
                    ("base_url", p.base_url.is_some()),
                    ("api_key_env", p.api_key_env.is_some()),
                    ("headers", !p.headers.is_empty()),
                ];
                let unused = set.into_iter().find(|(_, is_set)| *is_set);
                if let Some((field, _)) = unused {
                    return Err(ConfigError::Invalid(format!(
                        "provider {:?} is a built-in demo upstream: {field} has no effect there",
                        p.name
                    )));
                }
            } else if p.base_url.is_none() {
                return Err(ConfigError::Invalid(format!("provider {:?} needs base_url", p.name)));
            }
            if p.region.is_empty() || p.country.len() != 2 {
                return Err(ConfigError::Invalid(format!(
                    "provider {:?} needs a region and a two-letter country",
                    p.name
                )));
            }
            for m in &p.models {
                m.limits().map_err(|bad| {
                    ConfigError::Invalid(format!(
                        "provider {:?} model {:?}: input_modalities has {bad:?}; known are {}",
                        p.name,
                        m.id,
                        crate::offer::Modalities::NAMES.join(", ")
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Each team once; each credential for an enabled provider that takes a key, and readable now:
    /// a team credential that cannot be used would bill the operator's account instead, unseen.
    fn validate_teams(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::BTreeSet::new();
        for team in &self.teams {
            if !names.insert(team.name.as_str()) {
                return Err(ConfigError::Invalid(format!("team {:?} is defined twice", team.name)));
            }
            for c in &team.credentials {
                let invalid = |why: String| {
                    ConfigError::Invalid(format!("team {:?} credential for {:?}: {why}", team.name, c.provider))
                };
                let provider = self.providers.iter().find(|p| p.name == c.provider);
                match provider {
                    None => return Err(invalid("no such provider".into())),
                    Some(p) if p.kind == ProviderKind::Demo => {
                        return Err(invalid("a demo upstream takes no key".into()))
                    }
                    Some(p) if !p.enabled() => {
                        return Err(invalid(format!(
                            "the provider is disabled ({} is not set)",
                            p.api_key_env.as_deref().unwrap_or("?")
                        )))
                    }
                    Some(_) => {}
                }
                c.secret().map_err(invalid)?;
            }
        }
        Ok(())
    }

    /// The secret of each team that has its own for provider `name`: team name -> API key.
    pub fn team_keys(&self, name: &str) -> Vec<(String, String)> {
        let credentials = self
            .teams
            .iter()
            .flat_map(|t| t.credentials.iter().map(move |c| (t, c)))
            .filter(|(_, c)| c.provider == name);
        credentials.filter_map(|(t, c)| c.secret().ok().map(|s| (t.name.clone(), s))).collect()
    }

    /// Providers that are enabled in this environment.
    pub fn enabled_providers(&self) -> impl Iterator<Item = &ProviderConfig> {
        self.providers.iter().filter(|p| p.enabled())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_configuration_loads_and_dates_its_models() {
        let c = Config::from_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.toml")).expect("gateway.toml");
        let demo = &c.providers[0].models[0];
        assert_eq!(demo.created, chrono::NaiveDate::from_ymd_opt(2026, 11, 23));
        assert_eq!(c.source_sha256.len(), 64);
        assert_eq!(Config::default().source_sha256, BUILTIN_CONFIG);
    }

    #[test]
    fn empty_file_means_demo_defaults() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        let names: Vec<_> = c.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["demo-ch", "demo-us"]);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn keyed_provider_is_disabled_without_its_variable() {
        let c: Config = toml::from_str(
            r#"
            [[providers]]
            name = "x"
            kind = "openai"
            base_url = "http://127.0.0.1:1/v1"
            api_key_env = "AUDITGATE_TEST_SURELY_UNSET_VARIABLE"
            region = "eu"
            country = "FR"
            "#,
        )
        .unwrap();
        assert!(!c.providers[0].enabled());
    }

    #[test]
    fn the_shipped_gateway_toml_parses_and_so_do_its_commented_examples() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.toml")).unwrap();
        let c: Config = toml::from_str(&text).unwrap();
        assert_eq!(c.audit.timestamp_interval_ms, crate::audit::DEFAULT_TIMESTAMP_INTERVAL_MS);
        // Uncommented, the example array tables belong to [audit] and take no [audit] key away.
        let mut uncommented = text.clone();
        for example in ["[[audit.", "url = ", "public_key = ", "certificate = ", "[state]", "backend = ", "node = "] {
            uncommented = uncommented.replace(&format!("# {example}"), example);
        }
        let c: Config = toml::from_str(&uncommented).unwrap();
        assert_eq!((c.audit.witnesses.len(), c.audit.timestamp_authorities.len()), (1, 1));
        assert_eq!(c.audit.body_hold_years, 10);
        assert!(matches!(c.state.log_location(), Ok(Some(crate::audit::location::LogLocation::Postgres { .. }))));
    }

    #[test]
    fn state_postgres_needs_url_and_a_node_name_and_sqlite_takes_neither() {
        let state = |text: &str| toml::from_str::<Config>(text).unwrap().validate();
        assert!(state("").is_ok());
        assert!(state("[state]\nbackend = \"sqlite\"\nurl = \"postgresql://x/db\"").is_err());
        assert!(state("[state]\nbackend = \"postgres\"\nnode = \"a\"").is_err());
        assert!(state("[state]\nbackend = \"postgres\"\nurl = \"postgresql://x/db\"").is_err());
        assert!(state("[state]\nbackend = \"postgres\"\nurl = \"postgresql://x/db\"\nnode = \"a b\"").is_err());
        let ok =
            toml::from_str::<Config>("[state]\nbackend = \"postgres\"\nurl = \"postgresql://x/db\"\nnode = \"zrh-1\"")
                .unwrap();
        assert_eq!(
            ok.state.log_location().unwrap(),
            Some(crate::audit::location::LogLocation::Postgres {
                url: "postgresql://x/db".into(),
                node: "zrh-1".into()
            })
        );
        assert!(toml::from_str::<Config>("[state]\nbackend = \"mysql\"").is_err());
    }

    #[test]
    fn unknown_field_is_an_error() {
        assert!(toml::from_str::<Config>("lisen = 'x'").is_err());
    }

    #[test]
    fn upstream_id_defaults_to_part_after_slash() {
        let mut m = demo_model();
        m.upstream = None;
        assert_eq!(m.upstream_id(), "echo");
    }
}
