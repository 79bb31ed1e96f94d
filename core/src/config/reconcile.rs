//! `reconcile`: jwt-reconcile's fields (same names, same defaults), plus fields of our own.

use super::section::{section, unit_enum};

unit_enum! {
    /// Method of the call to the auth service.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub enum CallMethod {
        /// `POST` (the plugin's default).
        #[default]
        Post = "POST",
        /// `GET`, still carrying the JSON body as the plugin does.
        Get = "GET",
    }
}

section! {
    /// The `reconcile` section.
    #[derive(Debug, Clone)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct ReconcileSection {
        /// Auth service base URL (required).
        pub url: Option<String>,
        /// Path of the call: replaces the url's path (the url's query is kept).
        pub path: String,
        /// Call method.
        pub method: CallMethod,
        /// Milliseconds, a number from 0 (fractions cut, as nginx's socket timeouts take
        /// Kong's `number`); proxy-wasm has one timeout per call (see README).
        pub connect_timeout: serde_json::Value,
        /// Milliseconds; see `connect_timeout`.
        pub send_timeout: serde_json::Value,
        /// Milliseconds; see `connect_timeout`.
        pub read_timeout: serde_json::Value,
        /// Copy the client's headers onto the call. `null` is `false`: the plugin's schema
        /// misspells its default (`ture`, which Lua reads as nil), so Kong exports the unset
        /// field as `null` and the plugin then copies nothing; absent, it is `true`, as the
        /// plugin's README says.
        pub copy_headers: Option<bool>,
        /// Put `path` in the call body.
        pub forward_path: bool,
        /// Put `query` in the call body.
        pub forward_query: bool,
        /// Put `headers` in the call body.
        pub forward_headers: bool,
        /// Put `body` in the call body.
        pub forward_body: bool,
        /// Inject the answer's keys as request headers.
        pub inject_body_response_into_header: bool,
        /// Prefix of injected header names.
        pub injected_header_prefix: Option<String>,
        /// Also set the injected headers on the client response.
        pub streamdown_injected_headers: bool,
        /// Message of the 401 answer.
        pub message_401: String,
        /// Message of the 403 answer.
        pub message_403: String,
        /// Message of the 404 answer.
        pub message_404: String,
        /// Ours: dispatch target (Envoy cluster, or `host:port` on Kong); default the url's `host:port`.
        pub upstream: Option<String>,
        /// Ours: let the request through when the auth service cannot answer.
        pub failure_mode_allow: bool,
        /// Ours: only these answer keys may be injected.
        pub allowed_headers: Option<Vec<String>>,
        /// Ours: remove every client header under `injected_header_prefix`.
        pub strip_prefixed_headers: bool,
        /// Ours: seconds an answer is cached; 0 disables.
        pub cache_seconds: u64,
        /// Ours: largest request body read for `forward_body`.
        pub max_body_bytes: u64,
    }
}

impl Default for ReconcileSection {
    fn default() -> Self {
        Self {
            url: None,
            path: "/api/v1/auth/reconcile".into(),
            method: CallMethod::Post,
            connect_timeout: serde_json::Value::from(5000u16),
            send_timeout: serde_json::Value::from(10000u16),
            read_timeout: serde_json::Value::from(10000u16),
            copy_headers: Some(true),
            forward_path: false,
            forward_query: false,
            forward_headers: false,
            forward_body: false,
            inject_body_response_into_header: true,
            injected_header_prefix: None,
            streamdown_injected_headers: false,
            message_401: "Unauthorized".into(),
            message_403: "You don't have enough permissions to access".into(),
            message_404: "Not Found".into(),
            upstream: None,
            failure_mode_allow: false,
            allowed_headers: None,
            strip_prefixed_headers: false,
            cache_seconds: 0,
            max_body_bytes: super::DEFAULT_MAX_BODY_BYTES,
        }
    }
}
