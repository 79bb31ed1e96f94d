//! `custom_jwt` (x-custom-jwt) and `upstream_jwt` (kong-upstream-jwt): tokens minted for the upstream.

use super::section::{section, unit_enum};
use super::Secret;

section! {
    /// The `custom_jwt` section: x-custom-jwt's fields, same names and defaults.
    #[derive(Debug, Clone)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct CustomJwtSection {
        /// Header carrying an API key.
        pub apikey_header: String,
        /// Claim of a Bearer token that names the client.
        pub bearer_clientid_claim: String,
        /// Header that carries the minted token upstream (`Authorization` adds `Bearer `).
        pub upstream_custom_jwt_header: String,
        /// Header that echoes the minted token on the response.
        pub downstream_custom_jwt_header: Option<String>,
        /// Token lifetime in seconds.
        pub expires_in: u64,
        /// `iss` claim (`null`: none).
        pub iss: Option<String>,
        /// `jku` header (`null`: none).
        pub jku: Option<String>,
        /// Ours: `aud` where the host has no service URL (Envoy); Kong takes the route's service.
        pub audience: Option<String>,
        /// Signing key: a JWK object or its JSON text.
        pub private_jwk: Option<Secret<serde_json::Value>>,
        /// Add `VerboseMessage` to error answers.
        pub verbose: bool,
        /// Ours: without a verifying stage, take the credential from the request unverified
        /// (what x-custom-jwt did; insecure, off by default).
        pub allow_unverified_credentials: bool,
        /// Ours: use an `oct` key's `k` text verbatim as the secret (x-custom-jwt does, so it is
        /// the default); `false` base64url-decodes it as RFC 7518 says.
        pub k_verbatim: bool,
    }
}

impl Default for CustomJwtSection {
    fn default() -> Self {
        Self {
            apikey_header: "apikey".into(),
            bearer_clientid_claim: "clientId".into(),
            upstream_custom_jwt_header: "X-Custom-Jwt".into(),
            downstream_custom_jwt_header: None,
            expires_in: 1800,
            iss: Some("https://kong-gateway:8443/x-custom-jwt".into()),
            jku: Some("https://kong-gateway:8443/x-custom-jwt/jwks".into()),
            audience: None,
            private_jwk: None,
            verbose: false,
            allow_unverified_credentials: false,
            k_verbatim: true,
        }
    }
}

unit_enum! {
    /// `payloadhash` of a request without a body (`upstream_jwt.empty_body_payloadhash`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub enum EmptyBodyHash {
        /// `""`, as kong-upstream-jwt's code sends it.
        #[default]
        Empty = "empty",
        /// The SHA-256 hex of the empty string, as the plugin's README promised.
        Sha256 = "sha256",
    }
}

unit_enum! {
    /// How `x5c` is written (`upstream_jwt.x5c_format`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub enum X5cFormat {
        /// The whole chain, standard base64 DER (RFC 7515 §4.1.6), with `x5t#S256`.
        #[default]
        Rfc7515 = "rfc7515",
        /// The leaf alone, base64url without padding, no `x5t#S256`: what kong-upstream-jwt sent,
        /// for upstreams written to read that.
        Plugin = "plugin",
    }
}

section! {
    /// The `upstream_jwt` section: kong-upstream-jwt's fields plus inline keys of our own.
    #[derive(Debug, Clone)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct UpstreamJwtSection {
        /// `iss` claim; when set, `iat` too (as the plugin).
        pub issuer: Option<String>,
        /// `kid` header.
        pub key_id: Option<String>,
        /// Header that carries the token upstream.
        pub header: String,
        /// Prefix the token with `Bearer `.
        pub include_credential_type: bool,
        /// Ours: signing key, inline PEM or a JWK.
        pub private_key: Option<Secret<serde_json::Value>>,
        /// Ours: name of an environment variable holding the signing key (PEM, or standard base64
        /// of DER), read at configure time; in place of `private_key`.
        pub private_key_env: Option<String>,
        /// Ours: inline PEM certificate chain for `x5c`.
        pub certificate: Option<String>,
        /// Ours: name of an environment variable holding the certificate (PEM chain, or standard
        /// base64 of one DER certificate), read at configure time; in place of `certificate`.
        pub certificate_env: Option<String>,
        /// Ours: token lifetime in seconds.
        pub expires_in: u64,
        /// Ours: add `x5c` and `x5t#S256` headers.
        pub x5c: bool,
        /// Ours: signing algorithm.
        pub algorithm: String,
        /// Ours: largest request body hashed; larger gets 413.
        pub max_body_bytes: u64,
        /// Ours: add `method`, `path` and `queryhash` claims.
        pub bind_request: bool,
        /// Ours: `payloadhash` of an empty body: `""` (the plugin's code) or the SHA-256 of "".
        pub empty_body_payloadhash: EmptyBodyHash,
        /// Ours: how `x5c` is written.
        pub x5c_format: X5cFormat,
    }
}

impl Default for UpstreamJwtSection {
    fn default() -> Self {
        Self {
            issuer: None,
            key_id: None,
            header: "JWT".into(),
            include_credential_type: false,
            private_key: None,
            private_key_env: None,
            certificate: None,
            certificate_env: None,
            expires_in: 60,
            x5c: true,
            algorithm: "RS256".into(),
            max_body_bytes: super::DEFAULT_MAX_BODY_BYTES,
            bind_request: false,
            empty_body_payloadhash: EmptyBodyHash::Empty,
            x5c_format: X5cFormat::Rfc7515,
        }
    }
}

section! {
    /// The `jwks_endpoint` section: the filter serves its own public keys.
    #[derive(Debug, Clone)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct JwksEndpointSection {
        /// Request path answered with the JWKS.
        pub path: String,
        /// Public JWKs still valid during a key rotation.
        pub previous_keys: Vec<serde_json::Value>,
    }
}

impl Default for JwksEndpointSection {
    fn default() -> Self {
        Self {
            path: "/.well-known/jwks.json".into(),
            previous_keys: Vec::new(),
        }
    }
}
