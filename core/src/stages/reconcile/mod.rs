//! Reconcile: jwt-reconcile's call to an auth service, made safe. Pure functions; the glue
//! dispatches the call and applies the results.
//!
//! Stage order: after authenticate (the call sees the verified consumer headers), before mint
//! (minted claims do not carry reconciled values yet). One request goes:
//! 1. [`strip_client_headers`] when the request headers arrive;
//! 2. with [`Reconcile::needs_body`], the body is read first (capped by `max_body_bytes`);
//! 3. with a cache ([`Reconcile::answer_cache`]), [`cache_key`] and [`AnswerCache::get`]: a hit
//!    applies the stored [`Injection`] and skips the call;
//! 4. [`build_call`] -> dispatch -> [`on_answer`] over the [`crate::stages::CallAnswer`]
//!    (with Kong's `:dispatch_status` pseudo-header kept in its headers when there is no
//!    status);
//! 5. [`Outcome::Inject`]: apply, and [`AnswerCache::put`] it; [`Outcome::Deny`]: reply;
//!    [`Outcome::Failed`]: log [`Failure::detail`] and apply [`on_failure`].

mod answer;
mod budget;
mod cache;
mod call;
mod compile;
mod dasherize;
mod multipart;
mod php;
mod reserved;
mod strip;

pub use answer::{
    on_answer, on_failure, Failure, FailureKind, Injection, Outcome, Refusal, RefusalReason,
    DISPATCH_REFUSED, FAILURE_MODE_HEADER, MAX_ANSWER_BYTES, MAX_INJECTED_VALUE_BYTES,
};
pub use budget::{MAX_BODY_VALUES, MAX_FORM_FIELDS, MAX_MULTIPART_PARTS};
pub use cache::{answer_lifetime, cache_key, key_view, AnswerCache, VOLATILE_HEADERS};
pub use call::{
    ambiguous_header, ambiguous_host, ambiguous_path, ambiguous_query, body_method_override,
    body_value, build_call, encoded_body, envelope, forwarded_host, method_override, parse_form,
    percent_decode, raw_fragment, reading, replaced_text, unshowable_body, Reading, USER_AGENT,
};
pub use call::{CHECKED_HEADERS, METHOD_OVERRIDE_HEADERS};
pub use compile::{
    compile, compile_in, Reconcile, CACHE_MAX_BYTES, CACHE_MAX_ENTRIES, MAX_CACHE_SECONDS,
};
pub use dasherize::dasherize;
pub(crate) use multipart::{form_fields, pad_closing_delimiter, without_parts};
pub use reserved::{is_override, ENVOY_PREFIX, NEVER_INJECTED};
pub use strip::strip_client_headers;

/// Shared test fixtures: a section from JSON, its compiled form, and one rich request.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{compile, Reconcile};
    use crate::config::ReconcileSection;
    use crate::stages::Request;

    /// A `reconcile` section parsed from JSON (defaults for what it omits).
    pub fn section(json: &str) -> ReconcileSection {
        serde_json::from_str(json).unwrap()
    }

    /// The compiled form of a valid section.
    pub fn rec(json: &str) -> Reconcile {
        compile(&section(json)).unwrap()
    }

    /// `GET https://api.example.com/orders/7?a=1&b=x+y&a=2&flag` with a credential, a repeated
    /// header, hop-by-hop headers and the call's own header names.
    pub fn request() -> Request {
        let headers = [
            ("authorization", "Bearer abc"),
            ("content-type", "application/json; charset=utf-8"),
            ("cookie", "s=1"),
            ("host", "api.example.com"),
            ("x-custom", "c"),
            ("x-multi", "1"),
            ("x-multi", "2"),
            ("x-request-id", "r-1"),
            ("connection", "keep-alive"),
            ("content-length", "14"),
            ("accept-encoding", "gzip"),
            ("user-agent", "curl/8"),
        ];
        Request {
            method: "GET".into(),
            path: "/orders/7?a=1&b=x+y&a=2&flag".into(),
            authority: "api.example.com".into(),
            scheme: "https".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            now: 1000,
            client_dn: None,
            service: None,
            service_url: None,
            host_sets_consumers: false,
            removes_repeated_headers: true,
            keeps_body_length: false,
            target_host: None,
            client_ip: None,
            host_forwarded_proto: None,
        }
    }
}
