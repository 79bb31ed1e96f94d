//! A bounded cache of verified tokens, keyed by the token itself, so a repeated token skips the
//! signature check. Entries never outlive the token's `exp`; claims are still checked on every
//! hit.
//!
//! The key is the token, compared in full: no hash stands between two tokens, so no collision
//! can let one token ride on another's verification. A SHA-256 of the token was the key before;
//! it cost more than half of a cached request inside wasm (no SHA instructions there), where the
//! map's own SipHash over the token and one comparison cost a fraction of that. Tokens longer than
//! [`MAX_TOKEN_BYTES`] are verified every time, which bounds the memory the keys can take.

use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Default number of tokens kept.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Longest time a token without `exp` stays cached, in seconds.
pub const MAX_TTL_SECONDS: u64 = 300;
/// Longest token cached, in bytes: the keys of a full cache take at most 4 MiB.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Most claim values (a member's name counts as one) the cached tokens hold together. The
/// claims are kept parsed, a few hundred bytes per value: a 4 KiB token of `[{"":0},...]`
/// claims held 190 KB, and a full cache of them 199 MB of the VM's memory, which never
/// shrinks (review). Ordinary tokens hold 10 to 50 values: 1,024 of them fit.
pub const MAX_CACHED_VALUES: usize = 65_536;

/// What a verified token left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The jwt credential key that verified it (None: verified by a JWKS key alone).
    pub credential: Option<String>,
    /// The algorithm it was signed with.
    pub alg: crate::jose::Algorithm,
    /// The token's claims, shared with the cache (a hit copies no claim).
    pub claims: Arc<Map<String, Value>>,
}

/// The cache. Not shared across VMs: each worker's VM has its own.
#[derive(Debug)]
pub struct TokenCache {
    capacity: usize,
    /// Each entry: what verified it, when it expires, and its claims' [`values`].
    entries: HashMap<Arc<str>, (Verified, u64, usize)>,
    /// The entries' values together (at most [`MAX_CACHED_VALUES`]).
    values: usize,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<Arc<str>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            values: 0,
            order: VecDeque::new(),
        }
    }

    /// A live entry for `token`.
    pub fn get(&self, token: &str, now: u64) -> Option<&Verified> {
        self.entries
            .get(token)
            .filter(|(_, expires, _)| now < *expires)
            .map(|(v, _, _)| v)
    }

    /// Stores a verified token until `exp` (or `now + MAX_TTL_SECONDS`, whichever is first).
    pub fn put(&mut self, token: &str, verified: Verified, now: u64) {
        if self.capacity == 0 || token.len() > MAX_TOKEN_BYTES {
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
        let weight = values(&verified.claims);
        if weight > MAX_CACHED_VALUES {
            return;
        }
        if let Some(entry) = self.entries.get_mut(token) {
            self.values = self.values.saturating_sub(entry.2).saturating_add(weight);
            *entry = (verified, expires, weight);
        } else {
            let key: Arc<str> = Arc::from(token);
            self.entries
                .insert(Arc::clone(&key), (verified, expires, weight));
            self.values = self.values.saturating_add(weight);
            self.order.push_back(key);
        }
        while self.entries.len() > self.capacity || self.values > MAX_CACHED_VALUES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, _, gone)) = self.entries.remove(&old) {
                self.values = self.values.saturating_sub(gone);
            }
        }
    }

    /// Forgets every token: the remote key set changed, and a key that verified some may be
    /// gone from it. Tokens verified by a credential go too: a changed set is rare (a fetch of
    /// the same bytes keeps the cache), and sorting them out would cost more module than
    /// verifying them again costs time.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
        self.values = 0;
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

/// The values in `claims`, its members' names included, counted without recursion (a claim may
/// nest as deep as the token's JSON allows).
fn values(claims: &Map<String, Value>) -> usize {
    let mut count = 0usize;
    let mut pending: Vec<&Value> = claims.values().collect();
    count = count.saturating_add(claims.len());
    while let Some(value) = pending.pop() {
        count = count.saturating_add(1);
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(members) => {
                count = count.saturating_add(members.len());
                pending.extend(members.values());
            }
            _ => {}
        }
    }
    count
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
            claims: Arc::new(claims),
        }
    }

    fn verified_with(claims: serde_json::Value) -> Verified {
        let serde_json::Value::Object(claims) = claims else {
            unreachable!("an object")
        };
        Verified {
            credential: None,
            alg: crate::jose::Algorithm::HS256,
            claims: Arc::new(claims),
        }
    }

    #[test]
    fn values_count_every_value_and_member_name() {
        // exp, its number; roles, the array, two strings; o, the object, a, its number.
        let v = verified_with(json!({"exp": 1, "roles": ["a", "b"], "o": {"a": 1}}));
        assert_eq!(values(&v.claims), 10);
    }

    /// The cached claims are bounded by their values, not only by the number of tokens: a
    /// cache of 4 KiB tokens of tiny nested claims held 199 MB (review).
    #[test]
    fn the_cached_claims_stay_within_their_value_budget() {
        let mut c = TokenCache::new(1024);
        let heavy = |n: usize| verified_with(json!({"exp": 2000, "a": vec![0; n]}));
        // exp, 2000, a, the array: 4 values and n more.
        let each = MAX_CACHED_VALUES / 4;
        for i in 0..8 {
            c.put(&format!("t{i}"), heavy(each - 4), 1000);
        }
        assert_eq!(c.len(), 4);
        assert!(c.values <= MAX_CACHED_VALUES);
        assert!(c.get("t3", 1000).is_none() && c.get("t4", 1000).is_some());
        // One token heavier than the whole budget is verified every time, evicting nothing.
        c.put("huge", heavy(MAX_CACHED_VALUES), 1000);
        assert!(c.get("huge", 1000).is_none());
        assert_eq!(c.len(), 4);
        c.clear();
        assert_eq!(c.values, 0);
    }

    #[test]
    fn get_after_exp_misses() {
        let mut c = TokenCache::new(4);
        c.put("t", verified(Some(1000)), 900);
        assert!(c.get("t", 999).is_some());
        assert!(c.get("t", 1000).is_none());
    }

    #[test]
    fn put_without_exp_expires_after_ttl() {
        let mut c = TokenCache::new(4);
        c.put("t", verified(None), 100);
        assert!(c.get("t", 100 + MAX_TTL_SECONDS - 1).is_some());
        assert!(c.get("t", 100 + MAX_TTL_SECONDS).is_none());
    }

    #[test]
    fn put_beyond_capacity_evicts_oldest() {
        let mut c = TokenCache::new(2);
        for t in ["a", "b", "c"] {
            c.put(t, verified(Some(10_000)), 0);
        }
        assert_eq!(c.len(), 2);
        assert!(c.get("a", 1).is_none());
        assert!(c.get("c", 1).is_some());
    }

    /// Two tokens are two entries however alike; a token over the size bound is not kept.
    #[test]
    fn tokens_are_compared_whole_and_long_ones_not_kept() {
        let mut c = TokenCache::new(4);
        c.put("a.b.c", verified(Some(10_000)), 0);
        assert!(c.get("a.b.c", 1).is_some());
        assert!(c.get("a.b.d", 1).is_none());
        assert!(c.get("a.b.c ", 1).is_none());
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        c.put(&long, verified(Some(10_000)), 0);
        assert!(c.get(&long, 1).is_none());
        assert_eq!(c.len(), 1);
        let longest = "y".repeat(MAX_TOKEN_BYTES);
        c.put(&longest, verified(Some(10_000)), 0);
        assert!(c.get(&longest, 1).is_some());
    }

    /// Storing the same token again replaces its entry and does not grow the eviction order.
    #[test]
    fn put_again_replaces_in_place() {
        let mut c = TokenCache::new(2);
        for _ in 0..5 {
            c.put("t", verified(Some(10_000)), 0);
        }
        c.put("u", verified(Some(10_000)), 0);
        assert_eq!(c.len(), 2);
        assert!(c.get("t", 1).is_some());
        assert_eq!(c.order.len(), 2);
    }
}
