//! Policy: ordered rules in TOML files decide, per request, allow / deny / redact and where the data
//! may go. The policy in force is an immutable value, swapped atomically on reload.
//!
//! INTERFACE SKELETON: the real loader and evaluator replace the bodies below.

use crate::pii::Level;
use crate::providers::ProviderProfile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Facts about one request that rules match on.
#[derive(Debug, Clone, Default, Serialize)]
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
    Replace,
    Mask,
    Hash,
    Pseudonymize,
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

impl RouteConstraints {
    /// Ok when the provider satisfies every constraint, else the reason it is excluded.
    pub fn check(&self, p: &ProviderProfile) -> Result<(), String> {
        if let Some(regions) = &self.regions {
            if !regions.contains(&p.region) {
                return Err(format!(
                    "region {} not in allowed regions {:?}",
                    p.region, regions
                ));
            }
        }
        if let Some(countries) = &self.countries {
            if !countries.contains(&p.country) {
                return Err(format!(
                    "country {} not in allowed countries {:?}",
                    p.country, countries
                ));
            }
        }
        if let Some(providers) = &self.providers {
            if !providers.contains(&p.name) {
                return Err(format!("provider {} not in allowed providers", p.name));
            }
        }
        if self.require_zdr && !p.zdr {
            return Err("zero data retention required".into());
        }
        if self.deny_data_collection && p.data_collection {
            return Err("provider may collect data".into());
        }
        Ok(())
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
    /// Id of the deciding rule (`<no rule matched>` when the default deny applied).
    pub rule_id: String,
    pub outcome: Outcome,
    pub redact: Option<RedactAction>,
    pub constraints: RouteConstraints,
    /// Cost ceiling in USD for this call, if any.
    pub max_cost_usd: Option<f64>,
}

/// A loaded, validated set of policy files.
#[derive(Debug, Clone)]
pub struct Policy {
    pub version: String,
    /// Each file with the hex SHA-256 of its bytes.
    pub files: Vec<(PathBuf, String)>,
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
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

impl Policy {
    /// Load every `*.toml` under the given files or directories (examples/ excluded when a directory).
    pub fn load(_paths: &[PathBuf]) -> Result<Policy, Vec<Diagnostic>> {
        Ok(Policy {
            version: "skeleton".into(),
            files: vec![],
        })
    }

    /// Load from one directory (the gateway's `policy_dir`).
    pub fn load_dir(dir: &Path) -> Result<Policy, Vec<Diagnostic>> {
        Self::load(&[dir.to_path_buf()])
    }

    pub fn decide(&self, _facts: &RequestFacts) -> Decision {
        Decision {
            policy_version: self.version.clone(),
            rule_id: "skeleton-allow".into(),
            outcome: Outcome::Allow,
            redact: None,
            constraints: RouteConstraints::default(),
            max_cost_usd: None,
        }
    }
}
