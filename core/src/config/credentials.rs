//! `key_auth` and `basic_auth`: Kong's key-auth and basic-auth against `consumers`.

use super::section::section;

/// Default `key_auth.max_body_bytes`: 1 MiB (Envoy's default request buffer). Every field of a
/// body read for a key is parsed before the request is decided, so the cap is smaller than the
/// 8 MiB of the stages that read an authenticated request's body.
pub const DEFAULT_KEY_BODY_BYTES: u64 = 1024 * 1024;

section! {
    /// The `key_auth` section (Kong key-auth).
    #[derive(Debug, Clone)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct KeyAuthSection {
        /// Header or query parameter names that carry the key.
        pub key_names: Vec<String>,
        /// Remove the key from the request before proxying.
        pub hide_credentials: bool,
        /// Consumer id or username used when authentication fails.
        pub anonymous: Option<String>,
        /// Look for the key in request headers.
        pub key_in_header: bool,
        /// Look for the key in the query string.
        pub key_in_query: bool,
        /// Look for the key in a form or JSON body too; with `hide_credentials` the key's field is
        /// cut out of the body.
        pub key_in_body: bool,
        /// Ours: with `key_in_body`, the largest body read for a key (more is 413).
        pub max_body_bytes: u64,
        /// Authenticate CORS preflight (`OPTIONS`) requests too.
        pub run_on_preflight: bool,
        /// `realm` of the `WWW-Authenticate: Key` challenge (Kong 3.7+); none: plain `Key`.
        pub realm: Option<String>,
    }
}

impl Default for KeyAuthSection {
    fn default() -> Self {
        Self {
            key_names: vec!["apikey".into()],
            hide_credentials: false,
            anonymous: None,
            key_in_header: true,
            key_in_query: true,
            key_in_body: false,
            max_body_bytes: DEFAULT_KEY_BODY_BYTES,
            run_on_preflight: true,
            realm: None,
        }
    }
}

section! {
    /// The `basic_auth` section (Kong basic-auth).
    #[derive(Debug, Clone)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct BasicAuthSection {
        /// Remove the `Authorization` header before proxying.
        pub hide_credentials: bool,
        /// `realm` of the `WWW-Authenticate` challenge.
        pub realm: String,
        /// Consumer id or username used when authentication fails.
        pub anonymous: Option<String>,
    }
}

impl Default for BasicAuthSection {
    fn default() -> Self {
        Self {
            hide_credentials: false,
            realm: "service".into(),
            anonymous: None,
        }
    }
}
