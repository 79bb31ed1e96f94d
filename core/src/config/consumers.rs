//! `consumers`: the same shape as the `consumers` of a Kong declarative `kong.yml`.

use super::section::section;
use super::Secret;

section! {
    /// One consumer with its credentials. `id` or `username` must identify it.
    #[derive(Debug, Clone, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct ConsumerSection {
        /// Kong consumer id (`X-Consumer-ID`); without it, the id Kong derives from `username`.
        pub id: Option<String>,
        /// Kong consumer username (`X-Consumer-Username`).
        pub username: Option<String>,
        /// Kong consumer custom_id (`X-Consumer-Custom-ID`).
        pub custom_id: Option<String>,
        /// Accepted so pasted Kong declarations load; not used.
        pub tags: Option<Vec<String>>,
        /// Credentials of Kong's jwt plugin.
        pub jwt_secrets: Vec<JwtSecretSection>,
        /// Credentials of Kong's key-auth plugin.
        pub keyauth_credentials: Vec<KeyAuthCredentialSection>,
        /// Credentials of Kong's basic-auth plugin.
        pub basicauth_credentials: Vec<BasicAuthCredentialSection>,
    }
}

section! {
    /// A Kong `jwt_secrets` entry.
    #[derive(Debug, Clone, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct JwtSecretSection {
        /// Accepted so pasted Kong declarations load; not used.
        pub id: Option<String>,
        /// The value of the key claim (`iss` by default) that selects this credential.
        pub key: Option<String>,
        /// JWS algorithm; Kong's default is HS256.
        pub algorithm: Option<String>,
        /// HMAC secret (HS*).
        pub secret: Option<Secret<String>>,
        /// PEM public key for every asymmetric algorithm (RS*, PS*, ES*, EdDSA).
        pub rsa_public_key: Option<String>,
        /// Accepted so pasted Kong declarations load; not used.
        pub tags: Option<Vec<String>>,
    }
}

section! {
    /// A Kong `keyauth_credentials` entry.
    #[derive(Debug, Clone, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct KeyAuthCredentialSection {
        /// `X-Credential-Identifier`; without it none is sent (Kong's would be random).
        pub id: Option<String>,
        /// The API key.
        pub key: Option<Secret<String>>,
        /// Accepted so pasted Kong declarations load; not used.
        pub tags: Option<Vec<String>>,
    }
}

section! {
    /// A Kong `basicauth_credentials` entry.
    #[derive(Debug, Clone, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct BasicAuthCredentialSection {
        /// Accepted so pasted Kong declarations load; not used.
        pub id: Option<String>,
        /// Basic-auth user name.
        pub username: Option<String>,
        /// Basic-auth password (held only as a hash after load).
        pub password: Option<Secret<String>>,
        /// Accepted so pasted Kong declarations load; not used.
        pub tags: Option<Vec<String>>,
    }
}
