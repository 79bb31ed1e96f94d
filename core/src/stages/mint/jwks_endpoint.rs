//! The filter's own JWKS: a GET on the configured path answers the public keys of the signing
//! keys plus `previous_keys`, and never reaches the upstream. HMAC secrets are never published.

use super::keys::Signer;
use crate::config::{ConfigError, JwksEndpointSection};
use crate::jose::{Jwk, OctKeyEncoding};
use crate::stages::{LocalResponse, Request};
use serde_json::{json, Value};

/// Private JWK members (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2); a published key must
/// hold none.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The compiled `jwks_endpoint` section: the path and the ready-made reply body.
#[derive(Debug, Clone)]
pub struct JwksEndpoint {
    path: String,
    body: Vec<u8>,
}

/// Compiles the endpoint over the configured signers.
pub fn compile(
    section: &JwksEndpointSection,
    signers: &[&Signer],
) -> Result<JwksEndpoint, ConfigError> {
    if !section.path.starts_with('/') {
        return Err(ConfigError::new("jwks_endpoint.path", "must start with /"));
    }
    let mut keys: Vec<Value> = signers
        .iter()
        .filter_map(|s| s.public_jwk.clone())
        .collect();
    for (i, key) in section.previous_keys.iter().enumerate() {
        let path = format!("jwks_endpoint.previous_keys[{i}]");
        let object = key
            .as_object()
            .ok_or_else(|| ConfigError::new(&path, "must be a JWK object"))?;
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
            return Err(ConfigError::new(
                &path,
                format!("holds private or secret member {m:?}: only public keys are published"),
            ));
        }
        // Published as rebuilt from its public key (plus `kid`, `alg`, `use`), never as
        // written: a member the parser does not know could still carry a secret.
        let public = Jwk::from_value(key, OctKeyEncoding::Base64Url)
            .and_then(|jwk| jwk.to_public_json())
            .map_err(|e| ConfigError::new(&path, e.to_string()))?;
        keys.push(Value::Object(public));
    }
    Ok(JwksEndpoint {
        path: section.path.clone(),
        body: json!({ "keys": keys }).to_string().into_bytes(),
    })
}

impl JwksEndpoint {
    /// The reply when the request is on the endpoint's path: the JWKS for `GET` and `HEAD`,
    /// the CORS preflight's answer for `OPTIONS` (browsers, jwt.io, fetch a `jku` across
    /// origins: the x-custom-jwt README serves it with Kong's CORS plugin, `origins: *`).
    /// Public keys only, so any origin may read them.
    pub fn serve(&self, req: &Request) -> Option<LocalResponse> {
        if req.path_only() != self.path {
            return None;
        }
        let any_origin = ("access-control-allow-origin".to_string(), "*".to_string());
        match req.method.as_str() {
            "GET" | "HEAD" => Some(LocalResponse {
                status: 200,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("cache-control".into(), "public, max-age=300".into()),
                    any_origin,
                ],
                body: self.body.clone(),
            }),
            "OPTIONS" => Some(LocalResponse {
                status: 204,
                headers: vec![
                    any_origin,
                    (
                        "access-control-allow-methods".into(),
                        "GET, HEAD, OPTIONS".into(),
                    ),
                    ("access-control-max-age".into(), "86400".into()),
                ],
                body: Vec::new(),
            }),
            _ => None,
        }
    }
}
