//! The auth service's answer turned into header edits, a denial, or a failure.

use serde_json::{Map, Value};

use super::compile::Reconcile;
use super::dasherize::dasherize;
use super::reserved::is_never_injected;
use crate::stages::refusal::Refusal as Answered;
use crate::stages::{CallAnswer, HeaderEdits};

/// Largest answer body read from a 200 (1 MiB). The glue may read at most one byte more from
/// the host; a larger answer is a [`FailureKind::BadAnswer`].
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Header set on the request when `failure_mode_allow` lets it through a failed call.
pub const FAILURE_MODE_HEADER: &str = "x-reconcile-failure-mode-allowed";

/// Largest value injected, in bytes (8 KiB): a header that size already strains upstreams
/// (many cap a whole request head at 8 to 16 KiB), and each injected value is also held in the
/// answer cache.
pub const MAX_INJECTED_VALUE_BYTES: usize = 8 * 1024;

/// Longest answer key kept in a [`Refusal`], in characters.
const REFUSED_KEY_CHARS: usize = 64;

/// What the answer means for the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The service allowed the request: apply these headers (the only outcome worth caching).
    Inject(Injection),
    /// The service refused the request (401, 403 or 404).
    Deny(Answered),
    /// No usable answer: fail closed with [`Failure::refusal`], or let the request through
    /// under `failure_mode_allow` (see [`on_failure`]).
    Failed(Failure),
}

/// The headers a 200 answer injects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injection {
    /// `Set` edits on the upstream request: an injected header replaces any client value.
    pub request: HeaderEdits,
    /// The same headers for the client response when `streamdown_injected_headers` is on;
    /// empty otherwise.
    pub response: Vec<(String, String)>,
    /// Answer keys that were not injected, for the log.
    pub refused: Vec<Refusal>,
}

impl Injection {
    /// Rough heap size, for the cache's byte bound.
    pub(super) fn weight(&self) -> usize {
        let edits: usize = self
            .request
            .0
            .iter()
            .map(|edit| match edit {
                crate::stages::HeaderEdit::Set(n, v) => n.len() + v.len(),
                crate::stages::HeaderEdit::Remove(n) => n.len(),
            })
            .sum();
        let response: usize = self.response.iter().map(|(n, v)| n.len() + v.len()).sum();
        let refused: usize = self.refused.iter().map(|r| r.key.len()).sum();
        edits + response + refused
    }
}

/// One answer key that was not injected. Holds the key (cut to 64 characters, control
/// characters replaced by `?`), never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The answer key, sanitised for the log.
    pub key: String,
    /// Why it was not injected.
    pub reason: RefusalReason,
}

/// Why an answer key was not injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// The value holds a control character (CR, LF, NUL, any other C0 control but HTAB, DEL):
    /// passing it on could split or smuggle headers.
    UnsafeValue,
    /// The header is never injected: a framing or hop-by-hop header
    /// ([`super::NEVER_INJECTED`]), a pseudo-header, an `x-envoy-` header, or one the filter
    /// sets itself (consumer identity, claim and minted-token headers, the failure-mode marker).
    NeverInjected,
    /// `allowed_headers` is set and does not name the header.
    NotAllowed,
    /// The key dasherizes to an empty name.
    EmptyName,
    /// An earlier key (in key order) already gave the same header name.
    DuplicateName,
    /// The value is above [`MAX_INJECTED_VALUE_BYTES`].
    ValueTooLarge,
}

impl RefusalReason {
    /// Its name in the log line.
    pub fn name(self) -> &'static str {
        match self {
            Self::UnsafeValue => "unsafe_value",
            Self::NeverInjected => "never_injected",
            Self::NotAllowed => "not_allowed",
            Self::EmptyName => "empty_name",
            Self::DuplicateName => "duplicate_name",
            Self::ValueTooLarge => "value_too_large",
        }
    }
}

/// Why the call gave no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No answer: connection refused or reset, no healthy host, TLS or DNS failure.
    Transport,
    /// The call's timeout expired.
    Timeout,
    /// A 200 that is not a JSON object, or a body above [`MAX_ANSWER_BYTES`].
    BadAnswer,
    /// The host would not make the call ([`DISPATCH_REFUSED`]: an Envoy cluster it does not
    /// know, an argument it takes as bad): a configuration that never reaches the service,
    /// which `failure_mode_allow` does not cover (review helper-116: every request went
    /// through, the service never asked).
    Refused,
}

/// The `:dispatch_status` the glue gives a call the host refused to make.
pub const DISPATCH_REFUSED: &str = "dispatch refused";

/// A failed call: its kind, and a detail for the log that never holds the answer's body,
/// header values or credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong.
    pub kind: FailureKind,
    /// For the log only.
    pub detail: String,
}

impl Failure {
    fn new(kind: FailureKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// The fail-closed refusal: 504 for a timeout, 502 otherwise, with Kong's message for the
    /// status (no internal detail).
    pub fn refusal(&self) -> Answered {
        match self.kind {
            FailureKind::Timeout => Answered::ReconcileTimeout,
            FailureKind::Transport | FailureKind::BadAnswer | FailureKind::Refused => {
                Answered::ReconcileFailed
            }
        }
    }
}

/// What a failed call leads to: with `failure_mode_allow`, going on with
/// `X-Reconcile-Failure-Mode-Allowed: true` (nothing injected); otherwise
/// [`Failure::refusal`].
pub fn on_failure(rec: &Reconcile, failure: &Failure) -> Result<HeaderEdits, Answered> {
    if rec.failure_mode_allow && failure.kind != FailureKind::Refused {
        let mut edits = HeaderEdits::default();
        edits.set(FAILURE_MODE_HEADER, "true");
        Ok(edits)
    } else {
        Err(failure.refusal())
    }
}

/// Reads the auth service's answer.
///
/// - 200: with `inject_body_response_into_header` off, [`Outcome::Inject`] with nothing (the
///   body is not read, as the plugin did not read it). Otherwise the body must be a JSON object
///   of at most [`MAX_ANSWER_BYTES`]; each top-level key, in key order, becomes header
///   `dasherize(prefix + key)`: strings as they are, `true` as text, numbers as Lua's
///   `%.14g`, objects and arrays as cjson writes them ([`lua_text`]); `null` and `false` skipped
///   silently (the plugin skipped `false`
///   and failed with a 500 on `null`). Keys whose header would be unsafe are skipped and listed
///   in [`Injection::refused`] (see [`RefusalReason`]).
/// - 403 -> 403 `{"message": message_403}`; 404 -> 404 `{"message": message_404}`; any other
///   status -> 401 `{"message": message_401}`. The size bound does not apply to these: a
///   denial stays a denial, so `failure_mode_allow` can never turn it into an allow.
/// - Failures. No status: [`FailureKind::Timeout`] when Kong's `:dispatch_status` pseudo-header
///   (ngx_wasm_module) says `timeout`, [`FailureKind::Transport`] otherwise (Envoy reports a
///   reset with no headers at all). Envoy answers some failures itself with a local reply from
///   its router, exact bodies as in `source/common/router/router.cc`: 504 `upstream request
///   timeout` and 408/504 `upstream max stream duration reached` are timeouts; 503 `no healthy
///   upstream` and 502/503 `upstream connect error or disconnect/reset before headers. ...` are
///   transport failures. Any other 5xx is the service's own answer, hence a 401.
pub fn on_answer(rec: &Reconcile, answer: &CallAnswer) -> Outcome {
    let Some(status) = answer.status else {
        return Outcome::Failed(no_status_failure(answer));
    };
    if let Some(failure) = envoy_local_reply(status, &answer.body) {
        return Outcome::Failed(failure);
    }
    let deny = |status: u16, message: &str| {
        Outcome::Deny(Answered::ReconcileDenied {
            status,
            message: message.to_string(),
        })
    };
    match status {
        200 if !rec.inject => Outcome::Inject(Injection::default()),
        200 => match parse_object(&answer.body) {
            Ok(object) => Outcome::Inject(inject(rec, &object)),
            Err(failure) => Outcome::Failed(failure),
        },
        403 => deny(403, &rec.message_403),
        404 => deny(404, &rec.message_404),
        _ => deny(401, &rec.message_401),
    }
}

fn no_status_failure(answer: &CallAnswer) -> Failure {
    let dispatch_status = answer
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(":dispatch_status"))
        .map(|(_, value)| value.as_str());
    match dispatch_status {
        Some("timeout") => Failure::new(FailureKind::Timeout, "dispatch failed: timeout"),
        Some(DISPATCH_REFUSED) => Failure::new(FailureKind::Refused, DISPATCH_REFUSED),
        Some(status) => Failure::new(
            FailureKind::Transport,
            format!("dispatch failed: {}", sanitize(status)),
        ),
        None => Failure::new(
            FailureKind::Transport,
            "no answer: connection failed or reset",
        ),
    }
}

/// Envoy's router local replies to the call (status and exact body), as failures.
fn envoy_local_reply(status: u16, body: &[u8]) -> Option<Failure> {
    const CONNECT_ERROR: &[u8] = b"upstream connect error or disconnect/reset before headers.";
    let kind = match (status, body) {
        (504, b"upstream request timeout") => FailureKind::Timeout,
        (408 | 504, b"upstream max stream duration reached") => FailureKind::Timeout,
        (503, b"no healthy upstream") => FailureKind::Transport,
        (502 | 503, body) if body.starts_with(CONNECT_ERROR) => FailureKind::Transport,
        _ => return None,
    };
    let what = match kind {
        FailureKind::Timeout => "timeout",
        _ => "no healthy upstream or connection failure",
    };
    Some(Failure::new(
        kind,
        format!("envoy local reply {status}: {what}"),
    ))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Failure> {
    let bad = |detail: String| Failure::new(FailureKind::BadAnswer, detail);
    if body.len() > MAX_ANSWER_BYTES {
        return Err(bad(format!(
            "200 answer body of {} bytes or more exceeds {MAX_ANSWER_BYTES}",
            body.len()
        )));
    }
    // Only the error's category and position are logged: its text could quote the body.
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(bad(format!(
            "200 answer is JSON {}, not an object",
            kind_of(&other)
        ))),
        Err(e) => Err(bad(format!(
            "200 answer is not JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as jwt-reconcile sets it in a header: Lua's `tostring` of a number (cjson reads
/// every number as a double, written `%.14g`: `3.0` is `3`, `1e2` is `100`,
/// `12345678901234567` is `1.2345678901235e+16`), `true`, and an object or array as cjson
/// writes it (numbers likewise, an empty array as `{}`, which cjson cannot tell from an empty
/// object).
fn lua_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => lua_number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => cjson_string(s),
        Value::Array(items) if items.is_empty() => "{}".into(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(lua_text).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}:{}", cjson_string(k), lua_text(v)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
    }
}

/// A string as cjson writes it: serde_json's escapes, plus `/` as `\/` and DEL as `\u007f`
/// (a header value may not hold DEL raw), which serde_json writes as they are.
fn cjson_string(s: &str) -> String {
    let json = Value::String(s.to_owned()).to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '/' => out.push_str("\\/"),
            '\u{7f}' => out.push_str("\\u007f"),
            c => out.push(c),
        }
    }
    out
}

/// C's `%.14g` (Lua's number format): 14 significant digits, trailing zeros dropped, in
/// exponent form (`e+16`, two digits at least) when the exponent is below -4 or 14 or more.
fn lua_number(x: f64) -> String {
    if !x.is_finite() {
        return match (x.is_nan(), x > 0.0) {
            (true, _) => "nan".into(),
            (false, true) => "inf".into(),
            (false, false) => "-inf".into(),
        };
    }
    let trim = |digits: &str| -> String {
        match digits.contains('.') {
            true => digits
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string(),
            false => digits.to_string(),
        }
    };
    let scientific = format!("{x:.13e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..14).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mantissa), exponent.unsigned_abs());
    }
    let decimals = usize::try_from(13 - exponent).unwrap_or(0);
    trim(&format!("{x:.decimals$}"))
}

fn inject(rec: &Reconcile, object: &Map<String, Value>) -> Injection {
    let mut out = Injection::default();
    let mut names: Vec<String> = Vec::new();
    for (key, value) in object {
        let text = match value {
            Value::Null | Value::Bool(false) => continue,
            Value::String(s) => s.clone(),
            // Numbers, `true`, objects and arrays: as the plugin's Lua writes them.
            other => lua_text(other),
        };
        let name = dasherize(&format!("{}{key}", rec.prefix));
        let lower = name.to_ascii_lowercase();
        if let Some(reason) = refusal(rec, &lower, &names, &text) {
            out.refused.push(Refusal {
                key: sanitize(key),
                reason,
            });
            continue;
        }
        names.push(lower);
        if rec.streamdown {
            out.response.push((name.clone(), text.clone()));
        }
        out.request.set(name, text);
    }
    out
}

/// Why header `lower` (the dasherized name, lower-case) with value `text` is not injected, if
/// it is not; `taken` holds the names already injected.
fn refusal(rec: &Reconcile, lower: &str, taken: &[String], text: &str) -> Option<RefusalReason> {
    if lower.is_empty() {
        Some(RefusalReason::EmptyName)
    } else if is_never_injected(lower, &rec.owned) {
        Some(RefusalReason::NeverInjected)
    } else if rec
        .allowed
        .as_ref()
        .is_some_and(|allowed| !allowed.iter().any(|a| a == lower))
    {
        Some(RefusalReason::NotAllowed)
    } else if taken.iter().any(|t| t == lower) {
        Some(RefusalReason::DuplicateName)
    } else if text.len() > MAX_INJECTED_VALUE_BYTES {
        // Before the character scan, which need not read a value refused anyway.
        Some(RefusalReason::ValueTooLarge)
    } else if !crate::stages::headers::is_safe_value(text) {
        Some(RefusalReason::UnsafeValue)
    } else {
        None
    }
}

/// A short, printable form of text from the answer or the host, for the log.
fn sanitize(text: &str) -> String {
    text.chars()
        .take(REFUSED_KEY_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::rec;
    use super::*;
    use crate::stages::HeaderEdit;
    use serde_json::json;

    const URL: &str = r#""url": "http://auth""#;

    fn config(extra: &str) -> Reconcile {
        rec(&format!("{{{URL}{extra}}}"))
    }

    /// The reconcile stage of a whole configuration, knowing what its other stages set.
    fn config_in(json: &str) -> Reconcile {
        let raw = crate::config::parse(json.as_bytes()).unwrap();
        super::super::compile_in(&raw).unwrap().unwrap()
    }

    fn answer(status: u16, body: &str) -> CallAnswer {
        CallAnswer {
            status: Some(status),
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    fn injected(rec: &Reconcile, body: &str) -> Injection {
        match on_answer(rec, &answer(200, body)) {
            Outcome::Inject(injection) => injection,
            other => panic!("expected Inject, got {other:?}"),
        }
    }

    fn sets(injection: &Injection) -> Vec<(String, String)> {
        injection
            .request
            .0
            .iter()
            .map(|edit| match edit {
                HeaderEdit::Set(n, v) => (n.clone(), v.clone()),
                HeaderEdit::Remove(n) => panic!("unexpected remove of {n}"),
            })
            .collect()
    }

    fn refused(injection: &Injection) -> Vec<(&str, RefusalReason)> {
        injection
            .refused
            .iter()
            .map(|r| (r.key.as_str(), r.reason))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn failure(outcome: Outcome) -> Failure {
        match outcome {
            Outcome::Failed(f) => f,
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn on_answer_200_object_injects_dasherized_keys() {
        let got = injected(
            &config(""),
            r#"{"userId": "42", "tenant_id": "t1", "accountID": "a"}"#,
        );
        assert_eq!(
            sets(&got),
            pairs(&[("Account-Id", "a"), ("Tenant-Id", "t1"), ("User-Id", "42")])
        );
        assert!(got.response.is_empty() && got.refused.is_empty());
    }

    #[test]
    fn on_answer_prefix_joins_key_before_dasherize() {
        let got = injected(
            &config(r#", "injected_header_prefix": "x-""#),
            r#"{"role": "admin"}"#,
        );
        assert_eq!(sets(&got), pairs(&[("X-Role", "admin")]));
    }

    #[test]
    fn on_answer_value_types_become_text() {
        let got = injected(
            &config(""),
            r#"{"s": "a b", "i": 42, "f": 1.5, "neg": -3, "t": true, "o": {"k": [1, "x"]}, "a": [1, 2], "e": ""}"#,
        );
        assert_eq!(
            sets(&got),
            pairs(&[
                ("A", "[1,2]"),
                ("E", ""),
                ("F", "1.5"),
                ("I", "42"),
                ("Neg", "-3"),
                ("O", r#"{"k":[1,"x"]}"#),
                ("S", "a b"),
                ("T", "true"),
            ])
        );
    }

    /// jwt-reconcile's headers from numbers are Lua's `tostring`, `%.14g`; these texts are C's
    /// `printf("%.14g")` of the same doubles (Python's `'%.14g' % x`).
    #[test]
    fn numbers_are_written_as_luas_tostring() {
        for (x, lua) in [
            (3.0, "3"),
            (100.0, "100"),
            (0.5, "0.5"),
            (-3.0, "-3"),
            (12_345_678_901_234_567.0, "1.2345678901235e+16"),
            (1e14, "1e+14"),
            (99_999_999_999_999.0, "99999999999999"),
            (999_999_999_999_999.0, "1e+15"),
            (12_345_678_901_234.0, "12345678901234"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.0 / 3.0, "0.33333333333333"),
            (2.5e-300, "2.5e-300"),
            (1.7976931348623157e308, "1.7976931348623e+308"),
            (0.0, "0"),
            (-0.0, "-0"),
            // A subnormal, and 15 digits ending in 5 (below the tie in binary): C's rounding.
            (5e-324, "4.9406564584125e-324"),
            (0.123456789012345, "0.12345678901234"),
        ] {
            assert_eq!(lua_number(x), lua, "{x}");
        }
        let got = injected(
            &config(""),
            r#"{"f": 3.0, "e": 1e2, "big": 12345678901234567, "o": {"n": 2.50, "a": []}}"#,
        );
        assert_eq!(
            sets(&got),
            pairs(&[
                ("Big", "1.2345678901235e+16"),
                ("E", "100"),
                ("F", "3"),
                ("O", r#"{"a":{},"n":2.5}"#),
            ])
        );
    }

    #[test]
    fn on_answer_null_and_false_are_skipped_silently() {
        let got = injected(&config(""), r#"{"n": null, "f": false, "t": true}"#);
        assert_eq!(sets(&got), pairs(&[("T", "true")]));
        assert!(got.refused.is_empty());
    }

    #[test]
    fn on_answer_control_characters_are_refused_and_reported() {
        let got = injected(
            &config(""),
            r#"{"cr": "a\rb", "lf": "a\nX-Evil: 1", "nul": "a\u0000", "bel": "\u0007", "del": "\u007f", "tab": "a\tb", "ok": "fine"}"#,
        );
        assert_eq!(sets(&got), pairs(&[("Ok", "fine"), ("Tab", "a\tb")]));
        assert_eq!(
            refused(&got),
            [
                ("bel", RefusalReason::UnsafeValue),
                ("cr", RefusalReason::UnsafeValue),
                ("del", RefusalReason::UnsafeValue),
                ("lf", RefusalReason::UnsafeValue),
                ("nul", RefusalReason::UnsafeValue),
            ]
        );
    }

    #[test]
    fn on_answer_nested_control_characters_stay_escaped() {
        let got = injected(&config(""), r#"{"o": {"k": "a\r\nb"}}"#);
        assert_eq!(sets(&got), pairs(&[("O", r#"{"k":"a\r\nb"}"#)]));
    }

    /// Regression (review): cjson writes `/` as `\/` and DEL as `\u007f`; serde_json writes
    /// both raw, so a nested URL differed from the plugin's header and a nested DEL refused
    /// the key the plugin injects.
    #[test]
    fn on_answer_nested_strings_are_escaped_as_cjson() {
        let got = injected(
            &config(""),
            r#"{"o": {"u/rl": "http://a/b", "k": "a\u007fb\u001f\"\\é"}, "a": ["/"]}"#,
        );
        assert_eq!(
            sets(&got),
            pairs(&[
                ("A", r#"["\/"]"#),
                (
                    "O",
                    r#"{"k":"a\u007fb\u001f\"\\é","u\/rl":"http:\/\/a\/b"}"#
                ),
            ])
        );
        assert!(got.refused.is_empty());
    }

    #[test]
    fn on_answer_never_injected_names_are_refused() {
        let got = injected(
            &config(""),
            r#"{"host": "evil", "Content-Length": "0", "transfer_encoding": "chunked", "connection": "close", "upgrade": "h2c", "te": "trailers", "keep-alive": "1", ":authority": "x", "ok": "1", "EXPECT": "100-continue"}"#,
        );
        // `:authority` dasherizes to `-Authority`, a harmless name.
        assert_eq!(sets(&got), pairs(&[("-Authority", "x"), ("Ok", "1")]));
        assert!(got
            .refused
            .iter()
            .all(|r| r.reason == RefusalReason::NeverInjected));
        assert_eq!(got.refused.len(), 8);
    }

    #[test]
    fn on_answer_filter_identity_names_are_refused() {
        let rec =
            config_in(r#"{"key_auth": {}, "custom_jwt": {}, "reconcile": {"url": "http://auth"}}"#);
        let got = injected(
            &rec,
            r#"{"x_consumer_id": "admin", "x_anonymous_consumer": null, "x_custom_jwt": "forged",
                "x_reconcile_failure_mode_allowed": "true", "X-Consumer-Username": "root",
                "xConsumerCustomId": "c", "X_CREDENTIAL_IDENTIFIER": "k", "role": "r"}"#,
        );
        // `null` injects nothing, as for any key: no refusal to report.
        assert_eq!(sets(&got), pairs(&[("Role", "r")]));
        assert_eq!(
            refused(&got),
            [
                ("X-Consumer-Username", RefusalReason::NeverInjected),
                ("X_CREDENTIAL_IDENTIFIER", RefusalReason::NeverInjected),
                ("xConsumerCustomId", RefusalReason::NeverInjected),
                ("x_consumer_id", RefusalReason::NeverInjected),
                ("x_custom_jwt", RefusalReason::NeverInjected),
                (
                    "x_reconcile_failure_mode_allowed",
                    RefusalReason::NeverInjected
                ),
            ]
        );
    }

    #[test]
    fn on_answer_consumer_names_are_refused_without_auth_stage() {
        let got = injected(
            &config(r#", "streamdown_injected_headers": true"#),
            r#"{"x-consumer-id": "admin", "x_anonymous_consumer": "false", "role": "r"}"#,
        );
        assert_eq!(sets(&got), pairs(&[("Role", "r")]));
        assert_eq!(got.response, pairs(&[("Role", "r")]));
        assert_eq!(
            refused(&got),
            [
                ("x-consumer-id", RefusalReason::NeverInjected),
                ("x_anonymous_consumer", RefusalReason::NeverInjected),
            ]
        );
    }

    #[test]
    fn on_answer_envoy_names_are_refused() {
        let got = injected(
            &config(""),
            r#"{"x_envoy_upstream_rq_timeout_ms": "1", "X-Envoy-Retry-On": "5xx",
                "xEnvoyMaxRetries": 9, "x_envoy": "a", "x_envoyish": "b"}"#,
        );
        assert_eq!(sets(&got), pairs(&[("X-Envoy", "a"), ("X-Envoyish", "b")]));
        assert_eq!(
            refused(&got),
            [
                ("X-Envoy-Retry-On", RefusalReason::NeverInjected),
                ("xEnvoyMaxRetries", RefusalReason::NeverInjected),
                (
                    "x_envoy_upstream_rq_timeout_ms",
                    RefusalReason::NeverInjected
                ),
            ]
        );
    }

    #[test]
    fn on_answer_prefix_reaching_reserved_name_is_refused() {
        let got = injected(
            &config(r#", "injected_header_prefix": "X_Consumer_""#),
            r#"{"id": "admin", "username": "root", "tenant": "t"}"#,
        );
        assert_eq!(sets(&got), pairs(&[("X-Consumer-Tenant", "t")]));
        assert_eq!(
            refused(&got),
            [
                ("id", RefusalReason::NeverInjected),
                ("username", RefusalReason::NeverInjected),
            ]
        );
        let envoy = injected(
            &config(r#", "injected_header_prefix": "x-envoy-""#),
            r#"{"role": "r"}"#,
        );
        assert!(sets(&envoy).is_empty());
        assert_eq!(refused(&envoy), [("role", RefusalReason::NeverInjected)]);
    }

    #[test]
    fn on_answer_names_other_stages_set_are_refused() {
        let body = r#"{"authorization": "Bearer forged", "jwt": "forged", "x_user_sub": "root", "role": "r"}"#;
        let rec = config_in(
            r#"{"jwt": {"claims_to_headers": [{"claim": "sub", "header": "X-User-Sub"}]},
                "custom_jwt": {"upstream_custom_jwt_header": "Authorization"},
                "upstream_jwt": {}, "reconcile": {"url": "http://auth"}}"#,
        );
        let got = injected(&rec, body);
        assert_eq!(sets(&got), pairs(&[("Role", "r")]));
        assert_eq!(
            refused(&got),
            [
                ("authorization", RefusalReason::NeverInjected),
                ("jwt", RefusalReason::NeverInjected),
                ("x_user_sub", RefusalReason::NeverInjected),
            ]
        );
        // Without those stages the filter sets none of these names: they are the answer's.
        let alone = injected(&config_in(&format!("{{\"reconcile\": {{{URL}}}}}")), body);
        assert_eq!(
            sets(&alone),
            pairs(&[
                ("Authorization", "Bearer forged"),
                ("Jwt", "forged"),
                ("Role", "r"),
                ("X-User-Sub", "root"),
            ])
        );
    }

    #[test]
    fn on_answer_value_above_8_kib_is_refused() {
        let at = "a".repeat(MAX_INJECTED_VALUE_BYTES);
        let above = "a".repeat(MAX_INJECTED_VALUE_BYTES + 1);
        // 4097 two-byte characters: 8194 bytes.
        let wide = "é".repeat(MAX_INJECTED_VALUE_BYTES / 2 + 1);
        let list: Vec<u8> = vec![1; MAX_INJECTED_VALUE_BYTES / 2];
        let body = json!({"at": at, "above": above, "wide": wide, "list": list, "ok": 1});
        let got = injected(&config(""), &body.to_string());
        assert_eq!(MAX_INJECTED_VALUE_BYTES, 8192);
        assert_eq!(sets(&got), pairs(&[("At", &at), ("Ok", "1")]));
        assert_eq!(
            refused(&got),
            [
                ("above", RefusalReason::ValueTooLarge),
                ("list", RefusalReason::ValueTooLarge),
                ("wide", RefusalReason::ValueTooLarge),
            ]
        );
    }

    #[test]
    fn on_answer_allowed_headers_limit_injection() {
        let rec = config(
            r#", "injected_header_prefix": "x-", "allowed_headers": ["x-role", "X-USER-ID"]"#,
        );
        let got = injected(&rec, r#"{"role": "admin", "userId": "7", "tenant": "t"}"#);
        assert_eq!(
            sets(&got),
            pairs(&[("X-Role", "admin"), ("X-User-Id", "7")])
        );
        assert_eq!(
            got.refused,
            [Refusal {
                key: "tenant".into(),
                reason: RefusalReason::NotAllowed
            }]
        );
    }

    #[test]
    fn on_answer_empty_allowed_headers_inject_nothing() {
        let got = injected(
            &config(r#", "allowed_headers": []"#),
            r#"{"role": "admin"}"#,
        );
        assert!(sets(&got).is_empty());
        assert_eq!(got.refused[0].reason, RefusalReason::NotAllowed);
    }

    #[test]
    fn on_answer_colliding_keys_keep_first_in_key_order() {
        let got = injected(
            &config(""),
            r#"{"user_id": "b", "userId": "a", "": "e", "_": "u"}"#,
        );
        // Key order: "", "_", "userId", "user_id".
        assert_eq!(sets(&got), pairs(&[("-", "u"), ("User-Id", "a")]));
        assert_eq!(
            refused(&got),
            [
                ("", RefusalReason::EmptyName),
                ("user_id", RefusalReason::DuplicateName)
            ]
        );
    }

    #[test]
    fn on_answer_refused_key_is_sanitised_and_cut() {
        let key = format!("k\n{}", "x".repeat(100));
        let body = json!({ key: "v\r" }).to_string();
        let got = injected(&config(""), &body);
        assert_eq!(got.refused[0].key, format!("k?{}", "x".repeat(62)));
    }

    #[test]
    fn on_answer_streamdown_copies_headers_to_response() {
        let got = injected(
            &config(r#", "streamdown_injected_headers": true"#),
            r#"{"role": "a", "bad": "\n"}"#,
        );
        assert_eq!(got.response, pairs(&[("Role", "a")]));
        assert_eq!(sets(&got), got.response);
    }

    #[test]
    fn on_answer_inject_off_ignores_body() {
        let rec = config(r#", "inject_body_response_into_header": false"#);
        assert_eq!(
            on_answer(&rec, &answer(200, "not json")),
            Outcome::Inject(Injection::default())
        );
        assert_eq!(
            on_answer(&rec, &answer(200, r#"{"a": "b"}"#)),
            Outcome::Inject(Injection::default())
        );
    }

    #[test]
    fn on_answer_status_maps_to_denials() {
        let rec = config(r#", "message_401": "no", "message_404": "gone""#);
        let deny = |status: u16| match on_answer(&rec, &answer(status, r#"{"a": "b"}"#)) {
            Outcome::Deny(r) => (r.status(), String::from_utf8(r.reply().body).unwrap()),
            other => panic!("{status}: {other:?}"),
        };
        assert_eq!(
            deny(403),
            (
                403,
                r#"{"message":"You don't have enough permissions to access"}"#.into()
            )
        );
        assert_eq!(deny(404), (404, r#"{"message":"gone"}"#.into()));
        for status in [201, 204, 301, 400, 401, 418, 500, 502, 503, 504] {
            assert_eq!(
                deny(status),
                (401, r#"{"message":"no"}"#.into()),
                "{status}"
            );
        }
    }

    #[test]
    fn on_answer_deny_ignores_size_bound() {
        let huge = "x".repeat(MAX_ANSWER_BYTES + 1);
        assert!(
            matches!(on_answer(&config(""), &answer(403, &huge)), Outcome::Deny(r) if r.status() == 403)
        );
    }

    #[test]
    fn on_answer_200_not_object_is_bad_answer() {
        for (body, detail) in [
            ("[1]", "200 answer is JSON array, not an object"),
            ("\"s\"", "200 answer is JSON string, not an object"),
            ("null", "200 answer is JSON null, not an object"),
            ("", "200 answer is not JSON (Eof error at line 1 column 0)"),
            (
                "secret-token",
                "200 answer is not JSON (Syntax error at line 1 column 1)",
            ),
        ] {
            let f = failure(on_answer(&config(""), &answer(200, body)));
            assert_eq!(
                (f.kind, f.detail.as_str()),
                (FailureKind::BadAnswer, detail),
                "{body}"
            );
            assert!(!f.detail.contains("secret"));
        }
    }

    #[test]
    fn on_answer_200_above_bound_is_bad_answer() {
        let body = format!(r#"{{"a": "{}"}}"#, "x".repeat(MAX_ANSWER_BYTES));
        let f = failure(on_answer(&config(""), &answer(200, &body)));
        assert_eq!(f.kind, FailureKind::BadAnswer);
        assert!(f.detail.contains("exceeds 1048576"));
        let at_bound = format!(r#"{{"a": "{}"}}"#, "x".repeat(MAX_ANSWER_BYTES - 10));
        assert!(matches!(
            on_answer(&config(""), &answer(200, &at_bound)),
            Outcome::Inject(_)
        ));
    }

    #[test]
    fn on_answer_no_status_is_transport_failure() {
        let f = failure(on_answer(&config(""), &CallAnswer::default()));
        assert_eq!(f.kind, FailureKind::Transport);
        assert_eq!(f.refusal().status(), 502);
    }

    #[test]
    fn on_answer_kong_dispatch_status_timeout_is_timeout() {
        let with = |status: &str| CallAnswer {
            status: None,
            headers: vec![(":dispatch_status".into(), status.into())],
            body: vec![],
        };
        let f = failure(on_answer(&config(""), &with("timeout")));
        assert_eq!((f.kind, f.refusal().status()), (FailureKind::Timeout, 504));
        let f = failure(on_answer(&config(""), &with("broken connection")));
        assert_eq!(
            (f.kind, f.detail.as_str()),
            (FailureKind::Transport, "dispatch failed: broken connection")
        );
    }

    #[test]
    fn on_answer_envoy_local_replies_are_failures() {
        let kind =
            |status: u16, body: &str| failure(on_answer(&config(""), &answer(status, body))).kind;
        assert_eq!(kind(504, "upstream request timeout"), FailureKind::Timeout);
        assert_eq!(
            kind(408, "upstream max stream duration reached"),
            FailureKind::Timeout
        );
        assert_eq!(kind(503, "no healthy upstream"), FailureKind::Transport);
        assert_eq!(
            kind(
                503,
                "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: delayed connect error: 111"
            ),
            FailureKind::Transport
        );
        assert_eq!(
            kind(502, "upstream connect error or disconnect/reset before headers. reset reason: protocol error"),
            FailureKind::Transport
        );
    }

    #[test]
    fn on_answer_service_5xx_with_other_body_is_denial() {
        for (status, body) in [
            (504, "upstream request timeout!"),
            (503, "busy"),
            (500, "no healthy upstream"),
        ] {
            assert!(
                matches!(on_answer(&config(""), &answer(status, body)), Outcome::Deny(r) if r.status() == 401),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn failure_response_names_no_detail() {
        let f = Failure::new(FailureKind::BadAnswer, "secret detail");
        let r = f.refusal().reply();
        assert_eq!(r.status, 502);
        assert_eq!(
            r.body,
            br#"{"message":"An invalid response was received from the upstream server"}"#
        );
        let t = Failure::new(FailureKind::Timeout, "x").refusal().reply();
        assert_eq!(
            t.body,
            br#"{"message":"The upstream server is timing out"}"#
        );
    }

    #[test]
    fn on_failure_fails_closed_by_default() {
        let f = Failure::new(FailureKind::Timeout, "x");
        assert_eq!(on_failure(&config(""), &f), Err(Answered::ReconcileTimeout));
    }

    /// A call the host would not make (an unknown Envoy cluster) is a configuration that
    /// never asks the service: failing closed whatever `failure_mode_allow` says (review
    /// helper-116).
    #[test]
    fn a_refused_dispatch_fails_closed_even_with_failure_mode_allow() {
        let answer = CallAnswer {
            status: None,
            headers: vec![(":dispatch_status".into(), DISPATCH_REFUSED.into())],
            body: vec![],
        };
        let allow = config(r#", "failure_mode_allow": true"#);
        let Outcome::Failed(failure) = on_answer(&allow, &answer) else {
            panic!("a refused dispatch is a failure");
        };
        assert_eq!(failure.kind, FailureKind::Refused);
        assert_eq!(on_failure(&allow, &failure), Err(Answered::ReconcileFailed));
    }

    #[test]
    fn on_failure_mode_allow_continues_with_marker() {
        let f = Failure::new(FailureKind::Transport, "x");
        let mut edits = HeaderEdits::default();
        edits.set(FAILURE_MODE_HEADER, "true");
        assert_eq!(
            on_failure(&config(r#", "failure_mode_allow": true"#), &f),
            Ok(edits)
        );
    }
}
