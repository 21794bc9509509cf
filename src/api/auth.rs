//! Bearer-token authentication. Secrets are hashed (SHA-256) and looked up in the account store;
//! looked-up keys are cached so the hot path does not query the keys table. The cache holds until
//! a key changes: every request reads the store's key epoch (one small row, on a connection of its
//! own), which any process bumps when it creates, changes or revokes a key, so a revocation or a
//! new limit counts from the next request, on every worker, whichever process made it.

use axum::http::HeaderMap;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

use super::ApiError;
use crate::accounting::store::hash_secret;
use crate::accounting::{AccountStore, ApiKey};

pub struct KeyCache {
    store: Arc<dyn AccountStore>,
    /// Secret hash -> the key and the key epoch read before the key was: an entry serves only
    /// while the epoch is still that one.
    cache: RwLock<HashMap<String, (Arc<ApiKey>, u64)>>,
}

impl KeyCache {
    pub fn new(store: Arc<dyn AccountStore>) -> Self {
        KeyCache { store, cache: RwLock::new(HashMap::new()) }
    }

    /// The key behind `Authorization: Bearer <secret>` for calling models and reading one's own
    /// account: 401 for a missing, unknown, revoked or disabled key, 403 for a provisioning key.
    /// Shared with the cache: the request holds it to its end, and a copy would be a handful of
    /// strings per request.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<ApiKey>, ApiError> {
        let key = self.active(headers)?;
        if key.admin {
            return Err(ApiError::forbidden(
                "this is a provisioning key: it manages keys over /api/v1/keys and cannot call models",
            ));
        }
        Ok(key)
    }

    /// A provisioning key (`keys create --admin`) for `/api/v1/keys`; 403 for any other key.
    pub fn authenticate_admin(&self, headers: &HeaderMap) -> Result<Arc<ApiKey>, ApiError> {
        let key = self.active(headers)?;
        if !key.admin {
            return Err(ApiError::forbidden("managing keys needs a provisioning key (auditgate keys create --admin)"));
        }
        Ok(key)
    }

    fn active(&self, headers: &HeaderMap) -> Result<Arc<ApiKey>, ApiError> {
        let secret = bearer(headers).ok_or_else(|| {
            ApiError::unauthorized("missing API key: send it as 'Authorization: Bearer <key>' (or 'x-api-key')")
        })?;
        let key = self.lookup(&hash_secret(secret))?;
        if key.disabled {
            return Err(ApiError::unauthorized("this API key is disabled"));
        }
        Ok(key)
    }

    fn lookup(&self, hash: &str) -> Result<Arc<ApiKey>, ApiError> {
        let unavailable = |e: crate::accounting::StoreError| ApiError::internal(format!("key store unavailable: {e}"));
        // Read before the key: a change committed in between leaves the entry tagged with the
        // older epoch, so the next request reads the key again.
        let epoch = self.store.key_epoch().map_err(unavailable)?;
        if let Some((key, _)) = self.cache.read().get(hash).filter(|(_, at)| *at == epoch) {
            return Ok(Arc::clone(key));
        }
        let found = self.store.key_by_hash(hash).map_err(unavailable)?;
        let mut cache = self.cache.write();
        let Some(found) = found else {
            cache.remove(hash);
            return Err(ApiError::unauthorized("invalid or revoked API key"));
        };
        let key = Arc::new(found);
        cache.insert(hash.to_string(), (Arc::clone(&key), epoch));
        Ok(key)
    }
}

/// The secret from `Authorization: Bearer <key>`, or from `x-api-key` as the Anthropic SDK sends it.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    authorization(headers).or_else(|| {
        let key = headers.get("x-api-key")?.to_str().ok()?.trim();
        (!key.is_empty()).then_some(key)
    })
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer  sk-ag-1 ".parse().unwrap());
        assert_eq!(bearer(&h), Some("sk-ag-1"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.remove("authorization");
        h.insert("x-api-key", "sk-ag-2".parse().unwrap());
        assert_eq!(bearer(&h), Some("sk-ag-2"));
    }
}
