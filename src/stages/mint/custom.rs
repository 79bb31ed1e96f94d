//! x-custom-jwt: a token minted from whatever credential came in, signed with a private JWK.
//!
//! The credential is what an authentication stage verified (a JWT's claims, a basic-auth user,
//! an API key), else the mTLS subject DN (verified by the TLS layer). Only with
//! `allow_unverified_credentials` does it fall back, as the plugin did, to credentials nobody
//! verified: a Bearer payload whose signature was not checked, a Basic user without a password
//! check, an API key header. That fallback lets any client choose its claims: insecure.

use super::keys::{self, Signer};
use crate::config::{ConfigError, CustomJwtSection};
use crate::jose::{self, JwsHeader, OctKeyEncoding};
use crate::stages::auth::{bearer, Identity, Via};
use crate::stages::{LocalResponse, Request};
use serde_json::{json, Map, Value};

const NOT_AUTHORIZED: &str = "You are not authorized to access to this service";

/// The compiled `custom_jwt` section.
#[derive(Debug, Clone)]
pub struct CustomJwt {
    apikey_header: String,
    clientid_claim: String,
    upstream_header: String,
    downstream_header: Option<String>,
    expires_in: u64,
    iss: Option<String>,
    jku: Option<String>,
    verbose: bool,
    allow_unverified: bool,
    /// The signing key.
    pub signer: Signer,
}

/// Where the client identity came from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Bearer(Map<String, Value>),
    Basic(String),
    Dn(String),
    ApiKey(String),
}

/// A minted token and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    /// Request header name and value for the upstream.
    pub upstream: (String, String),
    /// Response header echoing the token, when configured.
    pub downstream: Option<(String, String)>,
}

/// Compiles the section; the key must be a private JWK with an `alg`.
pub fn compile(section: &CustomJwtSection) -> Result<CustomJwt, ConfigError> {
    let jwk = section
        .private_jwk
        .as_ref()
        .ok_or_else(|| ConfigError::new("custom_jwt.private_jwk", "missing field"))?;
    let oct = if section.k_verbatim {
        OctKeyEncoding::Verbatim
    } else {
        OctKeyEncoding::Base64Url
    };
    let signer = keys::from_jwk(jwk.expose(), None, oct, "custom_jwt.private_jwk")?;
    if section.expires_in == 0 {
        return Err(ConfigError::new(
            "custom_jwt.expires_in",
            "must be greater than 0",
        ));
    }
    Ok(CustomJwt {
        apikey_header: section.apikey_header.to_ascii_lowercase(),
        clientid_claim: section.bearer_clientid_claim.clone(),
        upstream_header: section.upstream_custom_jwt_header.to_ascii_lowercase(),
        downstream_header: section
            .downstream_custom_jwt_header
            .as_ref()
            .map(|h| h.to_ascii_lowercase()),
        expires_in: section.expires_in,
        iss: section.iss.clone(),
        jku: section.jku.clone(),
        verbose: section.verbose,
        allow_unverified: section.allow_unverified_credentials,
        signer,
    })
}

impl CustomJwt {
    /// Mints the token for this request, or the plugin's 401.
    pub fn mint(
        &self,
        req: &Request,
        identity: Option<&Identity>,
    ) -> Result<Minted, LocalResponse> {
        let source = self.source(req, identity).map_err(|why| self.deny(why))?;
        let claims = self.claims(req, identity, source);
        let mut header = JwsHeader::new(self.signer.alg);
        if let Some(kid) = &self.signer.kid {
            header = header.with_kid(kid.clone());
        }
        if let Some(jku) = &self.jku {
            header = header.with_jku(jku.clone());
        }
        let token = jose::jws::sign(&header, &claims, &self.signer.key)
            .map_err(|_| self.deny("The token could not be signed"))?;
        let value = if self.upstream_header == "authorization" {
            format!("Bearer {token}")
        } else {
            token.clone()
        };
        Ok(Minted {
            upstream: (self.upstream_header.clone(), value),
            downstream: self.downstream_header.clone().map(|h| (h, token)),
        })
    }

    fn source(&self, req: &Request, identity: Option<&Identity>) -> Result<Source, &'static str> {
        if let Some(id) = identity {
            match &id.via {
                Via::Jwt { claims } => return Ok(Source::Bearer(claims.clone())),
                Via::Basic { username } => return Ok(Source::Basic(username.clone())),
                // Only the key key-auth verified, never another header the client added; a
                // hidden key stays hidden: the credential's id stands for it.
                Via::ApiKey { key } => {
                    let client_id = key
                        .as_ref()
                        .map(|k| k.expose().clone())
                        .or_else(|| id.credential.clone())
                        .or_else(|| id.consumer.as_ref().and_then(|c| c.id.clone()));
                    return client_id
                        .map(Source::ApiKey)
                        .ok_or("The API key could not be read");
                }
                Via::Anonymous => {}
            }
        }
        if let Some(dn) = &req.client_dn {
            return Ok(Source::Dn(dn.clone()));
        }
        if !self.allow_unverified {
            return Err("No verified credential was found in the request");
        }
        self.unverified(req)
    }

    /// x-custom-jwt's own precedence over credentials nobody verified (opt-in, insecure).
    fn unverified(&self, req: &Request) -> Result<Source, &'static str> {
        let auth = req.header("authorization");
        if let Some(token) = auth.and_then(bearer) {
            let jws =
                jose::jws::parse(&token).map_err(|_| "The Bearer token could not be decoded")?;
            return Ok(Source::Bearer(jws.into_claims()));
        }
        if let Some((user, _)) = auth.and_then(crate::stages::auth::parse_basic) {
            return Ok(Source::Basic(user));
        }
        match req.header(&self.apikey_header) {
            Some(key) if !key.is_empty() => Ok(Source::ApiKey(key.to_string())),
            _ => Err("No credential was found in the request"),
        }
    }

    fn claims(
        &self,
        req: &Request,
        identity: Option<&Identity>,
        source: Source,
    ) -> Map<String, Value> {
        let (mut claims, client_id) = match source {
            Source::Bearer(payload) => {
                let id = payload
                    .get(&self.clientid_claim)
                    .cloned()
                    .unwrap_or(Value::Null);
                (payload, id)
            }
            Source::Basic(user) => (Map::new(), Value::from(user)),
            Source::Dn(dn) => (Map::new(), Value::from(dn)),
            Source::ApiKey(key) => (Map::new(), Value::from(key)),
        };
        claims.insert("client_id".into(), client_id);
        match &self.iss {
            Some(iss) => claims.insert("iss".into(), Value::from(iss.clone())),
            None => claims.remove("iss"),
        };
        claims.insert("iat".into(), Value::from(req.now));
        claims.insert(
            "exp".into(),
            Value::from(req.now.saturating_add(self.expires_in)),
        );
        claims.insert(
            "aud".into(),
            Value::from(format!(
                "{}://{}{}",
                req.scheme,
                req.authority,
                req.path_only()
            )),
        );
        claims.insert("jti".into(), Value::from(uuid::Uuid::new_v4().to_string()));
        let actor = identity
            .and_then(|i| i.consumer.as_ref())
            .and_then(|c| c.custom_id.clone().or_else(|| c.id.clone()));
        match actor {
            Some(a) => claims.insert("act".into(), json!({ "client_id": a })),
            None => claims.remove("act"),
        };
        claims
    }

    fn deny(&self, why: &str) -> LocalResponse {
        let body = if self.verbose {
            json!({ "ErrorMessage": NOT_AUTHORIZED, "VerboseMessage": why })
        } else {
            json!({ "ErrorMessage": NOT_AUTHORIZED })
        };
        LocalResponse::json(401, &body)
    }
}
