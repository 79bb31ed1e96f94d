//! A bounded cache of verified tokens, keyed by the SHA-256 of the token, so a repeated token
//! skips the signature check. Entries never outlive the token's `exp`; claims are still checked
//! on every hit.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};

/// Default number of tokens kept.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Longest time a token without `exp` stays cached, in seconds.
pub const MAX_TTL_SECONDS: u64 = 300;

/// What a verified token left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The jwt credential key that verified it (None: verified by a JWKS key alone).
    pub credential: Option<String>,
    /// The algorithm it was signed with.
    pub alg: crate::jose::Algorithm,
    /// The token's claims.
    pub claims: Map<String, Value>,
}

/// The cache. Not shared across VMs: each worker's VM has its own.
#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<[u8; 32], (Verified, u64)>,
    order: VecDeque<[u8; 32]>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

/// The cache key of a token.
pub fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// A live entry for `key`.
    pub fn get(&self, key: &[u8; 32], now: u64) -> Option<&Verified> {
        self.entries
            .get(key)
            .filter(|(_, expires)| now < *expires)
            .map(|(v, _)| v)
    }

    /// Stores a verified token until `exp` (or `now + MAX_TTL_SECONDS`, whichever is first).
    pub fn put(&mut self, key: [u8; 32], verified: Verified, now: u64) {
        if self.capacity == 0 {
            return;
        }
        let exp = verified.claims.get("exp").and_then(Value::as_f64);
        let ceiling = now.saturating_add(MAX_TTL_SECONDS);
        let expires = match exp {
            // `as` saturates for floats; a past exp gives an entry that is never served.
            Some(e) if e >= 0.0 => (e as u64).min(ceiling),
            Some(_) => return,
            None => ceiling,
        };
        if self.entries.insert(key, (verified, expires)).is_none() {
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
    }

    /// Number of entries held (live or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verified(exp: Option<u64>) -> Verified {
        let mut claims = Map::new();
        if let Some(e) = exp {
            claims.insert("exp".into(), json!(e));
        }
        Verified {
            credential: Some("k".into()),
            alg: crate::jose::Algorithm::HS256,
            claims,
        }
    }

    #[test]
    fn get_after_exp_misses() {
        let mut c = TokenCache::new(4);
        c.put(key("t"), verified(Some(1000)), 900);
        assert!(c.get(&key("t"), 999).is_some());
        assert!(c.get(&key("t"), 1000).is_none());
    }

    #[test]
    fn put_without_exp_expires_after_ttl() {
        let mut c = TokenCache::new(4);
        c.put(key("t"), verified(None), 100);
        assert!(c.get(&key("t"), 100 + MAX_TTL_SECONDS - 1).is_some());
        assert!(c.get(&key("t"), 100 + MAX_TTL_SECONDS).is_none());
    }

    #[test]
    fn put_beyond_capacity_evicts_oldest() {
        let mut c = TokenCache::new(2);
        for t in ["a", "b", "c"] {
            c.put(key(t), verified(Some(10_000)), 0);
        }
        assert_eq!(c.len(), 2);
        assert!(c.get(&key("a"), 1).is_none());
        assert!(c.get(&key("c"), 1).is_some());
    }
}
