//! `key_auth` and `basic_auth`: Kong's key-auth and basic-auth against `consumers`.

use super::section::section;

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
        /// Look for the key in a form or JSON body too (not with `hide_credentials`).
        pub key_in_body: bool,
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
