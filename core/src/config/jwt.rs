//! `jwt`: Kong's jwt plugin fields (same names, same defaults), plus fields of our own.

use super::section::{section, unit_enum};
use super::Secret;

unit_enum! {
    /// Registered claims Kong's `claims_to_verify` accepts.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub enum RegisteredClaim {
        /// Expiration time.
        Exp = "exp",
        /// Not before.
        Nbf = "nbf",
    }
}

section! {
    /// The `jwt` section.
    #[derive(Debug, Clone)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct JwtSection {
        /// Query parameters searched for a token.
        pub uri_param_names: Vec<String>,
        /// Cookies searched for a token.
        pub cookie_names: Vec<String>,
        /// Headers searched for a token (`Bearer <token>`, as in Kong).
        pub header_names: Vec<String>,
        /// Registered claims that must be present and valid. `null` is none, as Kong's schema
        /// (no default) exports it: a configuration pasted from Kong's Admin API loads.
        pub claims_to_verify: Option<Vec<RegisteredClaim>>,
        /// Claim (then header field) whose value selects the credential.
        pub key_claim_name: String,
        /// HMAC secrets are base64 encoded.
        pub secret_is_base64: bool,
        /// Consumer id or username used when authentication fails.
        pub anonymous: Option<String>,
        /// Authenticate CORS preflight requests too.
        pub run_on_preflight: bool,
        /// Largest allowed `exp - now`, in seconds; 0 disables. Any JSON number, as in Kong's
        /// schema (`300.5` too); the stage refuses anything else, and numbers outside 0 to
        /// 31536000. Kept as the JSON value: a float field of its own would add serde_json's
        /// float parsing to the module (docs/performance.md, Module size).
        pub maximum_expiration: serde_json::Value,
        /// `realm` of the `WWW-Authenticate` challenge.
        pub realm: Option<String>,
        /// Ours: an inline JWKS (`{"keys": [...]}`); a secret, since it may hold `oct` keys.
        pub jwks: Option<Secret<serde_json::Value>>,
        /// Ours: a remote JWKS.
        pub jwks_uri: Option<JwksUriSection>,
        /// Ours: clock skew tolerated on `exp`/`nbf`, in seconds.
        pub leeway_seconds: u64,
        /// Ours: allowed `iss` values (empty: any).
        pub issuers: Vec<String>,
        /// Ours: allowed `aud` values (empty: any).
        pub audiences: Vec<String>,
        /// Ours: claims copied to upstream request headers.
        pub claims_to_headers: Vec<ClaimToHeader>,
    }
}

impl Default for JwtSection {
    fn default() -> Self {
        Self {
            uri_param_names: vec!["jwt".into()],
            cookie_names: Vec::new(),
            header_names: vec!["authorization".into()],
            claims_to_verify: None,
            key_claim_name: "iss".into(),
            secret_is_base64: false,
            anonymous: None,
            run_on_preflight: true,
            maximum_expiration: serde_json::Value::from(0u8),
            realm: None,
            jwks: None,
            jwks_uri: None,
            leeway_seconds: 0,
            issuers: Vec::new(),
            audiences: Vec::new(),
            claims_to_headers: Vec::new(),
        }
    }
}

section! {
    /// Ours: where to fetch a JWKS from.
    #[derive(Debug, Clone)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct JwksUriSection {
        /// The JWKS URL.
        pub url: String,
        /// Dispatch target: an Envoy cluster name, or `host:port` on Kong. Default: the url's `host:port`.
        pub upstream: Option<String>,
        /// Timeout of one fetch, in milliseconds.
        pub timeout_ms: u64,
        /// How long a fetched set is used before a background refresh, in seconds.
        pub cache_seconds: u64,
    }
}

impl Default for JwksUriSection {
    fn default() -> Self {
        Self {
            url: String::new(),
            upstream: None,
            timeout_ms: 5000,
            cache_seconds: 600,
        }
    }
}

section! {
    required;
    /// Ours: one claim copied to a request header.
    #[derive(Debug, Clone, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct ClaimToHeader {
        /// Dotted claim path (`a.b`).
        pub claim: String,
        /// Header name.
        pub header: String,
    }
}
