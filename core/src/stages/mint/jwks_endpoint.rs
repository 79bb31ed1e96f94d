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
    let mut keys: Vec<Value> = Vec::new();
    for jwk in signers.iter().filter_map(|s| s.public_jwk.clone()) {
        publish(&mut keys, jwk, "jwks_endpoint")?;
    }
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
        publish(&mut keys, Value::Object(public), &path)?;
    }
    Ok(JwksEndpoint {
        path: section.path.clone(),
        body: json!({ "keys": keys }).to_string().into_bytes(),
    })
}

/// Adds `key` to the published set. A second copy of a key already in it (the current key
/// also listed among `previous_keys`) is dropped; the same key and `kid` under another `alg`
/// or `use` (a key kept across an algorithm's change) is published too, as verifiers matching
/// a JWK's `alg` need; another key under a `kid` already published is refused, since a
/// verifier picking its key by `kid` would take one for the other (RFC 7517 §4.5 asks
/// distinct keys of a set for distinct `kid`s).
fn publish(keys: &mut Vec<Value>, key: Value, path: &str) -> Result<(), ConfigError> {
    let kid = key.get("kid").and_then(Value::as_str);
    for held in keys.iter() {
        let same = |members: &[&str]| members.iter().all(|m| held.get(m) == key.get(m));
        if same(&KEY_MEMBERS) {
            if same(&["alg", "use"]) {
                return Ok(());
            }
        } else if kid.is_some() && held.get("kid").and_then(Value::as_str) == kid {
            let problem = "publishes another key under a kid already published (the two \
                mint stages' keys, or a previous key): give each key its own kid";
            return Err(ConfigError::new(path, problem));
        }
    }
    keys.push(key);
    Ok(())
}

/// The members naming a public key and its `kid`: equal in two JWKs, they are one key.
const KEY_MEMBERS: [&str; 7] = ["kty", "crv", "n", "e", "x", "y", "kid"];

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ec(x: &str, kid: &str) -> Value {
        json!({"kty": "EC", "crv": "P-256", "x": x, "y": "Y", "kid": kid, "alg": "ES256"})
    }

    #[test]
    fn publish_refuses_a_second_key_under_a_kid_and_drops_a_second_copy() {
        let mut keys = Vec::new();
        publish(&mut keys, ec("A", "k1"), "p").unwrap();
        // The same key again: published once; under another `alg`, published too.
        publish(&mut keys, ec("A", "k1"), "p").unwrap();
        assert_eq!(keys, [ec("A", "k1")]);
        let mut other_alg = ec("A", "k1");
        other_alg["alg"] = json!("ES384");
        publish(&mut keys, other_alg.clone(), "p").unwrap();
        assert_eq!(keys, [ec("A", "k1"), other_alg]);
        keys.pop();
        // Another key under `k1`, whatever its type: refused, naming the path.
        for other in [
            ec("B", "k1"),
            json!({"kty": "RSA", "n": "N", "e": "AQAB", "kid": "k1"}),
        ] {
            let err = publish(&mut keys, other, "jwks_endpoint.previous_keys[1]").unwrap_err();
            assert!(
                err.to_string().starts_with(
                    "jwks_endpoint.previous_keys[1]: publishes another key under a kid"
                ),
                "{err}"
            );
        }
        // Other kids, and keys without one, are published.
        publish(&mut keys, ec("B", "k2"), "p").unwrap();
        publish(
            &mut keys,
            json!({"kty": "OKP", "crv": "Ed25519", "x": "C"}),
            "p",
        )
        .unwrap();
        publish(
            &mut keys,
            json!({"kty": "OKP", "crv": "Ed25519", "x": "D"}),
            "p",
        )
        .unwrap();
        assert_eq!(keys.len(), 4);
    }
}
