//! Policy: ordered rules in TOML files decide, per request, allow / deny / redact and where the data
//! may go. The policy in force is an immutable value, swapped atomically on reload.
//!
//! - `format.rs`: the TOML schema as written by officers (see docs/policy.md).
//! - `load.rs`: file discovery, parsing and validation with `FILE:LINE:COL` diagnostics.
//! - `eval.rs`: compiled rules and the first-match decision (default deny).
//! - `explain.rs`: the human / JSON account of one decision, provider by provider.
//! - `tests.rs`: officer-written `[[test]]` blocks and their runner.
//! - `cli.rs`: `auditgate policy check | explain | test`.
//! - `reload.rs`: hot reload (file polling and SIGHUP) behind an `ArcSwap`.

pub mod cli;
pub mod eval;
pub mod explain;
mod format;
pub mod load;
pub mod reload;
pub mod tests;
pub mod vocab;

pub use cli::{
    check_main, explain_main, scanner_classify_body, scanner_classify_text, test_main, ExplainArgs, PolicyCommand,
};
pub use eval::{
    Action, ConditionTrace, Glob, Matcher, Rule, RuleTrace, SourcePos, TracedDecision, DEFAULT_DENY_REASON,
    DEFAULT_DENY_RULE,
};
pub use explain::{explain, facts_for_request, Explanation, ProviderVerdict};
pub use reload::{spawn_watcher, PolicyHandle, ReloadEvent, ReloadOutcome};
pub use tests::{run_tests, PolicyTest, TestReport, TestResult};

use crate::offer::ProviderProfile;
use crate::pii::Level;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Facts about one request that rules match on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestFacts {
    pub key_name: String,
    pub team: String,
    /// The model being decided (each entry of a `models` fallback list is decided on its own).
    pub model: String,
    pub level: Level,
    pub entity_types: BTreeSet<String>,
    /// The client's own label from header `X-Data-Classification`, lower-cased.
    pub client_label: Option<String>,
    pub stream: bool,
    /// `chat` or `embeddings`.
    pub endpoint: String,
    /// The request has parts that could not be scanned (images, files).
    pub has_unscannable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedactOperator {
    /// `<EMAIL_ADDRESS>`: irreversible.
    Replace,
    /// `****@****.ch`: irreversible.
    Mask,
    /// A keyed hash of the value: irreversible, but equal values stay equal.
    Hash,
    /// A placeholder restored in the response by the gateway: reversible.
    Pseudonymize,
}

impl RedactOperator {
    pub fn parse(s: &str) -> Option<RedactOperator> {
        match s {
            "replace" => Some(RedactOperator::Replace),
            "mask" => Some(RedactOperator::Mask),
            "hash" => Some(RedactOperator::Hash),
            "pseudonymize" => Some(RedactOperator::Pseudonymize),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RedactOperator::Replace => "replace",
            RedactOperator::Mask => "mask",
            RedactOperator::Hash => "hash",
            RedactOperator::Pseudonymize => "pseudonymize",
        }
    }

    /// The gateway can restore the original values in the response.
    pub fn reversible(self) -> bool {
        self == RedactOperator::Pseudonymize
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedactAction {
    /// Entity types to redact; empty means every finding.
    pub entities: BTreeSet<String>,
    pub operator: RedactOperator,
}

/// Where data may go. `None` in a set means "no constraint".
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteConstraints {
    pub regions: Option<BTreeSet<String>>,
    pub countries: Option<BTreeSet<String>>,
    pub providers: Option<BTreeSet<String>>,
    pub require_zdr: bool,
    pub deny_data_collection: bool,
}

fn set_list(s: &BTreeSet<String>) -> String {
    s.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// Why a rule's route constraints exclude a provider. Its text is what the client and the audit
/// entry's exclusion list read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Exclusion {
    #[error("region {region} not in allowed regions [{}]", set_list(.allowed))]
    Region { region: String, allowed: BTreeSet<String> },
    #[error("country {country} not in allowed countries [{}]", set_list(.allowed))]
    Country { country: String, allowed: BTreeSet<String> },
    #[error("provider {provider} not in allowed providers [{}]", set_list(.allowed))]
    Provider { provider: String, allowed: BTreeSet<String> },
    #[error("zero data retention required, provider retains data")]
    RetainsData,
    #[error("provider may collect data, and the rule forbids it")]
    CollectsData,
    /// The deciding rule denies the request: every provider is excluded.
    #[error("rule {rule} denies: {reason}")]
    Denied { rule: String, reason: String },
}

impl RouteConstraints {
    /// Ok when the provider satisfies every constraint, else the first reason it is excluded.
    pub fn check(&self, p: &ProviderProfile) -> Result<(), Exclusion> {
        if let Some(regions) = &self.regions {
            if !regions.iter().any(|r| vocab::region_covers(r, &p.region)) {
                return Err(Exclusion::Region { region: p.region.clone(), allowed: regions.clone() });
            }
        }
        if let Some(countries) = &self.countries {
            if !countries.contains(&p.country) {
                return Err(Exclusion::Country { country: p.country.clone(), allowed: countries.clone() });
            }
        }
        if let Some(providers) = &self.providers {
            if !providers.contains(&p.name) {
                return Err(Exclusion::Provider { provider: p.name.clone(), allowed: providers.clone() });
            }
        }
        if self.require_zdr && !p.zdr {
            return Err(Exclusion::RetainsData);
        }
        if self.deny_data_collection && p.data_collection {
            return Err(Exclusion::CollectsData);
        }
        Ok(())
    }

    /// No constraint at all: any provider may serve.
    pub fn is_unconstrained(&self) -> bool {
        *self == RouteConstraints::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Outcome {
    Allow,
    Deny { reason: String },
}

/// The result of evaluating the policy for one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Hash identifying the policy version that decided.
    pub policy_version: String,
    /// Id of the deciding rule ([`DEFAULT_DENY_RULE`] when the default deny applied).
    pub rule_id: String,
    pub outcome: Outcome,
    /// Set when the rule's action is `redact` (the outcome is then `Allow`).
    pub redact: Option<RedactAction>,
    /// Empty (unconstrained) for a deny.
    pub constraints: RouteConstraints,
    /// Cost ceiling in USD for this call, if any.
    pub max_cost_usd: Option<f64>,
    /// Years this call's stored bodies are held before erasure needs `--force` (None: the
    /// `[audit] body_hold_years` default).
    pub body_hold_years: Option<u32>,
}

impl Decision {
    pub fn is_denied(&self) -> bool {
        matches!(self.outcome, Outcome::Deny { .. })
    }

    /// `allow`, `redact` or `deny`, as recorded in the audit log.
    pub fn action(&self) -> &'static str {
        match (&self.outcome, &self.redact) {
            (Outcome::Deny { .. }, _) => "deny",
            (Outcome::Allow, Some(_)) => "redact",
            (Outcome::Allow, None) => "allow",
        }
    }

    /// Whether this decision lets the request go to `p`, else why not. A deny excludes everyone.
    pub fn check_provider(&self, p: &ProviderProfile) -> Result<(), Exclusion> {
        match &self.outcome {
            Outcome::Deny { reason } => Err(Exclusion::Denied { rule: self.rule_id.clone(), reason: reason.clone() }),
            Outcome::Allow => self.constraints.check(p),
        }
    }

    /// The message for the client when the decision denies (names the rule and its reason).
    pub fn deny_message(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Deny { reason } => Some(format!("request denied by policy rule `{}`: {reason}", self.rule_id)),
            Outcome::Allow => None,
        }
    }

    /// Split providers into allowed (in the given order) and excluded with the reason for each.
    pub fn partition<'a>(
        &self,
        providers: &'a [ProviderProfile],
    ) -> (Vec<&'a ProviderProfile>, Vec<(&'a ProviderProfile, Exclusion)>) {
        let mut allowed = Vec::new();
        let mut excluded = Vec::new();
        for p in providers {
            match self.check_provider(p) {
                Ok(()) => allowed.push(p),
                Err(why) => excluded.push((p, why)),
            }
        }
        (allowed, excluded)
    }

    /// The message for the client when no candidate provider is allowed: the rule, then each
    /// provider with the reason it was excluded.
    pub fn nothing_allowed_message(&self, candidates: &[ProviderProfile]) -> String {
        if let Some(msg) = self.deny_message() {
            return msg;
        }
        let (_, excluded) = self.partition(candidates);
        let reasons: Vec<String> = excluded.iter().map(|(p, why)| format!("{}: {why}", p.name)).collect();
        if reasons.is_empty() {
            return format!("policy rule `{}` allows no provider: none is configured for this model", self.rule_id);
        }
        format!("policy rule `{}` allows none of the providers for this model ({})", self.rule_id, reasons.join("; "))
    }

    /// The providers this decision allows, in the given order (filter before any routing choice).
    pub fn allowed_providers<'a>(&self, providers: &'a [ProviderProfile]) -> Vec<&'a ProviderProfile> {
        providers.iter().filter(|p| self.check_provider(p).is_ok()).collect()
    }
}

/// `[policy]` metadata of one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileMeta {
    pub file: PathBuf,
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A loaded, validated set of policy files.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Hex SHA-256 over the (file name, file SHA-256) list in load order (see docs/policy.md).
    pub version: String,
    /// Each file with the hex SHA-256 of its bytes, in load order.
    pub files: Vec<(PathBuf, String)>,
    pub meta: Vec<FileMeta>,
    /// All rules of all files, in evaluation order.
    pub rules: Vec<Rule>,
    /// All officer tests of all files.
    pub tests: Vec<PolicyTest>,
}

/// One validation error, printed as `FILE:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.col, self.message)
    }
}

impl Policy {
    /// Load the given files and directories in order. A directory contributes every `*.toml` file
    /// directly inside it, sorted by file name (subdirectories such as `examples/` are not read).
    /// Every error of every file is collected.
    pub fn load(paths: &[PathBuf]) -> Result<Policy, Vec<Diagnostic>> {
        load::load(paths).policy
    }

    /// Load one policy from text in memory (see [`load::load_str`]).
    pub fn from_str_named(name: &str, text: &str) -> Result<Policy, Vec<Diagnostic>> {
        load::load_str(name, text)
    }

    /// Load from one directory (the gateway's `policy_dir`).
    pub fn load_dir(dir: &Path) -> Result<Policy, Vec<Diagnostic>> {
        Self::load(&[dir.to_path_buf()])
    }

    /// File name -> hex SHA-256, as in reload events. For one directory the map's order is the
    /// load order, so the version can be recomputed from it (see [`load::version_of`]).
    pub fn file_hashes(&self) -> std::collections::BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(p, sha)| {
                let name = p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
                (name, sha.clone())
            })
            .collect()
    }

    /// Short form of the version for humans (first 12 hex digits).
    pub fn short_version(&self) -> &str {
        self.version.get(..12).unwrap_or(&self.version)
    }
}
