//! Caching the auth service's allow answers, keyed by what the service was told.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::answer::Injection;
use super::call::{copied_headers, forwarded_proto, percent_decode};
use super::compile::Reconcile;
use crate::jose::{b64, jws};
use crate::stages::auth::token::compact_jws;
use crate::stages::headers::canonical;
use crate::stages::CallAnswer;
use crate::stages::Request;

/// Client headers left out of the cache key although the call may carry them: per-request ids
/// and tracing context that Envoy and tracers set on every request (Envoy adds `x-request-id`
/// before any filter runs), on which no auth service decides. Keying on them would make every
/// request a miss.
pub const VOLATILE_HEADERS: &[&str] = &[
    "x-request-id",
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-ot-span-context",
    "uber-trace-id",
    "sw8",
    "x-cloud-trace-context",
    "x-amzn-trace-id",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-datadog-origin",
    "x-envoy-expected-rq-timeout-ms",
    "x-envoy-attempt-count",
];

/// Credential headers always in the key, even when the call does not carry them.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie"];

/// The cache key of a request: SHA-256 over everything the auth service is told about it, so
/// that two requests share an answer only when the service could not tell them apart.
///
/// In order, each item length-prefixed (a tag byte, the length as 8 bytes big-endian, then the
/// bytes) after the domain tag `jwt-relay/reconcile-cache/v5` (v3: the method joined item 1;
/// v4: minted tokens keyed by their claims, [`key_view`]; v5: the scheme and client address):
/// 1. the request's method, authority, path without query, and raw query: the call always
///    carries them (`X-Forwarded-Method`, `-Host`, `-Path`, `-Query`), so an answer for
///    `GET /public` never serves `/admin` or `DELETE /public`; then the scheme and the client's
///    address the call carries (`X-Forwarded-Proto`, `X-Forwarded-For`), so an answer given for
///    one network is never served to another;
/// 2. client headers, sorted by lower-case name (values of one name in request order), except
///    [`VOLATILE_HEADERS`]: with `forward_headers` every client header, else with
///    `copy_headers` the copied ones (a credential may sit in any of them: `apikey`,
///    `x-api-key`), else only `authorization` and `cookie`; `authorization` and `cookie` are
///    in all three sets;
/// 3. with `forward_body`, the body's SHA-256 as the flow computed it while reading the body
///    (tag 0 when the glue passed none): the body is hashed once per request, never again here;
///    then every `Content-Type` value, which decides what the call shows of the body.
///
/// The call's fixed parts (url, the call's method, flags) are the same for every request of one
/// configuration and are not hashed; a cache belongs to one configuration.
pub fn cache_key(rec: &Reconcile, req: &Request, body_sha256: Option<&[u8; 32]>) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"jwt-relay/reconcile-cache/v5");
    let mut item = |tag: u8, bytes: &[u8]| {
        hash.update([tag]);
        hash.update(u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes());
        hash.update(bytes);
    };
    item(8, req.method.as_bytes());
    item(1, req.authority.as_bytes());
    item(2, req.path_only().as_bytes());
    item(3, req.query().as_bytes());
    item(9, forwarded_proto(req).as_bytes());
    if let Some(ip) = &req.client_ip {
        item(10, ip.as_bytes());
    }
    let mut headers: Vec<(String, &str)> = if rec.forward_headers {
        req.headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
            .collect()
    } else if rec.copy_headers {
        copied_headers(req)
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v))
            .collect()
    } else {
        Vec::new()
    };
    for credential in CREDENTIAL_HEADERS {
        if !headers.iter().any(|(n, _)| n == credential) {
            headers.extend(
                req.header_all(credential)
                    .map(|v| (credential.to_string(), v)),
            );
        }
    }
    headers.retain(|(n, _)| !VOLATILE_HEADERS.contains(&n.as_str()));
    for (name, value) in &sorted_by_name(headers) {
        item(4, name.as_bytes());
        item(5, value.as_bytes());
    }
    if rec.forward_body || rec.body_in_token {
        match body_sha256 {
            Some(digest) => item(6, digest),
            None => item(0, b""),
        }
        // What the call shows of the body depends on its type (and multipart boundary), which
        // `copy_headers` never copies: the same bytes as text or as a form are different calls.
        for value in req.header_all("content-type") {
            item(7, value.as_bytes());
        }
    }
    hash.finalize().into()
}

/// Claims a mint stage sets afresh for every request (Kong's plugins stamp each token): keyed,
/// they would make every request a miss.
const PER_REQUEST_CLAIMS: [&str; 3] = ["jti", "iat", "exp"];

/// The request as the cache key sees it: each token the mint stages set (the call shows it to
/// the service) keyed by what it says, less [`PER_REQUEST_CLAIMS`] (see [`token_for_key`]).
/// A token says more than the request's other keyed parts: `custom_jwt`'s `client_id` may be
/// the client certificate's DN, its claims those of a verified token in a header the call does
/// not carry, and either token's `aud` the route's cluster or service.
pub fn key_view(rec: &Reconcile, view: &Request) -> Request {
    let mut keyed = view.clone();
    if rec.minted.is_empty() {
        return keyed;
    }
    for (name, value) in keyed.headers.iter_mut() {
        if rec.minted.contains(&canonical(name)) {
            *value = token_for_key(value);
        }
    }
    keyed
}

/// A minted header's value (`[Bearer ]<JWS>`) as the cache key takes it: the protected header
/// and the claims without [`PER_REQUEST_CLAIMS`]. A value that does not read as a token (the
/// stage minted it, so it does) is keyed whole: it never shares an answer.
fn token_for_key(value: &str) -> String {
    let (scheme, token) = value.rsplit_once(' ').unwrap_or(("", value));
    let mut parts = token.split('.');
    let (Some(protected), Some(payload)) = (parts.next(), parts.next()) else {
        return value.to_string();
    };
    let claims = b64::decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok());
    let Some(mut claims) = claims else {
        return value.to_string();
    };
    for name in PER_REQUEST_CLAIMS {
        claims.remove(name);
    }
    format!("{scheme} {protected}.{}", Value::Object(claims))
}

/// `items` ordered by name, stably: the values of one name keep their order. A merge sort
/// (n log n on any header count) written out because the standard library's stable sort, used
/// nowhere else in the filter, cost 4 KB of the module.
fn sorted_by_name(mut items: Vec<(String, &str)>) -> Vec<(String, &str)> {
    if items.len() < 2 {
        return items;
    }
    let right = items.split_off(items.len() / 2);
    let (left, right) = (sorted_by_name(items), sorted_by_name(right));
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        // Ties take the left run's item first: that is what keeps the sort stable.
        let from_right = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => r.0 < l.0,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => return out,
        };
        out.extend(if from_right {
            right.next()
        } else {
            left.next()
        });
    }
}

/// How long an allow answer may be kept at most, below `cache_seconds`; `Some(0)`: not at all.
/// The answer's `Cache-Control` says so first (`no-store`, `no-cache`, `private`: not at all;
/// `s-maxage`, else `max-age`: that long; an unreadable age: not at all), then the earliest
/// `exp` of a JWS the request carries where the cache key sees it (a header value: a Bearer
/// token, a cookie's value; the path; the query; every string of the `body` value the call
/// carried, JSON escapes and form escapes read): a token the service judged must not pass on
/// the cached answer once it expired (reviews: a session cookie's or `?access_token=`'s did,
/// then a signed link's in the path and a form's `access_token`). A request holding more than
/// [`MAX_TOKENS_READ`] JWS-shaped pieces is not cached at all.
pub fn answer_lifetime(answer: &CallAnswer, req: &Request, body: Option<&Value>) -> Option<u64> {
    let from_header = cache_control_lifetime(answer);
    let path = percent_decode(req.path_only().as_bytes());
    let query = percent_decode(req.query().as_bytes());
    let texts = req
        .headers
        .iter()
        .map(|(_, value)| value.as_str())
        .chain([req.path_only(), path.as_str(), req.query(), query.as_str()])
        .chain(body.map(strings_of).unwrap_or_default());
    let mut earliest: Option<u64> = None;
    for (read, token) in texts.flat_map(compact_jws_pieces).enumerate() {
        if read >= MAX_TOKENS_READ {
            return Some(0);
        }
        let exp = jws::parse(token)
            .ok()
            .and_then(|jws| jws.claims().get("exp")?.as_f64());
        let Some(exp) = exp else {
            continue;
        };
        let left = if exp > req.now as f64 {
            (exp - req.now as f64) as u64
        } else {
            0
        };
        earliest = Some(earliest.map_or(left, |e| e.min(left)));
    }
    match (from_header, earliest) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How many JWS-shaped pieces [`answer_lifetime`] reads for their `exp` (each a base64 and
/// JSON parse): past it the answer is not cached, so a body of decoys (`e30.e30.e30 ` a
/// million times) costs one scan, never a parse per piece.
pub const MAX_TOKENS_READ: usize = 64;

/// Every string of `value`, member names included, depth first (an explicit stack: no
/// recursion however deep the value; serde_json stops at 128 levels anyway).
fn strings_of(value: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    let mut todo = vec![value];
    while let Some(value) = todo.pop() {
        match value {
            Value::String(text) => out.push(text.as_str()),
            Value::Array(items) => todo.extend(items),
            Value::Object(members) => {
                out.extend(members.keys().map(String::as_str));
                todo.extend(members.values());
            }
            _ => {}
        }
    }
    out
}

/// The pieces of `text` in a JWS's compact form ([`compact_jws`]): a token never holds a
/// space, `,`, `;`, `=` or `&`, which part it from what surrounds it in a header, a cookie or
/// a query.
fn compact_jws_pieces(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .filter(|piece| compact_jws(piece))
}

/// The lifetime an answer's `Cache-Control` allows a shared cache, if it names one.
fn cache_control_lifetime(answer: &CallAnswer) -> Option<u64> {
    let (mut max_age, mut s_maxage) = (None, None);
    for directive in answer
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("cache-control"))
        .flat_map(|(_, value)| value.split(','))
    {
        let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
        let seconds = || arg.trim().trim_matches('"').parse::<u64>().unwrap_or(0);
        match name.trim().to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" | "private" => return Some(0),
            "max-age" => max_age = Some(seconds()),
            "s-maxage" => s_maxage = Some(seconds()),
            _ => {}
        }
    }
    s_maxage.or(max_age)
}

/// A bounded in-filter cache of allow answers ([`Injection`]s), keyed by [`cache_key`].
///
/// An entry lives `ttl` seconds from its `put`. Bounds: at most `max_entries` entries and
/// `max_bytes` bytes of header names and values; a `put` that would pass either first drops
/// expired entries, then the oldest ones. An entry larger than `max_bytes` is not stored.
/// No timers: every call takes `now` (seconds since the epoch, the request's `now`).
#[derive(Debug, Clone)]
pub struct AnswerCache {
    ttl: u64,
    max_entries: usize,
    max_bytes: usize,
    bytes: usize,
    /// Insertion counter: the smallest live `seq` is the oldest entry.
    next_seq: u64,
    entries: HashMap<[u8; 32], Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    value: Injection,
    expires_at: u64,
    seq: u64,
    weight: usize,
}

/// Fixed cost counted for each entry besides its headers (key, times, bookkeeping).
const ENTRY_OVERHEAD: usize = 128;

impl AnswerCache {
    /// An empty cache whose entries live `ttl` seconds.
    pub fn new(ttl: u64, max_entries: usize, max_bytes: usize) -> Self {
        Self {
            ttl,
            max_entries,
            max_bytes,
            bytes: 0,
            next_seq: 0,
            entries: HashMap::new(),
        }
    }

    /// The cached answer for `key`, if it has not expired at `now`.
    pub fn get(&self, key: &[u8; 32], now: u64) -> Option<&Injection> {
        self.entries
            .get(key)
            .filter(|entry| now < entry.expires_at)
            .map(|entry| &entry.value)
    }

    /// Stores an allow answer until `now + ttl`, replacing any entry under `key`.
    pub fn put(&mut self, key: [u8; 32], value: Injection, now: u64) {
        self.put_within(key, value, now, None);
    }

    /// [`Self::put`] for at most `lifetime` seconds ([`answer_lifetime`]); `Some(0)` stores
    /// nothing (and drops the entry under `key`).
    pub fn put_within(&mut self, key: [u8; 32], value: Injection, now: u64, lifetime: Option<u64>) {
        self.take(&key);
        let ttl = lifetime.map_or(self.ttl, |cap| cap.min(self.ttl));
        let weight = value.weight().saturating_add(ENTRY_OVERHEAD);
        if ttl == 0 || self.max_entries == 0 || weight > self.max_bytes {
            return;
        }
        let expired: Vec<[u8; 32]> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.expires_at <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in &expired {
            self.take(k);
        }
        while self.entries.len() >= self.max_entries
            || self.bytes.saturating_add(weight) > self.max_bytes
        {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.seq)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.take(&k),
                None => break,
            }
        }
        self.bytes = self.bytes.saturating_add(weight);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.entries.insert(
            key,
            Entry {
                value,
                expires_at: now.saturating_add(ttl),
                seq: self.next_seq,
                weight,
            },
        );
    }

    /// Number of entries held (expired ones included until a `put` drops them).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn take(&mut self, key: &[u8; 32]) {
        if let Some(entry) = self.entries.remove(key) {
            self.bytes = self.bytes.saturating_sub(entry.weight);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{rec, request};
    use super::*;
    use crate::stages::HeaderEdits;

    /// The merge sort gives the standard library's stable sort's order: names drawn from a
    /// few, so ties are common, at every length up to 40 and at 1,000.
    #[test]
    fn sorted_by_name_is_the_stable_sort() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        let values: Vec<String> = (0..1000).map(|i| format!("v{i}")).collect();
        for len in (0..=40).chain([1000]) {
            let items: Vec<(String, &str)> = values
                .iter()
                .take(len)
                .map(|v| {
                    (
                        ["b", "a", "c", "ab", ""][(next() % 5) as usize].to_string(),
                        v.as_str(),
                    )
                })
                .collect();
            let mut want = items.clone();
            want.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(sorted_by_name(items), want, "{len} items");
        }
    }

    fn config(extra: &str) -> Reconcile {
        rec(&format!(
            r#"{{"url": "http://a", "cache_seconds": 60{extra}}}"#
        ))
    }

    fn key(rec: &Reconcile, edit: impl FnOnce(&mut Request)) -> [u8; 32] {
        let mut req = request();
        edit(&mut req);
        cache_key(rec, &req, None)
    }

    fn set_header(req: &mut Request, name: &str, value: &str) {
        req.headers.retain(|(n, _)| n != name);
        req.headers.push((name.into(), value.into()));
    }

    fn injection(value: &str) -> Injection {
        let mut request = HeaderEdits::default();
        request.set("X-Role", value);
        Injection {
            request,
            ..Injection::default()
        }
    }

    /// A token as [`token_for_key`] reads it: `{"alg":"HS256"}` and `claims`, unsigned.
    fn token(claims: &str) -> String {
        format!(
            "Bearer {}.{}.sig",
            b64::encode(r#"{"alg":"HS256"}"#),
            b64::encode(claims)
        )
    }

    #[test]
    fn minted_tokens_are_keyed_by_all_but_their_per_request_claims() {
        let base = r#"{"client_id":"a","nbf":5,"iat":1,"exp":2,"jti":"x"}"#;
        let same = r#"{"jti":"y","client_id":"a","exp":9,"nbf":5,"iat":7}"#;
        assert_eq!(token_for_key(&token(base)), token_for_key(&token(same)));
        for other in [
            r#"{"client_id":"b","nbf":5,"iat":1,"exp":2,"jti":"x"}"#,
            r#"{"client_id":"a","nbf":6,"iat":1,"exp":2,"jti":"x"}"#,
            r#"{"client_id":"a","nbf":5,"iat":1,"exp":2,"jti":"x","aud":"c"}"#,
        ] {
            assert_ne!(
                token_for_key(&token(base)),
                token_for_key(&token(other)),
                "{other}"
            );
        }
        let header = token(base).replacen("Bearer ", "Bearer e30.", 1);
        assert_ne!(token_for_key(&token(base)), token_for_key(&header));
        assert_ne!(
            token_for_key(&token(base)),
            token_for_key(&token(base)[7..])
        );
        // Not a token: keyed whole.
        for odd in ["Bearer", "a.%%%.c", "a.W10.c"] {
            assert_eq!(token_for_key(odd), odd);
        }
    }

    #[test]
    fn cache_key_identical_requests_share_key() {
        let rec = config("");
        assert_eq!(key(&rec, |_| {}), key(&rec, |_| {}));
        assert_eq!(
            key(&rec, |r| set_header(r, "x-request-id", "other")),
            key(&rec, |_| {}),
            "volatile headers do not split the key"
        );
        assert_eq!(key(&rec, |r| r.now = 5), key(&rec, |_| {}));
    }

    #[test]
    fn cache_key_credential_and_url_split_key() {
        let rec = config("");
        let base = key(&rec, |_| {});
        for (what, changed) in [
            (
                "authorization",
                key(&rec, |r| set_header(r, "authorization", "Bearer other")),
            ),
            ("cookie", key(&rec, |r| set_header(r, "cookie", "s=2"))),
            (
                "copied apikey",
                key(&rec, |r| set_header(r, "apikey", "k2")),
            ),
            (
                "path",
                key(&rec, |r| r.path = "/admin?a=1&b=x+y&a=2&flag".into()),
            ),
            ("query", key(&rec, |r| r.path = "/orders/7".into())),
            // Regression (review): an allow for `GET /x` served `DELETE /x`.
            ("method", key(&rec, |r| r.method = "DELETE".into())),
            (
                "authority",
                key(&rec, |r| r.authority = "other.example.com".into()),
            ),
            // What the call tells of the client's network and scheme.
            (
                "client address",
                key(&rec, |r| r.client_ip = Some("10.0.0.5".into())),
            ),
            ("scheme", key(&rec, |r| r.scheme = "http".into())),
            (
                "forwarded scheme",
                key(&rec, |r| set_header(r, "x-forwarded-proto", "http")),
            ),
        ] {
            assert_ne!(changed, base, "{what}");
        }
        let at = |ip: &str| key(&rec, |r| r.client_ip = Some(ip.into()));
        assert_ne!(at("10.0.0.5"), at("10.0.0.6"));
        assert_eq!(at("10.0.0.5"), at("10.0.0.5"));
        // The client's own copies say nothing the call shows: one key whatever they say.
        assert_eq!(
            key(&rec, |r| set_header(r, "x-forwarded-for", "10.0.0.5")),
            base
        );
        assert_eq!(
            key(&rec, |r| set_header(r, "x-forwarded-proto", "https://a/b?")),
            key(&rec, |r| set_header(r, "x-forwarded-proto", "gopher"))
        );
    }

    #[test]
    fn cache_key_copy_off_keys_only_credentials() {
        let rec = config(r#", "copy_headers": false"#);
        let base = key(&rec, |_| {});
        assert_eq!(key(&rec, |r| set_header(r, "apikey", "k2")), base);
        assert_ne!(key(&rec, |r| set_header(r, "authorization", "x")), base);
        assert_ne!(key(&rec, |r| set_header(r, "cookie", "x")), base);
    }

    #[test]
    fn cache_key_uncopied_headers_do_not_split_key() {
        let rec = config("");
        assert_eq!(
            key(&rec, |r| set_header(r, "content-length", "99")),
            key(&rec, |_| {})
        );
        let fwd = config(r#", "forward_headers": true"#);
        assert_ne!(
            key(&fwd, |r| set_header(r, "content-length", "99")),
            key(&fwd, |_| {})
        );
    }

    #[test]
    fn cache_key_header_order_of_names_does_not_matter() {
        let rec = config("");
        let moved = key(&rec, |r| {
            let auth = r.headers.remove(0);
            r.headers.push(auth);
        });
        assert_eq!(moved, key(&rec, |_| {}));
        let swapped_values = key(&rec, |r| {
            for (_, v) in r.headers.iter_mut().filter(|(n, _)| n == "x-multi") {
                *v = if v == "1" { "2".into() } else { "1".into() };
            }
        });
        assert_ne!(
            swapped_values,
            key(&rec, |_| {}),
            "the order of one name's values counts"
        );
    }

    #[test]
    fn cache_key_body_counts_only_with_forward_body() {
        let req = request();
        let off = config("");
        let digest = |body: &[u8]| -> [u8; 32] { Sha256::digest(body).into() };
        let (a, b, empty) = (digest(b"a"), digest(b"b"), digest(b""));
        assert_eq!(
            cache_key(&off, &req, Some(&a)),
            cache_key(&off, &req, Some(&b))
        );
        let on = config(r#", "forward_body": true"#);
        assert_ne!(
            cache_key(&on, &req, Some(&a)),
            cache_key(&on, &req, Some(&b))
        );
        assert_ne!(
            cache_key(&on, &req, None),
            cache_key(&on, &req, Some(&empty))
        );
    }

    #[test]
    fn answer_cache_hit_before_expiry() {
        let mut cache = AnswerCache::new(60, 4, 1 << 20);
        cache.put([1; 32], injection("admin"), 1000);
        assert_eq!(cache.get(&[1; 32], 1000), Some(&injection("admin")));
        assert_eq!(cache.get(&[1; 32], 1059), Some(&injection("admin")));
        assert_eq!(cache.get(&[2; 32], 1000), None);
    }

    #[test]
    fn answer_cache_entry_expires_after_ttl() {
        let mut cache = AnswerCache::new(60, 4, 1 << 20);
        cache.put([1; 32], injection("admin"), 1000);
        assert_eq!(cache.get(&[1; 32], 1060), None);
        cache.put([2; 32], injection("x"), 1060);
        assert_eq!(cache.len(), 1, "the expired entry was dropped");
    }

    /// Regression (review): an allow was cached for `cache_seconds` whatever the service said
    /// (`Cache-Control: no-store`) and past the `exp` of the token it judged: an expired token
    /// passed on the cached answer.
    #[test]
    fn answer_lifetime_follows_cache_control_and_the_token_exp() {
        let answer = |cc: &[&str]| CallAnswer {
            status: Some(200),
            headers: cc
                .iter()
                .map(|v| ("Cache-Control".to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        };
        let mut req = request();
        req.now = 1000;
        req.headers.retain(|(n, _)| n != "authorization");
        for (cc, want) in [
            (&[][..], None),
            (&["no-store"][..], Some(0)),
            (&["public, No-Cache"], Some(0)),
            (&["private"], Some(0)),
            (&["max-age=30"], Some(30)),
            (&["max-age=\"30\", must-revalidate"], Some(30)),
            (&["max-age=30", "s-maxage=5"], Some(5)),
            (&["max-age=soon"], Some(0)),
            (&["max-age=0"], Some(0)),
        ] {
            assert_eq!(answer_lifetime(&answer(cc), &req, None), want, "{cc:?}");
        }
        let bearer = |exp: &str| token(&format!(r#"{{"exp": {exp}}}"#));
        req.headers.push(("authorization".into(), bearer("1010")));
        assert_eq!(answer_lifetime(&answer(&[]), &req, None), Some(10));
        assert_eq!(
            answer_lifetime(&answer(&["max-age=3"]), &req, None),
            Some(3)
        );
        req.headers.last_mut().unwrap().1 = bearer("1005").replacen(' ', "\t", 1);
        assert_eq!(
            answer_lifetime(&answer(&[]), &req, None),
            Some(5),
            "a tab after the scheme"
        );
        req.headers.last_mut().unwrap().1 = format!("Basic YTpi, {}", bearer("1004"));
        assert_eq!(
            answer_lifetime(&answer(&[]), &req, None),
            Some(4),
            "a joined value"
        );
        req.headers.last_mut().unwrap().1 = bearer("999.5");
        assert_eq!(answer_lifetime(&answer(&[]), &req, None), Some(0));
        req.headers.last_mut().unwrap().1 = "Basic YTpi".into();
        assert_eq!(answer_lifetime(&answer(&[]), &req, None), None);
        // A token anywhere the cache key sees it: a cookie, another header, the query (review:
        // a session cookie's or `?access_token=`'s answer outlived its exp).
        let raw = |exp: &str| bearer(exp).trim_start_matches("Bearer ").to_string();
        req.headers.push((
            "cookie".into(),
            format!("a=1; session={}; b=2", raw("1007")),
        ));
        assert_eq!(
            answer_lifetime(&answer(&[]), &req, None),
            Some(7),
            "a cookie"
        );
        req.headers.push(("x-access-token".into(), raw("1006")));
        assert_eq!(
            answer_lifetime(&answer(&[]), &req, None),
            Some(6),
            "a header"
        );
        req.path = format!("/p?access_token={}&x=1", raw("1003"));
        assert_eq!(
            answer_lifetime(&answer(&[]), &req, None),
            Some(3),
            "the query"
        );
        req.path = format!("/p?t={}", raw("1002").replace('.', "%2E"));
        assert_eq!(
            answer_lifetime(&answer(&[]), &req, None),
            Some(2),
            "an escaped query"
        );
        // The path and the body the call carried (review: a signed link's and a form's
        // `access_token` answer outlived their exp).
        req.headers.retain(|(n, _)| n == "authorization");
        req.headers.last_mut().unwrap().1 = "Basic YTpi".into();
        req.path = format!("/files/{}/report.pdf", raw("1008").replace('.', "%2e"));
        let path = answer_lifetime(&answer(&[]), &req, None);
        assert_eq!(path, Some(8), "an escaped path");
        req.path = format!("/files/{}/report.pdf?x=1", raw("1001"));
        let path = answer_lifetime(&answer(&[]), &req, None);
        assert_eq!(path, Some(1), "the path");
        req.path = "/p".into();
        // The body value the call carried: a form's value decoded, a JSON string unescaped.
        let shown = |content_type: &str, body: &str| {
            crate::stages::reconcile::body_value(Some(content_type), body.as_bytes())
        };
        let form = format!("access_token={}&item=1", raw("1004").replace('.', "%2E"));
        let form = shown("application/x-www-form-urlencoded", &form);
        let escaped = raw("1003").replace('.', "\\u002e");
        let json = shown(
            "application/json",
            &format!(r#"{{"a":[{{"t":"{escaped}"}}]}}"#),
        );
        let plain = shown("application/x-www-form-urlencoded", "item=1");
        assert_eq!(answer_lifetime(&answer(&[]), &req, form.as_ref()), Some(4));
        assert_eq!(answer_lifetime(&answer(&[]), &req, json.as_ref()), Some(3));
        assert_eq!(answer_lifetime(&answer(&[]), &req, plain.as_ref()), None);
        // Decoys past the bound: not cached, rather than a parse per piece.
        let decoys = vec!["e30.e30.e30"; MAX_TOKENS_READ + 1].join(" ");
        let decoys = Value::String(decoys);
        let at_bound = Value::String(vec!["e30.e30.e30"; MAX_TOKENS_READ].join(" "));
        assert_eq!(answer_lifetime(&answer(&[]), &req, Some(&decoys)), Some(0));
        assert_eq!(answer_lifetime(&answer(&[]), &req, Some(&at_bound)), None);

        let mut cache = AnswerCache::new(60, 4, 1 << 20);
        cache.put_within([1; 32], injection("a"), 1000, Some(10));
        assert!(cache.get(&[1; 32], 1009).is_some());
        assert_eq!(cache.get(&[1; 32], 1010), None);
        cache.put_within([1; 32], injection("a"), 1000, Some(0));
        assert_eq!((cache.len(), cache.get(&[1; 32], 1000)), (0, None));
        cache.put_within([2; 32], injection("b"), 1000, Some(600));
        assert_eq!(
            cache.get(&[2; 32], 1060),
            None,
            "cache_seconds still bounds it"
        );
    }

    #[test]
    fn answer_cache_put_replaces_same_key() {
        let mut cache = AnswerCache::new(60, 4, 1 << 20);
        cache.put([1; 32], injection("a"), 1000);
        cache.put([1; 32], injection("b"), 1010);
        assert_eq!(
            (cache.len(), cache.get(&[1; 32], 1065)),
            (1, Some(&injection("b")))
        );
    }

    #[test]
    fn answer_cache_full_evicts_oldest() {
        let mut cache = AnswerCache::new(60, 2, 1 << 20);
        cache.put([1; 32], injection("1"), 1000);
        cache.put([2; 32], injection("2"), 1001);
        cache.put([3; 32], injection("3"), 1002);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&[1; 32], 1002), None);
        assert!(cache.get(&[2; 32], 1002).is_some() && cache.get(&[3; 32], 1002).is_some());
    }

    #[test]
    fn answer_cache_full_evicts_expired_before_oldest() {
        let mut cache = AnswerCache::new(10, 2, 1 << 20);
        cache.put([1; 32], injection("1"), 1000);
        cache.put([2; 32], injection("2"), 995);
        cache.put([3; 32], injection("3"), 1005);
        assert!(
            cache.get(&[1; 32], 1005).is_some(),
            "the expired entry went first"
        );
        assert_eq!(cache.get(&[2; 32], 1005), None);
    }

    #[test]
    fn answer_cache_byte_bound_limits_entries() {
        let one = injection("v").weight() + ENTRY_OVERHEAD;
        let mut cache = AnswerCache::new(60, 100, 2 * one);
        for i in 0..5u8 {
            cache.put([i; 32], injection("v"), 1000);
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&[4; 32], 1000).is_some());
        let mut tiny = AnswerCache::new(60, 100, 10);
        tiny.put([1; 32], injection("v"), 1000);
        assert!(
            tiny.is_empty(),
            "an entry above the byte bound is not stored"
        );
    }
}
