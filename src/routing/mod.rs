//! Routing: which providers, in which order, may serve a request (always inside what policy allows).
//!
//! INTERFACE SKELETON: the planner, preferences, health book and retry policy replace this file.

use crate::providers::ProviderProfile;
use serde::Serialize;

/// Prices in USD per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Price {
    pub prompt_per_mtok: f64,
    pub completion_per_mtok: f64,
    pub cached_prompt_per_mtok: Option<f64>,
}

/// One provider able to serve one public model.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub provider: ProviderProfile,
    pub public_model: String,
    pub upstream_model: String,
    pub price: Price,
    pub supported_parameters: Vec<String>,
    pub context_length: Option<u64>,
}
