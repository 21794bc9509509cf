//! The catalogue: which public model ids exist, and which providers serve each at which price.

use std::collections::BTreeMap;

use crate::config::{default_parameters, Config, ModelConfig};
use crate::offer::{Candidate, Price};

/// What /v1/models says about one public model.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub id: String,
    pub name: String,
    pub context_length: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub input_modalities: Vec<String>,
    pub candidates: Vec<Candidate>,
    /// Unix seconds of the configured `created` date (0 when none is configured).
    pub created: i64,
}

/// Public model id -> providers serving it, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    models: BTreeMap<String, ModelInfo>,
}

fn candidate(provider: &crate::config::ProviderConfig, m: &ModelConfig) -> Candidate {
    Candidate {
        provider: provider.profile().into(),
        public_model: m.id.clone(),
        upstream_model: m.upstream_id().to_string(),
        price: Price {
            prompt_per_mtok: m.prompt,
            completion_per_mtok: m.completion,
            cached_prompt_per_mtok: m.cached_prompt,
        },
        supported_parameters: m
            .supported_parameters
            .clone()
            .unwrap_or_else(|| default_parameters(provider.kind))
            .into(),
        // `Config::validate` has refused unknown modality names before a catalogue is built.
        limits: m.limits().unwrap_or_default(),
    }
}

impl Catalog {
    /// Build from the providers enabled in this environment.
    pub fn from_config(config: &Config) -> Catalog {
        let mut models: BTreeMap<String, ModelInfo> = BTreeMap::new();
        for provider in config.enabled_providers() {
            for m in &provider.models {
                let info = models.entry(m.id.clone()).or_insert_with(|| ModelInfo {
                    id: m.id.clone(),
                    name: m.name.clone().unwrap_or_else(|| m.id.clone()),
                    context_length: m.context_length,
                    max_completion_tokens: m.max_completion_tokens,
                    input_modalities: m.input_modalities.clone().unwrap_or_else(|| vec!["text".into()]),
                    candidates: Vec::new(),
                    created: 0,
                });
                // The earliest date any provider's entry gives.
                if let Some(t) = m.created.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc().timestamp()) {
                    info.created = if info.created == 0 { t } else { info.created.min(t) };
                }
                info.context_length = info.context_length.max(m.context_length);
                info.candidates.push(candidate(provider, m));
            }
        }
        Catalog { models }
    }

    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        self.models.get(id)
    }

    pub fn models(&self) -> impl Iterator<Item = &ModelInfo> {
        self.models.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_model_has_two_providers() {
        let cat = Catalog::from_config(&Config::default());
        let info = cat.get("demo/echo").expect("demo model");
        let names: Vec<_> = info.candidates.iter().map(|c| c.provider.name.as_str()).collect();
        assert_eq!(names, ["demo-ch", "demo-us"]);
        assert_eq!(info.candidates[0].upstream_model, "echo");
    }
}
