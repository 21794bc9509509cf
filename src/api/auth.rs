//! Bearer-token authentication. Secrets are hashed (SHA-256) and looked up in the account store;
//! recent look-ups are cached for a few seconds so the hot path does not touch SQLite, while a key
//! revoked with `auditgate keys revoke` stops working within that time.

use axum::http::HeaderMap;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ApiError;
use crate::accounting::store::hash_secret;
use crate::accounting::{AccountStore, ApiKey};

const CACHE_TTL: Duration = Duration::from_secs(2);

pub struct KeyCache {
    store: Arc<dyn AccountStore>,
    cache: RwLock<HashMap<String, (Arc<ApiKey>, Instant)>>,
}

impl KeyCache {
    pub fn new(store: Arc<dyn AccountStore>) -> Self {
        KeyCache { store, cache: RwLock::new(HashMap::new()) }
    }

    /// The key behind `Authorization: Bearer <secret>`, or a 401. Shared with the cache: the
    /// request holds it to its end, and a copy would be a handful of strings per request.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<ApiKey>, ApiError> {
        let secret = bearer(headers).ok_or_else(|| {
            ApiError::unauthorized("missing API key: send it as 'Authorization: Bearer <key>' (or 'x-api-key')")
        })?;
        let hash = hash_secret(secret);
        if let Some((key, at)) = self.cache.read().get(&hash) {
            if at.elapsed() < CACHE_TTL {
                return Ok(Arc::clone(key));
            }
        }
        let found =
            self.store.key_by_hash(&hash).map_err(|e| ApiError::internal(format!("key store unavailable: {e}")))?;
        let mut cache = self.cache.write();
        match found {
            Some(key) => {
                let key = Arc::new(key);
                cache.insert(hash, (Arc::clone(&key), Instant::now()));
                Ok(key)
            }
            None => {
                cache.remove(&hash);
                Err(ApiError::unauthorized("invalid or revoked API key"))
            }
        }
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
