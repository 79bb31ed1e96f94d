//! Removing client-sent copies of the headers the auth service speaks for.

use super::answer::FAILURE_MODE_HEADER;
use super::call::URL_OVERRIDE_HEADERS;
use super::compile::Reconcile;
use crate::stages::headers::canonical;
use crate::stages::{HeaderEdits, Request};

/// Removals of client headers that could pass for the auth service's, applied when the request
/// headers arrive (before the call, so also on a cache hit or a failure-mode allow):
/// - with `allowed_headers`: every client header whose name is one of them, whether or not the
///   answer will name it, so a client cannot pre-set `X-Role`;
/// - with `strip_prefixed_headers`: every client header under the dasherized
///   `injected_header_prefix` (such as `X-Auth-`); every injected name falls under it;
/// - always: the client's `X-Reconcile-Failure-Mode-Allowed`, which only the filter sets, and
///   its `X-Original-URL` and `X-Rewrite-URL` ([`URL_OVERRIDE_HEADERS`]): IIS and frameworks of
///   Symfony's lineage serve the URL they name, which the service, judging the request's own
///   target, would never see (`GET /public` with `X-Original-URL: /admin`). No value of theirs
///   is safe to pass on: even the client's own path differs from what the upstream is sent
///   after Kong's `strip_path` or Envoy's `prefix_rewrite`.
///
/// A header another configured stage sets (see [`super::compile_in`]: `X-Consumer-ID` under a
/// prefix `X-`, say) is never removed here: these removals come after that stage's value, so
/// removing the client's copy would remove the filter's value too (a client sending
/// `X-Anonymous-Consumer` would unmark the anonymous consumer), and that stage already removes
/// every client spelling of it.
///
/// Names compare case-insensitively with `_` read as `-`: some upstreams (CGI-style
/// `HTTP_X_ROLE`, frameworks that fold `_` into `-`) see `X_Role` as `X-Role`.
///
/// What stays spoofable otherwise: an injected header replaces the client's value of the same
/// name (`Set`), but without these options a header the answer omits (a user with no role gets
/// no `X-Role`) reaches the upstream as the client sent it, and so does an `_` spelling of an
/// injected name. Upstreams that trust injected headers should run with `allowed_headers` or a
/// dedicated prefix and `strip_prefixed_headers`.
pub fn strip_client_headers(rec: &Reconcile, req: &Request) -> HeaderEdits {
    let mut edits = HeaderEdits::default();
    let mut removed: Vec<&str> = Vec::new();
    for (name, _) in &req.headers {
        let normal = canonical(name);
        let answered = rec
            .allowed
            .as_ref()
            .is_some_and(|allowed| allowed.contains(&normal))
            || rec
                .stripped_prefix
                .as_ref()
                .is_some_and(|prefix| normal.starts_with(prefix.as_str()));
        let spoofable = normal == FAILURE_MODE_HEADER
            || URL_OVERRIDE_HEADERS.contains(&normal.as_str())
            || (answered && !rec.owned.contains(&normal));
        if spoofable && !removed.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            removed.push(name);
            edits.remove(name.as_str());
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{rec, request};
    use super::*;

    fn removed(extra: &str, headers: &[&str]) -> Vec<String> {
        let rec = rec(&format!(r#"{{"url": "http://a"{extra}}}"#));
        let mut req = request();
        req.headers = headers
            .iter()
            .map(|n| (n.to_string(), "v".to_string()))
            .collect();
        strip_client_headers(&rec, &req)
            .0
            .into_iter()
            .map(|edit| match edit {
                crate::stages::HeaderEdit::Remove(n) => n,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn strip_client_headers_defaults_remove_only_failure_marker() {
        assert_eq!(
            removed(
                "",
                &[
                    "x-role",
                    "authorization",
                    "x-reconcile-failure-mode-allowed"
                ]
            ),
            ["x-reconcile-failure-mode-allowed"]
        );
        assert!(removed("", &["x-role"]).is_empty());
    }

    #[test]
    fn strip_client_headers_always_removes_url_overrides_in_every_spelling() {
        assert_eq!(
            removed(
                "",
                &[
                    "X-Original-URL",
                    "x_original_url",
                    "x-rewrite-url",
                    "X.Rewrite.Url",
                    "x-original-uri",
                    "x-original-host",
                    "x-http-method-override"
                ]
            ),
            [
                "X-Original-URL",
                "x_original_url",
                "x-rewrite-url",
                "X.Rewrite.Url"
            ]
        );
    }

    #[test]
    fn strip_client_headers_allowed_names_removed_even_if_answer_omits_them() {
        assert_eq!(
            removed(
                r#", "allowed_headers": ["X-Role", "X-User-Id"]"#,
                &[
                    "x-role",
                    "X-USER-ID",
                    "x_role",
                    "x-roles",
                    "x-tenant",
                    "authorization"
                ]
            ),
            ["x-role", "X-USER-ID", "x_role"]
        );
    }

    #[test]
    fn strip_client_headers_prefix_removes_every_prefixed_header() {
        assert_eq!(
            removed(
                r#", "injected_header_prefix": "x-auth-", "strip_prefixed_headers": true"#,
                &[
                    "x-auth-role",
                    "X-Auth-User-Id",
                    "x_auth_tenant",
                    "x-authorization",
                    "x-auth",
                    "authorization"
                ]
            ),
            ["x-auth-role", "X-Auth-User-Id", "x_auth_tenant"]
        );
    }

    #[test]
    fn strip_client_headers_prefix_leaves_headers_other_stages_set() {
        let config = r#"{"key_auth": {}, "custom_jwt": {}, "reconcile": {"url": "http://a",
            "injected_header_prefix": "x-", "strip_prefixed_headers": true}}"#;
        let raw = crate::config::parse(config.as_bytes()).unwrap();
        let owning = super::super::compile_in(&raw).unwrap().unwrap();
        let names = [
            "X-Anonymous-Consumer",
            "x_consumer_id",
            "X-Custom-Jwt",
            "x-role",
            "x-envoy-retry-on",
            "x-reconcile-failure-mode-allowed",
        ];
        let mut req = request();
        req.headers = names
            .iter()
            .map(|n| (n.to_string(), "v".to_string()))
            .collect();
        let mut want = HeaderEdits::default();
        want.remove("x-role");
        want.remove("x-envoy-retry-on");
        want.remove("x-reconcile-failure-mode-allowed");
        assert_eq!(strip_client_headers(&owning, &req), want);
        // Without those stages nothing else removes the client's copies: this stage does.
        let alone = rec(
            r#"{"url": "http://a", "injected_header_prefix": "x-", "strip_prefixed_headers": true}"#,
        );
        let mut all = HeaderEdits::default();
        names.iter().for_each(|n| all.remove(*n));
        assert_eq!(strip_client_headers(&alone, &req), all);
    }

    #[test]
    fn strip_client_headers_prefix_without_flag_strips_nothing() {
        assert!(removed(r#", "injected_header_prefix": "x-auth-""#, &["x-auth-role"]).is_empty());
    }

    #[test]
    fn strip_client_headers_repeated_name_removed_once() {
        assert_eq!(
            removed(
                r#", "allowed_headers": ["X-Role"]"#,
                &["x-role", "X-Role", "x-role"]
            ),
            ["x-role"]
        );
    }
}
