//! Upstream providers: who they are (profile: region, country, retention), which models they serve
//! at which price (the catalogue), and how to talk to them (one pooled HTTP client each).

pub mod anthropic;
pub mod catalog;
pub mod demo;
pub mod openai;
pub mod wire;

pub use catalog::{Catalog, ModelInfo};
pub use openai::{Upstream, UpstreamError};
