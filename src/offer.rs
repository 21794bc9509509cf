//! What a provider offers, as every layer sees it: who the provider is (its profile, which policy
//! reads), what one model costs there (its price), one way to serve a public model (a candidate),
//! and what a call consumed (usage). A leaf: it imports no other module of the gateway, so
//! `config`, `routing`, `providers` and `accounting` can all use it without importing each other.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub use auditlog::record::Usage;

/// What policy needs to know about an upstream to decide whether data may go there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderProfile {
    /// Unique provider name, e.g. `mistral`, `demo-ch`.
    pub name: String,
    /// Region tag in lower case: `ch`, `eu`, `us`, ...
    pub region: String,
    /// ISO 3166-1 alpha-2 country code in upper case, e.g. `CH`, `FR`, `US`.
    pub country: String,
    /// The provider keeps no prompt or completion data (zero data retention).
    pub zdr: bool,
    /// The provider may use submitted data for training or other collection.
    pub data_collection: bool,
}

/// Price of one provider for one model, in USD per one million tokens (OpenRouter quotes per
/// token in `/models`, but per million everywhere a human types a number, e.g. `max_price`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Price {
    pub prompt_per_mtok: f64,
    pub completion_per_mtok: f64,
    /// Price of prompt tokens served from the provider's cache, when it bills them differently.
    #[serde(default)]
    pub cached_prompt_per_mtok: Option<f64>,
}

impl Price {
    /// One number to rank and weight candidates by: prompt plus completion price.
    ///
    /// A plain sum keeps the ranking independent of any guessed prompt/completion ratio.
    /// Negative or non-finite prices (configuration mistakes) rank as the most expensive so that
    /// a typo can never attract all the traffic.
    pub fn blended(&self) -> f64 {
        let sum = self.prompt_per_mtok + self.completion_per_mtok;
        let sane = self.prompt_per_mtok >= 0.0 && self.completion_per_mtok >= 0.0;
        if sum.is_finite() && sane {
            sum
        } else {
            f64::MAX
        }
    }
}

/// One way to serve a public model: which provider, under which upstream id, at what price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Shared, like `supported_parameters`: a clone of a candidate should not copy strings.
    pub provider: Arc<ProviderProfile>,
    /// The model name clients use, e.g. `demo/echo`.
    pub public_model: String,
    /// The provider's own id for that model.
    pub upstream_model: String,
    pub price: Price,
    /// OpenAI request parameters this provider honours (`tools`, `temperature`, ...). Shared:
    /// candidates are cloned several times per request, and the list is two dozen strings.
    #[serde(default)]
    pub supported_parameters: Arc<[String]>,
    #[serde(default)]
    pub limits: Limits,
}

/// What one model at one provider can take: the configured `context_length`,
/// `max_completion_tokens` and `input_modalities`. Routing passes over a candidate whose limits
/// the request exceeds, as OpenRouter does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Limits {
    pub context_length: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub input_modalities: Modalities,
}

/// A set of input modalities (OpenRouter's names: `text`, `image`, `file`, `audio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modalities(u8);

impl Modalities {
    /// The names, in the order their bits are numbered.
    pub const NAMES: [&'static str; 4] = ["text", "image", "file", "audio"];
    pub const TEXT: Modalities = Modalities(1);

    /// The set named by `names`; Err with the first name that is not a modality.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Modalities, &'a str> {
        let mut set = Modalities(0);
        for name in names {
            let bit = Self::NAMES.iter().position(|n| *n == name).ok_or(name)?;
            set.0 |= 1 << bit;
        }
        Ok(set)
    }

    /// One modality by name (`None` for a name that is not one).
    pub fn one(name: &str) -> Option<Modalities> {
        Self::parse([name]).ok()
    }

    pub fn insert(&mut self, other: Modalities) {
        self.0 |= other.0;
    }

    pub fn contains(self, other: Modalities) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the members of `self` that `other` lacks.
    pub fn missing_from(self, other: Modalities) -> Vec<&'static str> {
        (0..Self::NAMES.len()).filter(|b| self.0 & !other.0 & (1 << b) != 0).map(|b| Self::NAMES[b]).collect()
    }
}

impl Default for Modalities {
    fn default() -> Self {
        Modalities::TEXT
    }
}

impl Candidate {
    /// Provider name (the key of the health book and of `order`/`only`/`ignore`).
    pub fn provider_name(&self) -> &str {
        &self.provider.name
    }

    /// True when the provider honours every parameter the request uses.
    pub fn supports_all(&self, request_params: &[String]) -> bool {
        request_params.iter().all(|p| self.supported_parameters.iter().any(|s| s == p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(p: f64, c: f64) -> Price {
        Price { prompt_per_mtok: p, completion_per_mtok: c, cached_prompt_per_mtok: None }
    }

    #[test]
    fn blended_sums_prompt_and_completion() {
        assert_eq!(price(1.0, 3.0).blended(), 4.0);
    }

    #[test]
    fn broken_prices_rank_most_expensive() {
        assert_eq!(price(f64::NAN, 1.0).blended(), f64::MAX);
        assert_eq!(price(-1.0, 1.0).blended(), f64::MAX);
        assert_eq!(price(f64::INFINITY, 1.0).blended(), f64::MAX);
    }
}
