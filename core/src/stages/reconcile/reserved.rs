//! The header names an answer never injects: those that would desynchronise or re-route the
//! upstream request, and those the filter sets itself, whose value only the filter may decide.
//!
//! Names compare as an upstream reads them ([`canonical`]: case ignored, `_` as `-`), so no
//! spelling of a reserved name gets through.

use super::answer::FAILURE_MODE_HEADER;
use super::call::{METHOD_OVERRIDE_HEADERS, URL_OVERRIDE_HEADERS};
use crate::config::RawConfig;
use crate::stages::auth::CONSUMER_HEADERS;
use crate::stages::headers::canonical;

/// Framing and hop-by-hop headers (lower-case), never injected whatever the answer or
/// `allowed_headers` say: their change would desynchronise or re-route the upstream request.
/// Pseudo-headers (`:` prefix) are refused too, though dasherize cannot produce them.
pub const NEVER_INJECTED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    // A control header (RFC 9110): Kong's engine takes it for the client's and answers an
    // unsolicited `100 Continue`, which a client pairing answers with requests would misread.
    "expect",
];

/// Prefix of the request headers Envoy's router obeys (`x-envoy-upstream-rq-timeout-ms`,
/// `x-envoy-retry-on`, `x-envoy-max-retries`, ...): an answer must not steer timeouts, retries
/// or stats.
pub const ENVOY_PREFIX: &str = "x-envoy-";

/// True for a header (canonical name) frameworks take for another method or URL than the
/// request's own (`X-HTTP-Method-Override` and its kin, `X-Original-URL`, `X-Rewrite-URL`):
/// reconcile refuses a client's method override naming another method and removes its URL
/// overrides, and no answer or stage sets one.
pub fn is_override(name: &str) -> bool {
    METHOD_OVERRIDE_HEADERS
        .iter()
        .chain(URL_OVERRIDE_HEADERS.iter())
        .any(|h| *h == name)
}

/// True when an answer may not inject header `name`: a pseudo-header, a [`NEVER_INJECTED`]
/// name, an `x-envoy-` name, a method or URL override ([`is_override`]), a consumer identity
/// header or the failure-mode marker (reserved
/// even without an authentication stage: upstreams read them as the filter's word), or one of
/// `owned` (canonical names the configured stages set, see [`owned_by_stages`]).
pub(super) fn is_never_injected(name: &str, owned: &[String]) -> bool {
    let name = canonical(name);
    name.starts_with(':')
        || name.starts_with(ENVOY_PREFIX)
        || NEVER_INJECTED.contains(&name.as_str())
        || is_override(&name)
        || set_by_filter(&name, owned)
}

/// True for a header (canonical name) the filter sets on the request itself: a consumer
/// identity header, the failure-mode marker, or one of `owned` (see [`owned_by_stages`]).
pub(super) fn set_by_filter(name: &str, owned: &[String]) -> bool {
    CONSUMER_HEADERS.contains(&name)
        || name == FAILURE_MODE_HEADER
        || owned.iter().any(|o| o == name)
}

/// The request headers the configured stages other than reconcile set, canonical: the
/// consumer identity headers when an authentication stage is configured, `jwt`'s
/// `claims_to_headers` names, `custom_jwt`'s `upstream_custom_jwt_header` and `upstream_jwt`'s
/// `header`.
pub(super) fn owned_by_stages(raw: &RawConfig) -> Vec<String> {
    let mut owned: Vec<String> = Vec::new();
    // A short list, built once per configuration: repeats are dropped as they come (a sort
    // would add the standard library's to the module, docs/performance.md, "Module size").
    let mut add = |name: &str| {
        let name = canonical(name);
        if !owned.contains(&name) {
            owned.push(name);
        }
    };
    if raw.jwt.is_some() || raw.key_auth.is_some() || raw.basic_auth.is_some() {
        for name in CONSUMER_HEADERS {
            add(name);
        }
    }
    if let Some(jwt) = &raw.jwt {
        for claim in &jwt.claims_to_headers {
            add(&claim.header);
        }
    }
    if let Some(custom) = &raw.custom_jwt {
        add(&custom.upstream_custom_jwt_header);
    }
    if let Some(upstream) = &raw.upstream_jwt {
        add(&upstream.header);
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn owned(json: &str) -> Vec<String> {
        owned_by_stages(&parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn is_never_injected_covers_every_spelling_and_source() {
        let none: &[String] = &[];
        for name in [
            "Host",
            "Transfer-Encoding",
            ":authority",
            "X-Envoy-Upstream-Rq-Timeout-Ms",
            "x_envoy_retry_on",
            "X-Consumer-Id",
            "X_CONSUMER_CUSTOM_ID",
            "x-consumer-username",
            "X-Credential-Identifier",
            "X-Anonymous-Consumer",
            "X-Reconcile-Failure-Mode-Allowed",
            "X-HTTP-Method-Override",
            "x_http_method",
            "X-Method-Override",
            "X-Original-URL",
            "x_rewrite_url",
        ] {
            assert!(is_never_injected(name, none), "{name}");
        }
        for name in [
            "X-Envoy",
            "X-Envoyx-A",
            "X-Consumer-Ids",
            "X-Role",
            "Jwt",
            "X-Original-URI",
        ] {
            assert!(!is_never_injected(name, none), "{name}");
        }
        assert!(is_never_injected("Jwt", &["jwt".to_string()]));
    }

    #[test]
    fn owned_by_stages_lists_configured_names_canonical() {
        let mut all = owned(
            r#"{"key_auth": {}, "jwt": {"claims_to_headers": [{"claim": "sub", "header": "X_User_Sub"}]},
                "custom_jwt": {"upstream_custom_jwt_header": "Authorization"},
                "upstream_jwt": {}, "reconcile": {"url": "http://a"}}"#,
        );
        all.sort();
        assert_eq!(
            all,
            [
                "authorization",
                "jwt",
                "x-anonymous-consumer",
                "x-consumer-custom-id",
                "x-consumer-id",
                "x-consumer-username",
                "x-credential-identifier",
                "x-user-sub",
            ]
        );
        assert_eq!(owned(r#"{"custom_jwt": {}}"#), ["x-custom-jwt"]);
        assert!(owned(r#"{"reconcile": {"url": "http://a"}}"#).is_empty());
    }

    /// The whole path: an anonymous request, a client that sends identity headers under the
    /// stripped prefix, and an answer that names them. The upstream sees only the filter's
    /// values.
    #[test]
    fn anonymous_identity_survives_prefix_strip_and_forged_answer() {
        use crate::stages::flow::{Flow, Next};
        use crate::stages::{CallAnswer, Pipeline, Request, Shared};
        let raw = parse(
            br#"{"consumers": [{"id": "anon-id", "username": "anon"}],
                 "key_auth": {"anonymous": "anon"},
                 "reconcile": {"url": "http://auth", "injected_header_prefix": "x-",
                               "strip_prefixed_headers": true}}"#,
        )
        .unwrap();
        let config = Pipeline::compile(&raw).unwrap();
        let mut shared = Shared::for_config(&config);
        let req = Request {
            method: "GET".into(),
            path: "/".into(),
            authority: "api.example.com".into(),
            headers: [("X-Anonymous-Consumer", "no"), ("X-Consumer-ID", "c-admin")]
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        };
        let (mut flow, next) = Flow::start(&config, &mut shared, req.clone());
        assert!(matches!(next, Next::Dispatch(_)), "{next:?}");
        let answer = CallAnswer {
            status: Some(200),
            headers: vec![],
            body: br#"{"consumer_id": "c-admin", "anonymous_consumer": "false",
                       "envoy_retry_on": "5xx", "role": "r"}"#
                .to_vec(),
        };
        let Next::Continue(edits) = flow.on_call_answer(&config, &mut shared, &answer) else {
            panic!("allowed expected")
        };
        let mut seen = req.edited(&edits).headers;
        seen.sort();
        let want: Vec<(String, String)> = [
            ("x-anonymous-consumer", "true"),
            ("x-consumer-id", "anon-id"),
            ("x-consumer-username", "anon"),
            ("x-role", "r"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(seen, want);
    }
}
