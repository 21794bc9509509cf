//! Upstream providers: who they are (profile: region, country, retention), which models they serve
//! at which price (the catalogue), and how to talk to them (one pooled HTTP client each).

pub mod anthropic;
pub mod catalog;
pub mod demo;
pub mod openai;

pub use catalog::{Catalog, ModelInfo};
pub use openai::{Upstream, UpstreamError};

use serde::{Deserialize, Serialize};

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
