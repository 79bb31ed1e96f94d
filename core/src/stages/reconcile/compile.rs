//! The `reconcile` section compiled once, at configure time, into [`Reconcile`].

use super::cache::AnswerCache;
use super::dasherize::dasherize;
use super::reserved::{is_never_injected, owned_by_stages, NEVER_INJECTED};
use crate::config::{CallMethod, ConfigError, RawConfig, ReconcileSection};
use crate::stages::headers::canonical;
use crate::stages::url::{bad_path_chars, parse_url, Url};
use crate::stages::MAX_CALL_TIMEOUT_MS;

/// Longest `cache_seconds` accepted (one day): a cached answer outlives a revoked credential.
pub const MAX_CACHE_SECONDS: u64 = 86_400;

/// Entries an [`AnswerCache`] built by [`Reconcile::answer_cache`] holds at most.
pub const CACHE_MAX_ENTRIES: usize = 1024;

/// Bytes (header names and values) an [`AnswerCache`] built by [`Reconcile::answer_cache`] holds
/// at most.
pub const CACHE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// The reconcile stage's runtime form: everything a request needs, validated once.
///
/// Built only by [`compile`]; the glue reads the few facts it needs through the accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconcile {
    pub(super) upstream: String,
    pub(super) authority: String,
    pub(super) scheme: &'static str,
    pub(super) call_path: String,
    pub(super) method: CallMethod,
    pub(super) timeout_ms: u32,
    pub(super) copy_headers: bool,
    pub(super) forward_path: bool,
    pub(super) forward_query: bool,
    pub(super) forward_headers: bool,
    pub(super) forward_body: bool,
    pub(super) inject: bool,
    pub(super) prefix: String,
    /// `dasherize(injected_header_prefix)`, lower-case: what `strip_prefixed_headers` matches.
    pub(super) stripped_prefix: Option<String>,
    pub(super) streamdown: bool,
    pub(super) message_401: String,
    pub(super) message_403: String,
    pub(super) message_404: String,
    pub(super) failure_mode_allow: bool,
    /// `allowed_headers`, lower-case.
    pub(super) allowed: Option<Vec<String>>,
    /// Canonical names of the headers the other configured stages set (see [`compile_in`]):
    /// never injected, and left to those stages by [`super::strip_client_headers`].
    pub(super) owned: Vec<String>,
    /// Canonical names of the tokens the mint stages set (`custom_jwt`, `upstream_jwt`): each
    /// fresh per request (`jti`, `iat`), so the answer cache keys on the client's values of
    /// those headers instead.
    pub(super) minted: Vec<String>,
    /// `upstream_jwt` is configured: the token the call carries holds the body's hash, so the
    /// answer cache keys on it even without `forward_body`.
    pub(super) body_in_token: bool,
    pub(super) cache_seconds: u64,
    pub(super) max_body_bytes: u64,
}

impl Reconcile {
    /// Dispatch target: an Envoy cluster name, or `host:port` on Kong.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The one timeout of the call, in milliseconds (see [`compile`]).
    pub fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// True when the call carries the request body (`forward_body`): the glue reads the body
    /// first, capped by [`Reconcile::max_body_bytes`] (413 above it).
    pub fn needs_body(&self) -> bool {
        self.forward_body
    }

    /// Largest request body read for `forward_body`.
    pub fn max_body_bytes(&self) -> u64 {
        self.max_body_bytes
    }

    /// `failure_mode_allow`: a failed call lets the request through (see [`super::on_failure`]).
    pub fn failure_mode_allow(&self) -> bool {
        self.failure_mode_allow
    }

    /// Seconds an answer is cached; 0 when caching is off.
    pub fn cache_seconds(&self) -> u64 {
        self.cache_seconds
    }

    /// A cache sized by [`CACHE_MAX_ENTRIES`] and [`CACHE_MAX_BYTES`], or `None` when
    /// `cache_seconds` is 0.
    pub fn answer_cache(&self) -> Option<AnswerCache> {
        (self.cache_seconds > 0)
            .then(|| AnswerCache::new(self.cache_seconds, CACHE_MAX_ENTRIES, CACHE_MAX_BYTES))
    }
}

/// Compiles the `reconcile` section.
///
/// - `url` is required, `http://` or `https://` with a host and an optional port; no user info,
///   no fragment. Its query, if any, is kept on the call.
/// - `:authority` is the url's `host[:port]` as written; `upstream` defaults to `host:port` with
///   the scheme's default port (80, 443) filled in.
/// - The call path is `path` (which must be empty or start with `/`): it replaces the url's path,
///   as the plugin's `request_uri(url, {path = path})` did. An empty `path` (where the plugin
///   sent a request line without a path) leaves the url's path, `/` when it has none. The url's
///   query is kept, after `path`'s own (`&`-joined).
/// - Timeout: jwt-reconcile had three socket timeouts; proxy-wasm gives a call one timeout for
///   the whole exchange, so the call gets `connect_timeout + send_timeout + read_timeout`
///   (25 s by default), capped to `u32::MAX` ms. The sum must not be 0 (Envoy reads 0 as "no
///   timeout").
/// - `allowed_headers` entries are header names that dasherize can produce (letters, digits,
///   `-`), never a name that is never injected ([`super::RefusalReason::NeverInjected`]).
/// - `strip_prefixed_headers` needs an `injected_header_prefix` whose dasherized form ends in
///   `-` (such as `X-Auth-`), so every injected name falls under it and no unrelated header does.
/// - `cache_seconds` at most [`MAX_CACHE_SECONDS`]; `max_body_bytes` greater than 0.
///
/// The section alone does not say which headers the other stages set: [`compile_in`] does, and
/// is what a pipeline uses.
pub fn compile(section: &ReconcileSection) -> Result<Reconcile, ConfigError> {
    compile_owned(section, Vec::new())
}

/// Compiles the `reconcile` section of `raw`, if any, knowing the headers the other configured
/// stages set (claim headers, minted-token headers, the consumer headers when an authentication
/// stage is configured): the answer never injects them, `allowed_headers` may not name them,
/// and `strip_prefixed_headers` leaves them to the stage that sets them.
pub fn compile_in(raw: &RawConfig) -> Result<Option<Reconcile>, ConfigError> {
    let minted: Vec<String> = [
        raw.custom_jwt
            .as_ref()
            .map(|c| c.upstream_custom_jwt_header.as_str()),
        raw.upstream_jwt.as_ref().map(|u| u.header.as_str()),
    ]
    .into_iter()
    .flatten()
    .map(canonical)
    .collect();
    let compiled = raw
        .reconcile
        .as_ref()
        .map(|section| compile_owned(section, owned_by_stages(raw)))
        .transpose()?;
    let body_in_token = raw.upstream_jwt.is_some();
    Ok(compiled.map(|rec| Reconcile {
        minted,
        body_in_token,
        ..rec
    }))
}

fn compile_owned(section: &ReconcileSection, owned: Vec<String>) -> Result<Reconcile, ConfigError> {
    let url = section
        .url
        .as_deref()
        .ok_or_else(|| field_error("url", "missing field"))?;
    let url = parse_url(url).map_err(|problem| field_error("url", problem))?;
    let upstream = url
        .target(section.upstream.as_deref())
        .map_err(|problem| field_error("upstream", problem))?;
    if !section.path.is_empty() && !section.path.starts_with('/') {
        return Err(field_error("path", "must start with `/`"));
    }
    if let Some(problem) = bad_path_chars(&section.path) {
        return Err(field_error("path", problem));
    }
    Ok(Reconcile {
        upstream,
        call_path: call_path(&url, &section.path),
        authority: url.authority,
        scheme: url.scheme,
        method: section.method,
        timeout_ms: timeout_ms(section)?,
        copy_headers: section.copy_headers.unwrap_or(false),
        forward_path: section.forward_path,
        forward_query: section.forward_query,
        forward_headers: section.forward_headers,
        forward_body: section.forward_body,
        inject: section.inject_body_response_into_header,
        prefix: section.injected_header_prefix.clone().unwrap_or_default(),
        stripped_prefix: stripped_prefix(section)?,
        streamdown: section.streamdown_injected_headers,
        message_401: section.message_401.clone(),
        message_403: section.message_403.clone(),
        message_404: section.message_404.clone(),
        failure_mode_allow: section.failure_mode_allow,
        allowed: allowed_headers(section.allowed_headers.as_deref(), &owned)?,
        owned,
        minted: Vec::new(),
        body_in_token: false,
        cache_seconds: cache_seconds(section.cache_seconds)?,
        max_body_bytes: match section.max_body_bytes {
            0 => return Err(field_error("max_body_bytes", "must be greater than 0")),
            n => n,
        },
    })
}

fn field_error(field: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::new(format!("reconcile.{field}"), problem)
}

fn call_path(url: &Url, path: &str) -> String {
    let mut out = match (path, url.path.as_str()) {
        ("", "") => "/".to_string(),
        ("", url_path) => url_path.to_string(),
        (path, _) => path.to_string(),
    };
    if let Some(query) = &url.query {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(query);
    }
    out
}

fn timeout_ms(section: &ReconcileSection) -> Result<u32, ConfigError> {
    let total = [
        ("connect_timeout", &section.connect_timeout),
        ("send_timeout", &section.send_timeout),
        ("read_timeout", &section.read_timeout),
    ]
    .into_iter()
    .try_fold(0u64, |sum, (field, value)| {
        Ok(sum.saturating_add(millis(field, value)?))
    })?;
    if total == 0 {
        return Err(ConfigError::new(
            "reconcile",
            "connect_timeout + send_timeout + read_timeout must be greater than 0",
        ));
    }
    Ok(u32::try_from(total).map_or(MAX_CALL_TIMEOUT_MS, |t| t.min(MAX_CALL_TIMEOUT_MS)))
}

/// A timeout as Kong's `number` takes it: any number from 0, its fraction cut as nginx's
/// socket timeouts cut it (`5000.5` waits 5000 ms).
fn millis(field: &str, value: &serde_json::Value) -> Result<u64, ConfigError> {
    let ms = value
        .as_f64()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .ok_or_else(|| field_error(field, "must be a number of milliseconds, 0 or more"))?;
    // `as` saturates: a value past u64's range waits as long as the call's u32 allows.
    Ok(ms as u64)
}

fn stripped_prefix(section: &ReconcileSection) -> Result<Option<String>, ConfigError> {
    if !section.strip_prefixed_headers {
        return Ok(None);
    }
    let prefix = dasherize(
        section
            .injected_header_prefix
            .as_deref()
            .unwrap_or_default(),
    )
    .to_ascii_lowercase();
    if prefix.len() < 2 || !prefix.ends_with('-') {
        return Err(field_error(
            "strip_prefixed_headers",
            "needs an injected_header_prefix that ends in `-`, such as `X-Auth-`",
        ));
    }
    // Stripping the client's headers of this prefix must never take the body's framing or
    // reading away from the upstream (`Content-` would strip `Content-Length` and
    // `Content-Type`, which key-auth's body reading and every upstream go by).
    let framing = NEVER_INJECTED
        .iter()
        .chain(&["content-type", "content-encoding"]);
    if let Some(name) = framing.into_iter().find(|n| n.starts_with(&prefix)) {
        return Err(field_error(
            "injected_header_prefix",
            format!("with strip_prefixed_headers would strip the client's `{name}`"),
        ));
    }
    Ok(Some(prefix))
}

fn allowed_headers(
    list: Option<&[String]>,
    owned: &[String],
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(list) = list else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, name) in list.iter().enumerate() {
        let field = format!("allowed_headers[{i}]");
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(field_error(
                &field,
                "must be a header name of letters, digits and `-` (what dasherize produces)",
            ));
        }
        let lower = name.to_ascii_lowercase();
        if is_never_injected(&lower, owned) {
            return Err(field_error(&field, format!("`{name}` is never injected")));
        }
        out.push(lower);
    }
    Ok(Some(out))
}

fn cache_seconds(seconds: u64) -> Result<u64, ConfigError> {
    if seconds > MAX_CACHE_SECONDS {
        return Err(field_error(
            "cache_seconds",
            format!("must be at most {MAX_CACHE_SECONDS} (one day)"),
        ));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{rec, section};
    use super::*;

    fn err(json: &str) -> String {
        compile(&section(json)).unwrap_err().to_string()
    }

    /// A Kong or decK export writes the unset prefix as `null` (the schema has no default).
    #[test]
    fn a_null_prefix_is_no_prefix() {
        let null = rec(r#"{"url": "http://a", "injected_header_prefix": null}"#);
        let unset = rec(r#"{"url": "http://a"}"#);
        assert_eq!(null.prefix, "");
        assert_eq!(null.prefix, unset.prefix);
        assert_eq!(
            rec(r#"{"url": "http://a", "injected_header_prefix": "X-"}"#).prefix,
            "X-"
        );
    }

    #[test]
    fn compile_missing_url_names_field() {
        assert_eq!(
            compile(&ReconcileSection::default())
                .unwrap_err()
                .to_string(),
            "reconcile.url: missing field"
        );
    }

    #[test]
    fn compile_defaults_give_plugin_call() {
        let r = rec(r#"{"url": "http://auth.internal"}"#);
        assert_eq!(r.upstream(), "auth.internal:80");
        assert_eq!(r.authority, "auth.internal");
        assert_eq!(r.scheme, "http");
        assert_eq!(r.call_path, "/api/v1/auth/reconcile");
        assert_eq!(r.method, CallMethod::Post);
        assert_eq!(r.timeout_ms(), 25_000);
        assert!(r.copy_headers && r.inject && !r.needs_body());
        assert!(r.answer_cache().is_none());
        assert_eq!(r.max_body_bytes(), crate::config::DEFAULT_MAX_BODY_BYTES);
    }

    #[test]
    fn compile_https_url_defaults_port_443() {
        let r = rec(r#"{"url": "HTTPS://Auth.example:8443/base/", "path": "/check"}"#);
        assert_eq!(r.scheme, "https");
        assert_eq!(r.authority, "Auth.example:8443");
        assert_eq!(r.upstream(), "Auth.example:8443");
        assert_eq!(r.call_path, "/check");
        assert_eq!(rec(r#"{"url": "https://a"}"#).upstream(), "a:443");
    }

    #[test]
    fn compile_ipv6_url_keeps_brackets() {
        let r = rec(r#"{"url": "http://[::1]:9000"}"#);
        assert_eq!(
            (r.authority.as_str(), r.upstream()),
            ("[::1]:9000", "[::1]:9000")
        );
        assert_eq!(
            rec(r#"{"url": "http://[fe80::1]"}"#).upstream(),
            "[fe80::1]:80"
        );
    }

    #[test]
    fn compile_upstream_overrides_url_target() {
        let r = rec(r#"{"url": "http://auth", "upstream": "auth_cluster"}"#);
        assert_eq!(
            (r.upstream(), r.authority.as_str()),
            ("auth_cluster", "auth")
        );
        assert_eq!(
            err(r#"{"url": "http://a", "upstream": " "}"#),
            "reconcile.upstream: must be a cluster name or host:port without spaces"
        );
    }

    #[test]
    fn compile_call_path_replaces_url_path_and_keeps_url_query() {
        let path = |json: &str| rec(json).call_path;
        assert_eq!(
            path(r#"{"url": "http://a/base/v1"}"#),
            "/api/v1/auth/reconcile"
        );
        assert_eq!(path(r#"{"url": "http://a/base", "path": "/p"}"#), "/p");
        assert_eq!(
            path(r#"{"url": "http://a/base?k=v", "path": "/p"}"#),
            "/p?k=v"
        );
        assert_eq!(path(r#"{"url": "http://a", "path": ""}"#), "/");
        assert_eq!(path(r#"{"url": "http://a/", "path": ""}"#), "/");
        assert_eq!(path(r#"{"url": "http://a/x/", "path": ""}"#), "/x/");
        assert_eq!(path(r#"{"url": "http://a/x?k=v", "path": ""}"#), "/x?k=v");
        assert_eq!(path(r#"{"url": "http://a?k=v", "path": "/p"}"#), "/p?k=v");
        assert_eq!(
            path(r#"{"url": "http://a?k=v", "path": "/p?z=1"}"#),
            "/p?z=1&k=v"
        );
    }

    #[test]
    fn compile_bad_urls_are_refused() {
        for (url, problem) in [
            ("auth:80", "must be an absolute http:// or https:// url"),
            ("ftp://auth", "scheme must be http or https"),
            ("http://", "must have a host"),
            ("http:///path", "must have a host"),
            ("http://u:p@auth", "must not contain user info"),
            ("http://auth/#frag", "must not contain a fragment"),
            ("http://auth:0", "has an invalid port (1-65535)"),
            ("http://auth:70000", "has an invalid port (1-65535)"),
            ("http://auth:+80", "has an invalid port (1-65535)"),
            (
                "http://au th",
                "must be ASCII without spaces or control characters (percent-encode them)",
            ),
            ("http://a$b", "has an invalid host"),
            ("http://[::1", "has an unclosed `[` in its host"),
            ("http://[zz]", "has an invalid IPv6 host"),
            ("http://[::1]x", "has junk after its IPv6 host"),
        ] {
            assert_eq!(
                err(&format!(r#"{{"url": "{url}"}}"#)),
                format!("reconcile.url: {problem}"),
                "{url}"
            );
        }
    }

    #[test]
    fn compile_path_without_slash_is_refused() {
        assert_eq!(
            err(r#"{"url": "http://a", "path": "auth"}"#),
            "reconcile.path: must start with `/`"
        );
        assert!(err(r#"{"url": "http://a", "path": "/a b"}"#).starts_with("reconcile.path: "));
    }

    #[test]
    fn compile_timeouts_sum_into_one() {
        let r = rec(
            r#"{"url": "http://a", "connect_timeout": 1, "send_timeout": 2, "read_timeout": 3}"#,
        );
        assert_eq!(r.timeout_ms(), 6);
        // Envoy refuses a call of 2^31 ms or more: longer waits that long (review helper-116).
        for read in [u64::MAX, 1 << 31, u64::from(i32::MAX.unsigned_abs())] {
            let big = format!(r#"{{"url": "http://a", "read_timeout": {read}}}"#);
            assert_eq!(rec(&big).timeout_ms(), 2_147_483_647, "{read}");
        }
        let each = r#"{"url": "http://a", "connect_timeout": 1e9, "send_timeout": 1e9,
            "read_timeout": 1e9}"#;
        assert_eq!(rec(each).timeout_ms(), 2_147_483_647);
    }

    #[test]
    fn compile_timeouts_take_kongs_numbers_and_cut_the_fraction() {
        let r = rec(
            r#"{"url": "http://a", "connect_timeout": 0.5, "send_timeout": 2.9, "read_timeout": 1e3}"#,
        );
        assert_eq!(r.timeout_ms(), 1002);
        for bad in ["-1", "-0.5", "\"5\"", "null", "true", "[1]", "{}"] {
            assert_eq!(
                err(&format!(r#"{{"url": "http://a", "send_timeout": {bad}}}"#)),
                "reconcile.send_timeout: must be a number of milliseconds, 0 or more",
                "{bad}"
            );
        }
        assert_eq!(
            err(
                r#"{"url": "http://a", "connect_timeout": 0.5, "send_timeout": 0, "read_timeout": 0.9}"#
            ),
            "reconcile: connect_timeout + send_timeout + read_timeout must be greater than 0"
        );
    }

    #[test]
    fn compile_zero_timeout_is_refused() {
        assert_eq!(
            err(
                r#"{"url": "http://a", "connect_timeout": 0, "send_timeout": 0, "read_timeout": 0}"#
            ),
            "reconcile: connect_timeout + send_timeout + read_timeout must be greater than 0"
        );
    }

    #[test]
    fn compile_allowed_headers_are_lower_cased() {
        let r = rec(r#"{"url": "http://a", "allowed_headers": ["X-Role", "user-id"]}"#);
        assert_eq!(r.allowed, Some(vec!["x-role".into(), "user-id".into()]));
    }

    #[test]
    fn compile_bad_allowed_header_names_index() {
        assert_eq!(
            err(r#"{"url": "http://a", "allowed_headers": ["X-Role", "ok", "x role"]}"#),
            "reconcile.allowed_headers[2]: must be a header name of letters, digits and `-` (what dasherize produces)"
        );
        assert!(err(r#"{"url": "http://a", "allowed_headers": [""]}"#)
            .starts_with("reconcile.allowed_headers[0]: "));
        assert!(err(r#"{"url": "http://a", "allowed_headers": ["x_role"]}"#)
            .starts_with("reconcile.allowed_headers[0]: "));
    }

    #[test]
    fn compile_never_injected_allowed_header_is_refused() {
        assert_eq!(
            err(r#"{"url": "http://a", "allowed_headers": ["Host"]}"#),
            "reconcile.allowed_headers[0]: `Host` is never injected"
        );
    }

    #[test]
    fn compile_allowed_header_the_filter_sets_is_refused() {
        for name in [
            "X-Consumer-ID",
            "x-anonymous-consumer",
            "X-Reconcile-Failure-Mode-Allowed",
            "x-envoy-retry-on",
        ] {
            assert_eq!(
                err(&format!(
                    r#"{{"url": "http://a", "allowed_headers": ["x-role", "{name}"]}}"#
                )),
                format!("reconcile.allowed_headers[1]: `{name}` is never injected")
            );
        }
    }

    #[test]
    fn compile_in_knows_the_names_other_stages_set() {
        let raw = |json: &str| crate::config::parse(json.as_bytes()).unwrap();
        let with = raw(
            r#"{"custom_jwt": {}, "reconcile": {"url": "http://a", "allowed_headers": ["X-Custom-Jwt"]}}"#,
        );
        assert_eq!(
            compile_in(&with).unwrap_err().to_string(),
            "reconcile.allowed_headers[0]: `X-Custom-Jwt` is never injected"
        );
        let without =
            raw(r#"{"reconcile": {"url": "http://a", "allowed_headers": ["X-Custom-Jwt"]}}"#);
        assert_eq!(
            compile_in(&without).unwrap().unwrap().allowed,
            Some(vec!["x-custom-jwt".to_string()])
        );
        let owned = compile_in(&raw(
            r#"{"upstream_jwt": {}, "reconcile": {"url": "http://a"}}"#,
        ));
        assert_eq!(owned.unwrap().unwrap().owned, ["jwt"]);
        assert_eq!(compile_in(&raw(r#"{"custom_jwt": {}}"#)).unwrap(), None);
    }

    #[test]
    fn compile_strip_prefixed_needs_dashed_prefix() {
        let r = rec(
            r#"{"url": "http://a", "strip_prefixed_headers": true, "injected_header_prefix": "x_auth_"}"#,
        );
        assert_eq!(r.stripped_prefix.as_deref(), Some("x-auth-"));
        for prefix in ["", "X-Auth", "-"] {
            assert_eq!(
                err(&format!(
                    r#"{{"url": "http://a", "strip_prefixed_headers": true, "injected_header_prefix": "{prefix}"}}"#
                )),
                "reconcile.strip_prefixed_headers: needs an injected_header_prefix that ends in `-`, such as `X-Auth-`"
            );
        }
    }

    /// Review: a prefix the framing headers start with (`Content-`) stripped the client's
    /// `Content-Length` and `Content-Type` from every request.
    #[test]
    fn compile_strip_prefixed_refuses_a_prefix_of_framing_headers() {
        let cases = [
            ("Content-", "content-length"),
            ("content_", "content-length"),
            ("TRANSFER-", "transfer-encoding"),
            ("Keep-", "keep-alive"),
            ("Proxy-", "proxy-connection"),
        ];
        for (prefix, name) in cases {
            assert_eq!(
                err(&format!(
                    r#"{{"url": "http://a", "strip_prefixed_headers": true, "injected_header_prefix": "{prefix}"}}"#
                )),
                format!("reconcile.injected_header_prefix: with strip_prefixed_headers would strip the client's `{name}`"),
                "{prefix}"
            );
        }
        // Without stripping, the prefix only names what is injected (each name still checked).
        let r = rec(r#"{"url": "http://a", "injected_header_prefix": "Content-"}"#);
        assert_eq!(r.stripped_prefix, None);
        let r = rec(
            r#"{"url": "http://a", "strip_prefixed_headers": true, "injected_header_prefix": "Contents-"}"#,
        );
        assert_eq!(r.stripped_prefix.as_deref(), Some("contents-"));
    }

    #[test]
    fn compile_cache_seconds_bounded() {
        assert_eq!(
            rec(r#"{"url": "http://a", "cache_seconds": 86400}"#).cache_seconds(),
            86_400
        );
        assert!(rec(r#"{"url": "http://a", "cache_seconds": 5}"#)
            .answer_cache()
            .is_some());
        assert_eq!(
            err(r#"{"url": "http://a", "cache_seconds": 86401}"#),
            "reconcile.cache_seconds: must be at most 86400 (one day)"
        );
    }

    #[test]
    fn compile_zero_max_body_bytes_is_refused() {
        assert_eq!(
            err(r#"{"url": "http://a", "max_body_bytes": 0}"#),
            "reconcile.max_body_bytes: must be greater than 0"
        );
    }
}
