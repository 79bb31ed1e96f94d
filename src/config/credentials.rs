//! `key_auth` and `basic_auth`: Kong's key-auth and basic-auth against `consumers`.

use serde::Deserialize;

/// The `key_auth` section (Kong key-auth).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct KeyAuthSection {
    /// Header or query parameter names that carry the key.
    pub key_names: Vec<String>,
    /// Remove the key from the request before proxying.
    pub hide_credentials: bool,
    /// Consumer id or username used when authentication fails.
    pub anonymous: Option<String>,
}

impl Default for KeyAuthSection {
    fn default() -> Self {
        Self {
            key_names: vec!["apikey".into()],
            hide_credentials: false,
            anonymous: None,
        }
    }
}

/// The `basic_auth` section (Kong basic-auth).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuthSection {
    /// Remove the `Authorization` header before proxying.
    pub hide_credentials: bool,
    /// `realm` of the `WWW-Authenticate` challenge.
    pub realm: String,
    /// Consumer id or username used when authentication fails.
    pub anonymous: Option<String>,
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
