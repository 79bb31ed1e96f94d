//! kong-upstream-jwt: a gateway-signed token for the upstream, carrying `payloadhash` (SHA-256
//! of the exact body the upstream receives) so it can tell the request came through untouched.
//! Fixed where the plugin was not: `x5c` is standard base64 DER of the whole chain with
//! `x5t#S256`, and a missing or bad key refuses the configuration.

use super::keys::{self, Signer};
use crate::config::{ConfigError, UpstreamJwtSection};
use crate::jose::{self, Algorithm, JwsHeader, OctKeyEncoding};
use crate::stages::auth::Identity;
use crate::stages::{LocalResponse, Request};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The compiled `upstream_jwt` section.
#[derive(Debug, Clone)]
pub struct UpstreamJwt {
    issuer: Option<String>,
    header: String,
    bearer_prefix: bool,
    chain: Option<Vec<Vec<u8>>>,
    expires_in: u64,
    bind_request: bool,
    /// Largest body hashed; more is answered with 413.
    pub max_body_bytes: u64,
    /// The signing key.
    pub signer: Signer,
}

/// Compiles the section: the key must parse and suit `algorithm`; `x5c` needs a certificate.
pub fn compile(section: &UpstreamJwtSection) -> Result<UpstreamJwt, ConfigError> {
    let path = "upstream_jwt.private_key";
    let alg: Algorithm = section
        .algorithm
        .parse()
        .map_err(|_| ConfigError::new("upstream_jwt.algorithm", "unknown algorithm"))?;
    let key = section
        .private_key
        .as_ref()
        .ok_or_else(|| ConfigError::new(path, "missing field"))?;
    let mut signer = match key.expose() {
        Value::String(text) if text.contains("-----BEGIN") => {
            keys::from_pem(text, alg, section.key_id.clone(), path)?
        }
        other => keys::from_jwk(other, Some(alg), OctKeyEncoding::Base64Url, path)?,
    };
    if let Some(kid) = &section.key_id {
        signer.kid = Some(kid.clone());
        if let Some(Value::Object(jwk)) = signer.public_jwk.as_mut() {
            jwk.insert("kid".into(), Value::from(kid.clone()));
        }
    }
    let chain = match (&section.certificate, section.x5c) {
        (Some(pem), true) => Some(keys::chain(pem, "upstream_jwt.certificate")?),
        (None, true) => {
            return Err(ConfigError::new(
                "upstream_jwt.certificate",
                "required while x5c is true",
            ))
        }
        (_, false) => None,
    };
    if section.max_body_bytes == 0 {
        return Err(ConfigError::new(
            "upstream_jwt.max_body_bytes",
            "must be greater than 0",
        ));
    }
    Ok(UpstreamJwt {
        issuer: section.issuer.clone(),
        header: section.header.to_ascii_lowercase(),
        bearer_prefix: section.include_credential_type,
        chain,
        expires_in: section.expires_in,
        bind_request: section.bind_request,
        max_body_bytes: section.max_body_bytes,
        signer,
    })
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl UpstreamJwt {
    /// The header and value carrying the token; `payload_hash` is the body's SHA-256.
    pub fn mint(
        &self,
        req: &Request,
        identity: Option<&Identity>,
        payload_hash: &[u8],
    ) -> Result<(String, String), LocalResponse> {
        let claims = self.claims(req, identity, payload_hash);
        let mut header = JwsHeader::new(self.signer.alg);
        if let Some(kid) = &self.signer.kid {
            header = header.with_kid(kid.clone());
        }
        if let Some(chain) = &self.chain {
            header = header.with_certificate_chain(chain);
        }
        let token = jose::jws::sign(&header, &claims, &self.signer.key).map_err(|_| {
            LocalResponse::json(500, &json!({"message": "An unexpected error occurred"}))
        })?;
        let value = if self.bearer_prefix {
            format!("Bearer {token}")
        } else {
            token
        };
        Ok((self.header.clone(), value))
    }

    fn claims(
        &self,
        req: &Request,
        identity: Option<&Identity>,
        payload_hash: &[u8],
    ) -> Map<String, Value> {
        let mut claims = Map::new();
        if let Some(iss) = &self.issuer {
            claims.insert("iss".into(), Value::from(iss.clone()));
        }
        claims.insert("iat".into(), Value::from(req.now));
        claims.insert(
            "exp".into(),
            Value::from(req.now.saturating_add(self.expires_in)),
        );
        claims.insert("jti".into(), Value::from(uuid::Uuid::new_v4().to_string()));
        if let Some(service) = &req.service {
            claims.insert("aud".into(), Value::from(service.clone()));
        }
        if let Some(c) = identity.and_then(|i| i.consumer.as_ref()) {
            if let Some(id) = &c.id {
                claims.insert("consumerid".into(), Value::from(id.clone()));
            }
            if let Some(name) = &c.username {
                claims.insert("consumername".into(), Value::from(name.clone()));
            }
        }
        claims.insert("payloadhash".into(), Value::from(hex(payload_hash)));
        if self.bind_request {
            claims.insert("method".into(), Value::from(req.method.clone()));
            claims.insert("path".into(), Value::from(req.path_only()));
            claims.insert(
                "queryhash".into(),
                Value::from(hex(&Sha256::digest(req.query().as_bytes()))),
            );
        }
        claims
    }
}
