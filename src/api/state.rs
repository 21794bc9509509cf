//! What every request handler shares: configuration, upstreams, policy, the audit log, the key
//! store and the live health and limits. Built once at start (`server`), cloned per request.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;

use super::auth::KeyCache;
use crate::accounting::{AccountStore, GenerationRecorder, Limits};
use crate::audit::AuditLog;
use crate::config::Config;
use crate::policy::Policy;
use crate::providers::{Catalog, Upstream};
use crate::routing::{Health, RetryPolicy};

/// Everything a request handler needs; cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    pub inner: Arc<Inner>,
}

pub struct Inner {
    pub config: Config,
    pub catalog: Catalog,
    pub upstreams: HashMap<String, Arc<Upstream>>,
    pub policy: Arc<ArcSwap<Policy>>,
    pub audit: AuditLog,
    pub accounts: Arc<dyn AccountStore>,
    /// Stores generation records and spend in batches, off the request path.
    pub recorder: Arc<GenerationRecorder>,
    pub keys: KeyCache,
    /// Live provider health (latency, throughput, errors, circuit breakers), shared by all requests.
    pub health: Arc<Health>,
    pub retry: RetryPolicy,
    /// Per-key rate and credit limits.
    pub limits: Arc<Limits>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}
